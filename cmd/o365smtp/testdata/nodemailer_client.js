// A client of 'o365smtp emulate' written with Node's nodemailer and
// @azure/msal-node, as a Node program talks to Exchange Online. It reads the
// emulator's environment (O365SMTP_*; NODE_EXTRA_CA_CERTS makes Node trust
// the emulator's CA) and prints one JSON object per check for
// TestNodemailerClient (emulate_node_test.go).
"use strict";
const fs = require("fs");
const msal = require("@azure/msal-node");
const nodemailer = require("nodemailer");

const env = process.env;
const mailbox = env.O365SMTP_MAILBOX;
const report = (check, o) => console.log(JSON.stringify(Object.assign({ check }, o)));

async function token(scope) {
  const host = new URL(env.O365SMTP_AUTHORITY_HOST).host;
  const app = new msal.ConfidentialClientApplication({
    auth: {
      clientId: env.O365SMTP_CLIENT_ID,
      clientSecret: env.O365SMTP_CLIENT_SECRET,
      authority: env.O365SMTP_AUTHORITY_HOST.replace(/\/$/, "") + "/" + env.O365SMTP_TENANT_ID,
      knownAuthorities: [host],
    },
  });
  const r = await app.acquireTokenByClientCredential({ scopes: [scope] });
  return r.accessToken;
}

async function send(accessToken, from) {
  const t = nodemailer.createTransport({
    host: env.O365SMTP_HOST,
    port: Number(env.O365SMTP_PORT),
    secure: false,
    requireTLS: true,
    tls: { ca: fs.readFileSync(env.O365SMTP_CA_FILE) },
    auth: { type: "OAuth2", user: mailbox, accessToken },
  });
  try {
    const info = await t.sendMail({ from, to: "someone@example.com", subject: "from nodemailer", text: "Hi." });
    return { code: 250, msg: info.response };
  } catch (e) {
    return { code: e.responseCode || 0, msg: e.response || String(e), command: e.command || "" };
  } finally {
    t.close();
  }
}

(async () => {
  const exchange = await token(env.O365SMTP_SCOPE);
  report("send", await send(exchange, mailbox));
  report("send_as", await send(exchange, "ceo@contoso.com"));
  report("graph_auth", await send(await token("https://graph.microsoft.com/.default"), mailbox));
})().catch((e) => {
  report("error", { msg: String(e && e.stack ? e.stack : e) });
  process.exit(1);
});
