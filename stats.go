package o365smtp

import "time"

// Stats is a snapshot of a Sender's counters, for metrics and tests.
type Stats struct {
	// Sent counts messages the server accepted.
	Sent int64 `json:"sent"`
	// Failed counts Send calls that returned an error.
	Failed int64 `json:"failed"`
	// FailuresByKind counts failed Send calls by Kind.
	FailuresByKind map[Kind]int64 `json:"failures_by_kind,omitempty"`
	// Attempts counts submission attempts (retries included).
	Attempts int64 `json:"attempts"`
	// Retries counts automatic retries.
	Retries int64 `json:"retries"`
	// TokenRequests counts requests to the token source (cache misses).
	TokenRequests int64 `json:"token_requests"`
	// Dials counts SMTP connections opened.
	Dials int64 `json:"dials"`
	// OpenConnections, IdleConnections and InUseConnections describe the
	// connection pool now.
	OpenConnections  int `json:"open_connections"`
	IdleConnections  int `json:"idle_connections"`
	InUseConnections int `json:"in_use_connections"`
	// ConnectionWaits counts sends that waited for a free connection slot,
	// and ConnectionWaitTime is their total wait.
	ConnectionWaits    int64         `json:"connection_waits"`
	ConnectionWaitTime time.Duration `json:"connection_wait_time"`
	// CoolOffs counts sends that failed at once during the cool-off after a
	// setup failure (Config.CoolOff); CoolOffUntil is when the cool-off in
	// force ends, zero when none is.
	CoolOffs     int64     `json:"cool_offs"`
	CoolOffUntil time.Time `json:"cool_off_until,omitzero"`
	// GovernorWaits counts submissions that waited for the per-minute
	// governor (or Config.Limiter), and GovernorWaitTime is their total wait.
	GovernorWaits    int64         `json:"governor_waits"`
	GovernorWaitTime time.Duration `json:"governor_wait_time"`
	// Transport is the transport in use now: "smtp" or "graph" (with
	// TransportAuto, "graph" once SMTP AUTH was found disabled and Graph
	// accepted a message).
	Transport string `json:"transport"`
	// GraphRequests counts Microsoft Graph requests: sendMail, Verify's
	// probe, and for a message over 4 MB its draft, upload sessions, upload
	// chunks, send and (after a failure) the draft's deletion.
	GraphRequests int64 `json:"graph_requests"`
	// FleetShared reports whether the limits are shared through
	// Config.Fleet now: false without a Fleet, and while the Sender uses
	// its own limits because the Fleet failed.
	FleetShared bool `json:"fleet_shared"`
	// FleetFallbacks counts the times the Sender fell back to its own
	// limits because Config.Fleet failed (unreachable, slow, bad data),
	// and FleetFailures the failed calls to it.
	FleetFallbacks int64 `json:"fleet_fallbacks"`
	FleetFailures  int64 `json:"fleet_failures"`
}
