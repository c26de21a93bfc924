package o365smtp

import "time"

// Report is the result of Sender.Verify: the resolved endpoints, the
// credential type, what the token says and one Step per checklist item.
type Report struct {
	// OK is true when no step failed (warnings allowed).
	OK bool `json:"ok"`
	// Host and Port are the SMTP endpoint used.
	Host string `json:"host"`
	Port int    `json:"port"`
	// Authority is the Entra authority (login host and tenant).
	Authority string `json:"authority"`
	// Scope is the token scope.
	Scope string `json:"scope"`
	// Credential is the credential type: "client_secret",
	// "client_secret_file", "certificate", "client_assertion" or
	// "token_source".
	Credential string `json:"credential"`
	// ObjectID is the token's oid: the object ID of the service principal
	// (the Enterprise application), which Exchange's New-ServicePrincipal
	// and Add-MailboxPermission need. It is not the App registration's
	// object ID.
	ObjectID string `json:"object_id,omitempty"`
	// TokenExpiresOn is the token's expiry.
	TokenExpiresOn time.Time `json:"token_expires_on,omitempty"`
	// Steps are the checklist items, in order.
	Steps []Step `json:"steps"`
}

// Status is the outcome of one Step.
type Status string

// Step outcomes.
const (
	StatusPass Status = "pass"
	StatusWarn Status = "warn" // works, but something needs attention
	StatusFail Status = "fail"
	StatusSkip Status = "skip" // not run: an earlier step failed, or nothing to check
)

// Step is one checklist item of a Report.
type Step struct {
	// Name is a stable id: "config", "credential", "token",
	// "token_claims", "connect", "tls", "auth" or "send_as".
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Kind is set when Status is StatusFail.
	Kind      Kind   `json:"kind,omitempty"`
	Detail    string `json:"detail,omitempty"`
	Hint      string `json:"hint,omitempty"`
	ElapsedMS int64  `json:"elapsed_ms"`
}
