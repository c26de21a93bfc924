package o365smtptest

import (
	"testing"

	"github.com/o365smtp/o365smtp/internal/emulator/smtpd"
)

func TestStageString(t *testing.T) {
	if got := StageDataEnd.String(); got != "data_end" {
		t.Errorf("StageDataEnd.String() = %q", got)
	}
	if got := Stage(42).String(); got != "Stage(42)" {
		t.Errorf("Stage(42).String() = %q", got)
	}
}

// The stages are the engine's, converted by value.
func TestStagesAreTheEngines(t *testing.T) {
	ours := []Stage{StageConnect, StageBanner, StageEHLO, StageSTARTTLS, StageAuth, StageMail, StageRcpt, StageData, StageDataEnd}
	engine := []smtpd.Stage{smtpd.StageConnect, smtpd.StageBanner, smtpd.StageEHLO, smtpd.StageSTARTTLS, smtpd.StageAuth,
		smtpd.StageMail, smtpd.StageRcpt, smtpd.StageData, smtpd.StageDataEnd}
	for i, st := range ours {
		if smtpd.Stage(st) != engine[i] {
			t.Errorf("%v is the engine's %v", st, engine[i])
		}
	}
}
