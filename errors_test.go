package o365smtp

import (
	"errors"
	"fmt"
	"net/textproto"
	"testing"
)

func TestErrorString(t *testing.T) {
	cases := []struct {
		e    *Error
		want string
	}{
		{&Error{Kind: ErrAuthFailed, Op: "auth", Code: 535, EnhancedCode: "5.7.3", Message: "Authentication unsuccessful [X]", Hint: "do this"},
			"o365smtp: auth: 535 5.7.3 Authentication unsuccessful [X]"},
		{&Error{Kind: ErrInvalidClientSecret, Op: "token", AADSTS: 7000215, Message: "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x"},
			"o365smtp: token: AADSTS7000215: Invalid client secret provided."},
		{&Error{Kind: ErrClosed}, "o365smtp: closed"},
		{&Error{Kind: ErrConfig, Op: "config", Message: "TenantID is empty"}, "o365smtp: config: TenantID is empty"},
	}
	for _, tc := range cases {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("Error() = %q; want %q", got, tc.want)
		}
	}
}

func TestErrorIsAs(t *testing.T) {
	cause := &textproto.Error{Code: 535, Msg: "5.7.3 Authentication unsuccessful"}
	var err error = &Error{Kind: ErrAuthFailed, Err: cause}
	wrapped := fmt.Errorf("notify: %w", err)
	if !errors.Is(wrapped, ErrAuthFailed) || errors.Is(wrapped, ErrSMTPAuthDisabled) {
		t.Errorf("errors.Is through wrapping is wrong")
	}
	var e *Error
	var tpe *textproto.Error
	if !errors.As(wrapped, &e) || !errors.As(wrapped, &tpe) || tpe.Code != 535 {
		t.Errorf("errors.As through wrapping failed")
	}
	if (&Error{Kind: ErrUnknownOutcome, retry: retryTransient}).Retryable() != true {
		t.Errorf("explicit retry class ignored")
	}
	if (&Error{Kind: ErrThrottled}).Retryable() != true || (&Error{Kind: ErrUnknownOutcome}).Retryable() {
		t.Errorf("Retryable defaults by Kind are wrong")
	}
}
