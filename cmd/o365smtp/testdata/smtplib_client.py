"""A client of 'o365smtp emulate' written with Python's standard library only
(smtplib, ssl, urllib), the way a Python program talks to Exchange Online.
It reads the emulator's environment (O365SMTP_*) and prints one JSON object
per check, for TestForeignClients (emulate_clients_test.go) to judge."""

import base64
import json
import os
import smtplib
import ssl
import time
import urllib.parse
import urllib.request

env = os.environ
ctx = ssl.create_default_context(cafile=env["O365SMTP_CA_FILE"])
mailbox = env["O365SMTP_MAILBOX"]


def report(check, **kw):
    print(json.dumps(dict(check=check, **kw)), flush=True)


def token(scope):
    url = "%s/%s/oauth2/v2.0/token" % (env["O365SMTP_AUTHORITY_HOST"].rstrip("/"), env["O365SMTP_TENANT_ID"])
    body = urllib.parse.urlencode({
        "grant_type": "client_credentials",
        "client_id": env["O365SMTP_CLIENT_ID"],
        "client_secret": env["O365SMTP_CLIENT_SECRET"],
        "scope": scope,
    }).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=body), context=ctx, timeout=30) as r:
        return json.load(r)["access_token"]


def connect(tok):
    s = smtplib.SMTP(env["O365SMTP_HOST"], int(env["O365SMTP_PORT"]), timeout=60)
    s.ehlo("python.example")
    s.starttls(context=ctx)
    s.ehlo("python.example")
    xoauth2 = base64.b64encode(("user=%s\x01auth=Bearer %s\x01\x01" % (mailbox, tok)).encode()).decode()
    start = time.monotonic()
    code, msg = s.docmd("AUTH", "XOAUTH2 " + xoauth2)
    return s, code, msg.decode(), time.monotonic() - start


exchange = token(env["O365SMTP_SCOPE"])
s, code, msg, _ = connect(exchange)
report("auth", code=code, msg=msg)

# SMTPUTF8 on MAIL FROM, as smtplib sends it when asked to.
code, msg = s.mail(mailbox, ["SMTPUTF8"])
report("smtputf8", code=code, msg=msg.decode())
s.rset()

# Another sender: accepted at MAIL FROM, refused after the final dot.
code, msg = s.mail("ceo@contoso.com")
report("send_as_mail", code=code, msg=msg.decode())
s.rcpt("someone@example.com")
try:
    code, msg = s.data(b"From: ceo@contoso.com\r\nSubject: spoof\r\n\r\nHi.\r\n")
except smtplib.SMTPDataError as e:
    code, msg = e.smtp_code, e.smtp_error
report("send_as_data", code=code, msg=msg.decode())

# A message from the mailbox goes.
code, msg = s.mail(mailbox)
s.rcpt("someone@example.com")
code, msg = s.data(b"From: %s\r\nSubject: from smtplib\r\n\r\nHi.\r\n" % mailbox.encode())
report("send", code=code, msg=msg.decode())
s.quit()

# A Graph token: Entra issues it, AUTH refuses it.
graph = token("https://graph.microsoft.com/.default")
s, code, msg, took = connect(graph)
report("graph_auth", code=code, msg=msg, seconds=took)
s.close()
