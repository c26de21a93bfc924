// A client of 'o365smtp emulate' written with Microsoft's own Graph SDK for
// JavaScript, unmodified: @microsoft/microsoft-graph-client with its baseUrl
// pointed at O365SMTP_GRAPH_URL, and an auth provider that gets a
// client-credentials token for https://graph.microsoft.com/.default from
// @azure/msal-node. It sends one message with the SDK's JSON sendMail and
// prints one JSON object per check for TestGraphSDKClient
// (emulate_node_test.go).
"use strict";
const msal = require("@azure/msal-node");
const { Client } = require("@microsoft/microsoft-graph-client");

const env = process.env;
const report = (check, o) => console.log(JSON.stringify(Object.assign({ check }, o)));

const app = new msal.ConfidentialClientApplication({
  auth: {
    clientId: env.O365SMTP_CLIENT_ID,
    clientSecret: env.O365SMTP_CLIENT_SECRET,
    authority: env.O365SMTP_AUTHORITY_HOST.replace(/\/$/, "") + "/" + env.O365SMTP_TENANT_ID,
    knownAuthorities: [new URL(env.O365SMTP_AUTHORITY_HOST).host],
  },
});

// The SDK attaches the token only to Graph's hosts and to customHosts.
const graph = new URL(env.O365SMTP_GRAPH_URL);
const client = Client.initWithMiddleware({
  baseUrl: env.O365SMTP_GRAPH_URL.replace(/\/$/, "") + "/",
  customHosts: new Set([graph.host, graph.hostname]),
  authProvider: {
    getAccessToken: async () =>
      (await app.acquireTokenByClientCredential({ scopes: ["https://graph.microsoft.com/.default"] })).accessToken,
  },
});

async function sendMail(to) {
  try {
    await client.api("/users/" + encodeURIComponent(env.O365SMTP_MAILBOX) + "/sendMail").post({
      message: {
        subject: "from the Graph SDK",
        body: { contentType: "Text", content: "Hi from @microsoft/microsoft-graph-client." },
        toRecipients: to.map((address) => ({ emailAddress: { address } })),
      },
      saveToSentItems: false,
    });
    return { code: 202 };
  } catch (e) {
    return { code: e.statusCode || 0, msg: (e.code || "") + ": " + (e.message || String(e)) };
  }
}

(async () => {
  report("send", await sendMail(["someone@example.com"]));
  report("no_recipients", await sendMail([]));
})().catch((e) => {
  report("error", { msg: String(e && e.stack ? e.stack : e) });
  process.exit(1);
});
