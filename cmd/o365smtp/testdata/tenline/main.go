// Command tenline is the program of issue 17, "Embedding in five minutes":
// its configuration is the environment, nothing else. TestTenLineProgram
// runs it with the environment that 'o365smtp emulate --env-file' writes.
package main

import (
	"context"
	"log"

	"github.com/wneessen/go-mail"

	"github.com/o365smtp/o365smtp"
)

func main() {
	cfg, err := o365smtp.ConfigFromEnv()
	if err != nil {
		log.Fatal(err)
	}
	sender, err := o365smtp.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	msg := mail.NewMsg()
	msg.To("someone@example.com")
	msg.Subject("Hello from ten lines")
	msg.SetBodyString(mail.TypeTextPlain, "Sent with ConfigFromEnv, New and Send.\n")
	if err := sender.Send(context.Background(), msg); err != nil {
		log.Fatal(err)
	}
	sender.Shutdown(context.Background())
}
