package o365smtp

// ConfigFromEnv returns the Config that the O365SMTP_* environment variables
// describe (the same set, names and meanings as the o365smtp command's, plus
// O365SMTP_TRANSPORT, O365SMTP_GRAPH_URL and O365SMTP_MANAGED_IDENTITY).
// Where O365SMTP_TENANT_ID, O365SMTP_CLIENT_ID or a credential is absent, the
// workload identity variables that Azure injects are used: AZURE_TENANT_ID,
// AZURE_CLIENT_ID, AZURE_FEDERATED_TOKEN_FILE (a client assertion re-read for
// each token request) and AZURE_AUTHORITY_HOST. A malformed value is an
// *Error of Kind ErrConfig naming the variable.
func ConfigFromEnv() (Config, error) {
	return Config{}, configError("ConfigFromEnv is not implemented yet",
		"This function is part of the next o365smtp release: fill the Config in code until then.")
}
