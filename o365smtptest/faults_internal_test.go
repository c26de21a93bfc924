package o365smtptest

import "testing"

func TestStageString(t *testing.T) {
	if got := StageDataEnd.String(); got != "data-end" {
		t.Errorf("StageDataEnd.String() = %q", got)
	}
	if got := Stage(42).String(); got != "Stage(42)" {
		t.Errorf("Stage(42).String() = %q", got)
	}
}
