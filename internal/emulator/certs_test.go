package emulator

import "testing"

// TestSigningKeysNotShared: Servers open at the same time sign with
// different keys; a closed Server's key is reused by a later one.
func TestSigningKeysNotShared(t *testing.T) {
	a, b := New(), New()
	ka, _ := a.signingKey()
	kb, _ := b.signingKey()
	if ka.Equal(kb) {
		t.Fatal("two open Servers sign with the same key")
	}
	a.Close()
	c := New()
	defer c.Close()
	kc, _ := c.signingKey()
	if kc.Equal(kb) {
		t.Fatal("a new Server took the key of a Server that is still open")
	}
	if !kc.Equal(ka) {
		t.Error("a new Server generated a key instead of reusing the closed Server's")
	}
	b.Close()
	d := New()
	defer d.Close()
	if kd, _ := d.signingKey(); kd.Equal(kc) {
		t.Fatal("a new Server took the key of a Server that is still open")
	}
}
