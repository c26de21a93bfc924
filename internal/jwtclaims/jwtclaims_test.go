package jwtclaims

import (
	"encoding/base64"
	"testing"
	"time"
)

func TestDecode(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	tok := func(payload string) string { return enc(`{"alg":"none"}`) + "." + enc(payload) + ".sig" }
	c := Decode(tok(`{"aud":"https://outlook.office365.com","iss":"i","tid":"t","oid":"o","azp":"a","roles":["SMTP.SendAsApp"],"exp":1767225600}`))
	if !c.Decoded || c.Aud != "https://outlook.office365.com" || c.Iss != "i" || c.Tid != "t" || c.OID != "o" ||
		c.AppID != "a" || len(c.Roles) != 1 || c.Roles[0] != "SMTP.SendAsApp" || !c.Exp.Equal(time.Unix(1767225600, 0)) {
		t.Errorf("Decode = %+v", c)
	}
	if c := Decode(tok(`{"appid":"v1","azp":"v2","aud":["x","y"]}`)); c.AppID != "v1" || c.Aud != "x" {
		t.Errorf("appid beats azp, first aud: %+v", c)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + enc("[1]") + ".c"} {
		if c := Decode(bad); c.Decoded {
			t.Errorf("Decode(%q) = %+v; want not decoded", bad, c)
		}
	}
}
