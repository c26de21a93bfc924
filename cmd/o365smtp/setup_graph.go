package main

import (
	"io"
	"strings"

	"github.com/o365smtp/o365smtp"
	"github.com/o365smtp/o365smtp/internal/jwtclaims"
)

// writeGraphSetupScript prints the Entra and Exchange steps for sending
// with Microsoft Graph, Mail.Send scoped to the mailbox with RBAC for
// Applications, and Mail.ReadWrite for messages over about 3 MB.
func writeGraphSetupScript(w io.Writer, cfg o365smtp.Config, c jwtclaims.Claims, tokenNote string, from []string) {
	clientID := psValue(cfg.ClientID, phClientID)
	mailbox := psValue(cfg.Mailbox, phMailbox)
	oid := psValue(c.OID, phOID)
	name := "o365smtp"
	if cfg.Mailbox != "" {
		name += " " + cfg.Mailbox
	}
	filterMailbox := strings.ReplaceAll(oneLine(cfg.Mailbox), "'", "''")
	if cfg.Mailbox == "" {
		filterMailbox = phMailbox
	}
	p := scriptHeader(w, cfg, c, tokenNote, "Microsoft Graph (sendMail, application permission Mail.Send)", "o365smtp setup-script --transport graph")
	p("#")
	p("# Entra: EITHER grant Microsoft Graph > Application permissions > Mail.Send with admin consent")
	p("# (the app may then send as EVERY mailbox), OR grant nothing in Entra and scope the permission")
	p("# to this mailbox in Exchange with RBAC for Applications, below. Grants add up: an Entra consent")
	p("# defeats the scope.")
	p("")
	p("Connect-ExchangeOnline")
	p("New-ServicePrincipal -AppId %s -ObjectId %s -DisplayName %s", clientID, oid, psQuote(name))
	p("New-ManagementScope -Name %s -RecipientRestrictionFilter %s", psQuote(name+" scope"), psQuote("PrimarySmtpAddress -eq '"+filterMailbox+"'"))
	p("New-ManagementRoleAssignment -App %s -Role \"Application Mail.Send\" -CustomResourceScope %s", clientID, psQuote(name+" scope"))
	p("# Messages over about 3 MB (large attachments) go through a draft and upload sessions,")
	p("# which need Mail.ReadWrite as well (in Entra with admin consent, or here). Messages up to")
	p("# about 3 MB need only Mail.Send: leave the next line out if you send none larger.")
	p("New-ManagementRoleAssignment -App %s -Role \"Application Mail.ReadWrite\" -CustomResourceScope %s", clientID, psQuote(name+" scope"))
	p("Test-ServicePrincipalAuthorization -Identity %s -Resource %s", clientID, mailbox)
	for _, a := range from {
		if !strings.EqualFold(a, cfg.Mailbox) {
			p("Add-RecipientPermission -Identity %s -Trustee %s -AccessRights SendAs -Confirm:$false", psValue(a, phMailbox), mailbox)
		}
	}
	p("")
	p("# Changes take up to an hour to apply. Then: o365smtp verify --transport graph")
}
