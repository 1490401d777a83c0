"""Integration: alerts reach the operator (docs/alerts.md). A real
PostgreSQL and control plane; fleet events are written into fleet_events
as the platform writes them, and the alerts worker turns them into alerts
and notifications to receivers in this process:

- a webhook receiver that checks the HMAC-SHA256 signature over
  "TIMESTAMP.BODY" with the target's key, and the body;
- a fake Slack incoming webhook that checks Slack's documented payload
  ({"text": ..., "blocks": [...]}, Content-Type application/json);
- a minimal SMTP server (written here: the envelope and the RFC 5322
  headers of the message it receives).

Also: the real paths (a node reports a crash loop through the agent API,
then misses its heartbeats until the sweep marks it down), dedupe (two
failures, one alert), resolution (a "resolved"
notification), a retry after a 500, the rate limit per target, a target
that answers 410 (given up at once: alert.delivery_failed), a restart that
neither fires again nor loses an alert, an event whose transaction commits
after a later one's (not skipped), target secrets absent from GET
replies, the log, the audit log and the events, and 403 for every role but
admin."""

import hashlib
import hmac
import json
import os
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from clawtest.cp import ControlPlane
from clawtest.fakehttp import Handler, serve
from clawtest.pg import PgCluster
from clawtest.proc import wait_for
from common import CpTestCase

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

WEBHOOK_KEY = "whk-3b1f0c9e5d7a4e2f8c6b"
SLACK_PATH = "/services/T000/B000/slacksecretpathA1B2C3"
SMTP_PASSWORD = "smtp-pw-9f8e7d6c5b4a"


class Receiver:
    """A local HTTP receiver: records (headers, body) of each POST and
    answers with the next status of statuses (then 200)."""

    def __init__(self, statuses=()):
        self.got = []
        self.statuses = list(statuses)
        self.lock = threading.Lock()
        outer = self

        class H(Handler):
            def do_POST(self):
                body = self.body()
                with outer.lock:
                    outer.got.append((self.path, dict(self.headers), body))
                    status = outer.statuses.pop(0) if outer.statuses \
                        else 200
                data = b"ok" if status == 200 else b"no"
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.srv = serve(H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def bodies(self):
        with self.lock:
            return [json.loads(b) for _, _, b in self.got]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class SmtpServer:
    """A minimal SMTP server (RFC 5321's commands a client needs):
    records each mail as (mail_from, [rcpt_to], data)."""

    def __init__(self):
        self.mails = []
        outer = self

        class H(socketserver.StreamRequestHandler):
            def line(self, text):
                self.wfile.write(text.encode() + b"\r\n")

            def handle(self):
                self.line("220 localhost ESMTP test")
                frm, rcpt = None, []
                while True:
                    cmd = self.rfile.readline()
                    if not cmd:
                        return
                    verb = cmd.decode(errors="replace").strip()
                    up = verb.upper()
                    if up.startswith("EHLO"):
                        self.line("250-localhost")
                        self.line("250 8BITMIME")
                    elif up.startswith("HELO"):
                        self.line("250 localhost")
                    elif up.startswith("MAIL FROM:"):
                        frm = verb[10:].strip()
                        self.line("250 OK")
                    elif up.startswith("RCPT TO:"):
                        rcpt.append(verb[8:].strip())
                        self.line("250 OK")
                    elif up == "DATA":
                        self.line("354 end with .")
                        data = b""
                        while True:
                            ln = self.rfile.readline()
                            if not ln or ln == b".\r\n":
                                break
                            data += ln[1:] if ln.startswith(b"..") else ln
                        outer.mails.append((frm, rcpt, data.decode()))
                        self.line("250 queued")
                    elif up == "QUIT":
                        self.line("221 bye")
                        return
                    else:
                        self.line("250 OK")

        class S(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.srv = S(("127.0.0.1", 0), H)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        self.url = "smtp://127.0.0.1:%d" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def verify(key, headers, body):
    """What a receiver does: recompute the signature over TS "." BODY and
    compare in constant time."""
    ts = headers["X-Claw-Timestamp"]
    want = "sha256=" + hmac.new(key.encode(), ts.encode() + b"." + body,
                                hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, headers["X-Claw-Signature"])


class AlertsTest(CpTestCase):

    def setUp(self):
        # the events an earlier test left (a node.deleted at its end)
        # are turned into alerts first: a resolution derived after the
        # targets below were made would reach them and take the first
        # answer a test set up for its own alert
        wait_for(lambda: self.sql(
            "SELECT count(*) FROM fleet_events e, alert_cursor c WHERE "
            "(e.xid, e.id) > (c.last_xid, c.last_event_id)").strip() == "0",
            what="the alert worker to catch up")
        for t in self.admin.get("/v1/alerts/targets").json()["items"]:
            self.admin.delete("/v1/alerts/targets/" + t["id"])
        self.receivers = []

    def tearDown(self):
        for r in self.receivers:
            r.close()

    def receiver(self, statuses=()):
        r = Receiver(statuses)
        self.receivers.append(r)
        return r

    def event(self, type_, tenant_id=None, node_id=None, data=None):
        def lit(v):
            return "NULL" if v is None else "'%s'" % v.replace("'", "''")
        self.sql("INSERT INTO fleet_events (type, tenant_id, node_id, data) "
                 "VALUES (%s, %s, %s, %s::jsonb)" %
                 (lit(type_), lit(tenant_id), lit(node_id),
                  lit(json.dumps(data or {}))))

    def webhook(self, name, url, kinds=None, **kw):
        body = {"name": name, "type": "webhook", "url": url,
                "secret": WEBHOOK_KEY}
        if kinds:
            body["kinds"] = kinds
        body.update(kw)
        r = self.admin.post("/v1/alerts/targets", body)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def alert(self, kind, subject):
        def find():
            for a in self.admin.get("/v1/alerts").json()["items"]:
                if a["kind"] == kind and a["subject"] == subject:
                    return a
            return None
        return find

    def events_of(self, type_):
        return [json.loads(x) for x in self.sql(
            "SELECT data::text FROM fleet_events WHERE type = '%s' "
            "ORDER BY id" % type_).splitlines()]

    # ---- the webhook: signature, body, fired then resolved

    def test_webhook_signed_fired_and_resolved(self):
        rx = self.receiver()
        self.webhook("hook", rx.url + "/in", kinds=["node_lost"])
        self.event("node.down", node_id="nod_webhook1",
                   data={"name": "n1", "status": "down"})
        wait_for(lambda: len(rx.got) >= 1, what="the firing notification")
        path, headers, body = rx.got[0]
        self.assertEqual(path, "/in")
        self.assertTrue(headers["Content-Type"].startswith(
            "application/json"))
        self.assertTrue(verify(WEBHOOK_KEY, headers, body))
        self.assertFalse(verify("another key of 16+ bytes", headers, body))
        j = json.loads(body)
        self.assertEqual(j["version"], 1)
        self.assertEqual(j["alert"]["kind"], "node_lost")
        self.assertEqual(j["alert"]["subject"], "nod_webhook1")
        self.assertEqual(j["alert"]["status"], "firing")
        self.assertIsNone(j["alert"]["resolved_at"])
        self.assertEqual(headers["X-Claw-Delivery"], str(j["delivery"]))
        a = wait_for(self.alert("node_lost", "nod_webhook1"))
        self.assertEqual(a["state"], "firing")

        self.event("node.ready", node_id="nod_webhook1",
                   data={"name": "n1", "status": "ready"})
        wait_for(lambda: len(rx.got) >= 2, what="the resolved notification")
        _, headers, body = rx.got[1]
        self.assertTrue(verify(WEBHOOK_KEY, headers, body))
        j = json.loads(body)
        self.assertEqual(j["alert"]["status"], "resolved")
        self.assertIsNotNone(j["alert"]["resolved_at"])
        # the receiver answered before the worker recorded the delivery
        a = wait_for(lambda: (lambda a: a if [
            d["state"] for d in a["deliveries"]] == ["sent", "sent"]
            else None)(self.alert("node_lost", "nod_webhook1")()),
            what="both deliveries recorded as sent")
        self.assertEqual(a["state"], "resolved")
        fired = [e for e in self.events_of("alert.fired")
                 if e["subject"] == "nod_webhook1"]
        resolved = [e for e in self.events_of("alert.resolved")
                    if e["subject"] == "nod_webhook1"]
        self.assertEqual(len(fired), 1)
        self.assertEqual(len(resolved), 1)
        # GET ?state=open leaves it out now
        open_ = self.admin.get("/v1/alerts?state=open").json()["items"]
        self.assertNotIn("nod_webhook1", [x["subject"] for x in open_])

    # ---- an event whose transaction commits after a later one's

    def test_slow_transaction_not_skipped(self):
        rx = self.receiver()
        self.webhook("slow", rx.url, kinds=["node_lost"])
        psql = subprocess.Popen(
            [self.pg._bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
             "-h", self.pg.sock, "-p", str(self.pg.port), "-U",
             self.pg.SUPERUSER, "-d", self.db],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, text=True)
        self.addCleanup(psql.kill)
        psql.stdin.write("BEGIN; INSERT INTO fleet_events (type, node_id) "
                         "VALUES ('node.down', 'nod_slow1');\n")
        psql.stdin.flush()
        wait_for(lambda: self.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
            "current_database() AND state = 'idle in transaction'") == "1",
            what="the open transaction")
        self.event("node.down", node_id="nod_slow2")  # a later id, committed
        # give a worker that follows ids alone the time to pass nod_slow1's
        # id (nothing here asserts on time)
        time.sleep(1.5)
        psql.stdin.write("COMMIT;\n")
        psql.stdin.close()
        self.assertEqual(psql.wait(timeout=30), 0)
        ids = self.sql("SELECT node_id FROM fleet_events WHERE node_id "
                       "LIKE 'nod_slow%' ORDER BY id").split()
        self.assertEqual(ids, ["nod_slow1", "nod_slow2"])
        wait_for(self.alert("node_lost", "nod_slow2"))
        wait_for(self.alert("node_lost", "nod_slow1"),
                 what="the alert of the slow transaction's event")
        for n in ("nod_slow1", "nod_slow2"):
            self.event("node.deleted", node_id=n)

    # ---- dedupe: two failures of one tenant are one alert

    def test_two_failures_one_alert(self):
        rx = self.receiver()
        self.webhook("dedupe", rx.url, kinds=["deploy_failed"])
        t = self.make_tenant("dedupe")
        for dep in ("dep_1", "dep_2"):
            self.event("deployment.phase", tenant_id=t["id"],
                       data={"deployment": dep, "phase": "failed",
                             "reason": "image not found"})
        a = wait_for(lambda: (self.alert("deploy_failed", t["id"])() or
                              {}).get("occurrences") == 2 and
                     self.alert("deploy_failed", t["id"])(),
                     what="two occurrences")
        wait_for(lambda: len(rx.got) >= 1)
        self.assertIn("dedupe", a["summary"])
        self.assertIn("image not found", a["summary"])
        self.assertEqual(len(a["deliveries"]), 1)
        self.assertEqual(len(rx.got), 1)
        # a healthy deployment resolves it
        self.event("deployment.phase", tenant_id=t["id"],
                   data={"deployment": "dep_3", "phase": "healthy"})
        wait_for(lambda: len(rx.got) >= 2, what="resolved")
        self.assertEqual(rx.bodies()[1]["alert"]["status"], "resolved")

    # ---- crash loop, rollout, quota and certificate kinds

    def test_every_kind_fires_and_resolves(self):
        rx = self.receiver()
        self.webhook("kinds", rx.url)
        t = self.make_tenant("kinds")
        cases = [
            ("tenant.phase", {"to": "crash_loop", "from": "healthy"},
             ("tenant.phase", {"to": "healthy", "from": "crash_loop"}),
             "crash_loop", t["id"]),
            ("rollout.halted", {"rollout": "ro_kinds1", "state": "halted"},
             ("rollout.aborted", {"rollout": "ro_kinds1",
                                  "state": "aborted"}),
             "rollout_halted", "ro_kinds1"),
            ("quota.exhausted", {"quota": "turns_per_day"},
             ("quota.restored", {"quota": "turns_per_day"}),
             "quota_exhausted", t["id"] + "/turns_per_day"),
            ("cert.expiring", {"domain": "chat.example.com",
                               "not_after": "2027-01-01T00:00:00Z"},
             ("cert.renewed", {"domain": "chat.example.com"}),
             "cert_expiring", "chat.example.com"),
        ]
        for fire, fdata, (res, rdata), kind, subject in cases:
            self.event(fire, tenant_id=t["id"], data=fdata)
            a = wait_for(self.alert(kind, subject), what=kind)
            self.assertEqual(a["state"], "firing", kind)
            self.event(res, tenant_id=t["id"], data=rdata)
            wait_for(lambda: self.alert(kind, subject)()["state"] ==
                     "resolved", what=kind + " resolved")
        # the target takes every kind, so alerts of the other tests'
        # subjects (a node of the fleet test going) may arrive too
        subjects = {c[4] for c in cases}

        def ours():
            return [b for b in rx.bodies()
                    if b["alert"]["subject"] in subjects]
        wait_for(lambda: len(ours()) >= 8, what="eight notifications")
        got = sorted((b["alert"]["kind"], b["alert"]["status"])
                     for b in ours())
        self.assertEqual(got, sorted(
            (c[3], s) for c in cases for s in ("firing", "resolved")))

    # ---- retry after a 500; give up at once on a 410

    def test_retry_after_500(self):
        rx = self.receiver(statuses=[500])
        self.webhook("retry", rx.url, kinds=["node_lost"])
        self.event("node.down", node_id="nod_retry1")
        wait_for(lambda: len(rx.got) >= 2, what="the retry")
        a = wait_for(lambda: (lambda a: a and a["deliveries"][0]["state"]
                              == "sent" and a)(
            self.alert("node_lost", "nod_retry1")()))
        self.assertEqual(a["deliveries"][0]["attempts"], 2)
        self.assertEqual(rx.got[0][2], rx.got[1][2])  # the same body
        self.event("node.deleted", node_id="nod_retry1")

    def test_gone_target_fails_at_once(self):
        rx = self.receiver(statuses=[410])
        self.webhook("gone", rx.url, kinds=["node_lost"])
        self.event("node.down", node_id="nod_gone1")
        ev = wait_for(lambda: [e for e in
                               self.events_of("alert.delivery_failed")
                               if e["subject"] == "nod_gone1"],
                      what="alert.delivery_failed")
        self.assertEqual(ev[0]["target"], "gone")
        self.assertEqual(ev[0]["attempts"], 1)
        self.assertIn("410", ev[0]["error"])
        a = self.alert("node_lost", "nod_gone1")()
        self.assertEqual(a["deliveries"][0]["state"], "failed")
        self.assertEqual(len(rx.got), 1)
        self.event("node.deleted", node_id="nod_gone1")

    # ---- rate limit per target

    def test_rate_limit_per_target(self):
        rx = self.receiver()
        self.webhook("limited", rx.url, kinds=["node_lost"], max_per_hour=1)
        self.event("node.down", node_id="nod_rate1")
        self.event("node.down", node_id="nod_rate2")
        a2 = wait_for(self.alert("node_lost", "nod_rate2"))
        a1 = self.alert("node_lost", "nod_rate1")()
        wait_for(lambda: len(rx.got) >= 1)
        self.assertEqual(a2["deliveries"][0]["state"], "suppressed")
        wait_for(lambda: self.alert("node_lost", "nod_rate1")()[
            "deliveries"][0]["state"] == "sent")
        self.assertEqual(len(rx.got), 1)
        self.assertEqual(rx.bodies()[0]["alert"]["id"], a1["id"])
        fired = [e for e in self.events_of("alert.fired")
                 if e["subject"] == "nod_rate2"]
        self.assertEqual(fired[0]["suppressed"], 1)
        for n in ("nod_rate1", "nod_rate2"):
            self.event("node.deleted", node_id=n)

    # ---- Slack

    def test_slack_payload(self):
        rx = self.receiver()
        r = self.admin.post("/v1/alerts/targets", {
            "name": "slack", "type": "slack", "url": rx.url + SLACK_PATH,
            "kinds": ["crash_loop"]})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["config"], {})
        self.assertTrue(r.json()["secret_set"])
        t = self.make_tenant("slacky")
        self.event("tenant.phase", tenant_id=t["id"],
                   data={"to": "crash_loop", "reason": "exit 1 <x> & y"})
        wait_for(lambda: len(rx.got) >= 1, what="the Slack message")
        path, headers, body = rx.got[0]
        self.assertEqual(path, SLACK_PATH)
        self.assertEqual(headers["Content-Type"], "application/json")
        j = json.loads(body)
        self.assertIsInstance(j["text"], str)
        self.assertIn("slacky", j["text"])
        self.assertIn("FIRING", j["text"])
        # mrkdwn control characters escaped as Slack documents
        self.assertIn("&lt;x&gt; &amp; y", j["text"])
        self.assertEqual(j["blocks"][0]["type"], "section")
        self.assertEqual(j["blocks"][0]["text"]["type"], "mrkdwn")
        self.assertEqual(j["blocks"][1]["type"], "context")
        self.assertNotIn(SLACK_PATH, json.dumps(
            self.admin.get("/v1/alerts/targets").json()))
        self.event("tenant.state", tenant_id=t["id"],
                   data={"state": "removed"})
        wait_for(lambda: len(rx.got) >= 2, what="resolved")
        self.assertIn("RESOLVED", json.loads(rx.got[1][2])["text"])

    # ---- email over SMTP

    def test_email_over_smtp(self):
        smtp = SmtpServer()
        self.addCleanup(smtp.close)
        r = self.admin.post("/v1/alerts/targets", {
            "name": "mail", "type": "email", "smtp_url": smtp.url,
            "from": "claw@example.com",
            "to": ["ops@example.com", "oncall@example.org"],
            "kinds": ["node_lost"]})
        self.assertEqual(r.status, 201, r)
        self.assertFalse(r.json()["secret_set"])
        self.event("node.down", node_id="nod_mail1")
        wait_for(lambda: smtp.mails, what="the mail")
        frm, rcpt, data = smtp.mails[0]
        self.assertEqual(frm, "<claw@example.com>")
        self.assertEqual(rcpt, ["<ops@example.com>", "<oncall@example.org>"])
        head, _, text = data.partition("\r\n\r\n")
        hdrs = dict(line.split(": ", 1) for line in head.split("\r\n"))
        for h in ("Date", "Message-ID", "From", "To", "Subject"):
            self.assertIn(h, hdrs)
        self.assertRegex(hdrs["Date"],
                         r"^[A-Z][a-z]{2}, \d\d [A-Z][a-z]{2} \d{4} "
                         r"\d\d:\d\d:\d\d \+0000$")
        self.assertRegex(hdrs["Message-ID"], r"^<alert-\d+\.\d+@[^>]+>$")
        self.assertEqual(hdrs["To"], "ops@example.com, oncall@example.org")
        self.assertEqual(hdrs["Subject"],
                         "[claw] FIRING node_lost: nod_mail1")
        self.assertIn("nod_mail1", text)
        self.event("node.deleted", node_id="nod_mail1")

    def test_email_password_needs_tls(self):
        smtp = SmtpServer()
        self.addCleanup(smtp.close)
        r = self.admin.post("/v1/alerts/targets", {
            "name": "mailpw", "type": "email", "smtp_url": smtp.url,
            "from": "claw@example.com", "to": ["ops@example.com"],
            "username": "claw", "password": SMTP_PASSWORD,
            "kinds": ["node_lost"]})
        self.assertEqual(r.status, 201, r)
        self.event("node.down", node_id="nod_mailpw")
        # the server offers no STARTTLS: nothing is sent, the password
        # never crosses in the clear
        wait_for(lambda: self.alert("node_lost", "nod_mailpw")() and
                 self.alert("node_lost", "nod_mailpw")()["deliveries"][0][
                     "attempts"] >= 1 and
                 self.alert("node_lost", "nod_mailpw")()["deliveries"][0][
                     "last_error"], what="a failed attempt")
        self.assertEqual(smtp.mails, [])
        self.event("node.deleted", node_id="nod_mailpw")

    # ---- secrets stay secret

    def test_target_secrets_never_shown(self):
        rx = self.receiver()
        self.webhook("secret", rx.url, kinds=["node_lost"])
        self.admin.post("/v1/alerts/targets", {
            "name": "slack2", "type": "slack", "url": rx.url + SLACK_PATH})
        self.admin.post("/v1/alerts/targets", {
            "name": "mail2", "type": "email", "smtp_url": "smtps://127.0.0.1:1",
            "from": "a@example.com", "to": ["b@example.com"],
            "username": "u", "password": SMTP_PASSWORD})
        listed = self.admin.get("/v1/alerts/targets")
        self.assertEqual(listed.status, 200)
        self.assertEqual(len(listed.json()["items"]), 3)
        for t in listed.json()["items"]:
            self.assertTrue(t["secret_set"])
        self.event("node.down", node_id="nod_secret1")
        wait_for(lambda: rx.got)
        texts = {
            "GET targets": listed.body.decode(),
            "GET alerts": self.admin.get("/v1/alerts").body.decode(),
            "log": self.cp.daemon.log_text(),
            "audit": self.sql("SELECT coalesce(string_agg(details::text, "
                              "' '), '') FROM audit_log"),
            "events": self.sql("SELECT string_agg(data::text, ' ') "
                               "FROM fleet_events"),
            "stored": self.sql("SELECT string_agg(encode(secret, 'escape')"
                               " || config::text, ' ') FROM alert_targets"),
        }
        for where, text in texts.items():
            for s in (WEBHOOK_KEY, SLACK_PATH, SMTP_PASSWORD):
                self.assertNotIn(s, text, "%s shows a secret" % where)
        audit = self.sql("SELECT action FROM audit_log WHERE action LIKE "
                         "'alert_target.%'")
        self.assertIn("alert_target.create", audit)
        self.event("node.deleted", node_id="nod_secret1")

    # ---- /metrics

    def test_metrics_series(self):
        from clawtest.http import http_get
        self.event("node.down", node_id="nod_metrics1")
        wait_for(self.alert("node_lost", "nod_metrics1"))
        status, text = http_get(self.cp.url + "/metrics")
        self.assertEqual(status, 200)
        if "claw_alerts_open" not in text:
            self.skipTest("metrics.c does not call cp_alert_metrics_render "
                          "yet (docs/alerts.md, Prometheus)")
        self.assertIn('claw_alert_firing{kind="node_lost",'
                      'subject="nod_metrics1",tenant="",node=""} 1', text)
        self.assertRegex(text, r'claw_alerts_open\{kind="node_lost"\} [1-9]')
        self.assertIn('claw_alerts_open{kind="cert_expiring"}', text)
        self.assertIn('claw_nodes{status="down"}', text)
        self.assertIn("claw_alert_deliveries_failed_total", text)
        self.event("node.deleted", node_id="nod_metrics1")

    # ---- bad input and denials

    def test_bad_targets_refused(self):
        bad = [
            {"name": "x", "type": "pager"},
            {"name": "Bad Name", "type": "slack", "url": "https://h/x"},
            {"name": "w", "type": "webhook", "url": "https://h/x"},
            {"name": "w", "type": "webhook", "url": "ftp://h/x",
             "secret": WEBHOOK_KEY},
            {"name": "w", "type": "webhook", "url": "https://h/x",
             "secret": "short"},
            {"name": "s", "type": "slack", "url": "https://h/x",
             "secret": WEBHOOK_KEY},
            {"name": "e", "type": "email", "smtp_url": "http://h",
             "from": "a@b.c", "to": ["d@e.f"]},
            {"name": "e", "type": "email", "smtp_url": "smtp://h",
             "from": "a@b.c", "to": ["d@e.f\r\nBcc: x@y.z"]},
            {"name": "e", "type": "email", "smtp_url": "smtp://h",
             "from": "a@b.c", "to": []},
            {"name": "e", "type": "email", "smtp_url": "smtp://h",
             "from": "a@b.c", "to": ["d@e.f"], "password": "p"},
            {"name": "k", "type": "slack", "url": "https://h/x",
             "kinds": ["nope"]},
            {"name": "m", "type": "slack", "url": "https://h/x",
             "max_per_hour": 0},
        ]
        for b in bad:
            r = self.admin.post("/v1/alerts/targets", b)
            self.assertError(r, 422, "invalid_field")
        r = self.admin.post("/v1/alerts/targets",
                            {"name": "x", "type": "slack", "url": "https://h",
                             "extra": 1})
        self.assertError(r, 422, "unknown_field")
        self.assertEqual(self.admin.get("/v1/alerts/targets").json()[
            "items"], [])
        r = self.admin.get("/v1/alerts?state=maybe")
        self.assertError(r, 422, "invalid_field")
        r = self.admin.delete("/v1/alerts/targets/atg_" + "0" * 32)
        self.assertError(r, 404, "not_found")
        rx = self.receiver()
        self.webhook("twice", rx.url)
        r = self.admin.post("/v1/alerts/targets", {
            "name": "twice", "type": "webhook", "url": rx.url,
            "secret": WEBHOOK_KEY})
        self.assertError(r, 409, "conflict")
        r = self.admin.delete("/v1/alerts/targets/twice")
        self.assertEqual(r.status, 204)

    def test_only_admin(self):
        self.make_tenant("denied")
        tokens = [self.cp.new_token("operator")[1],
                  self.cp.new_token("auditor")[1],
                  self.cp.new_token("tenant", tenant="denied")[1]]
        rx = self.receiver()
        target = self.webhook("guarded", rx.url)
        for tok in tokens:
            c = self.cp.client(tok)
            self.assertError(c.get("/v1/alerts"), 403, "forbidden")
            self.assertError(c.get("/v1/alerts/targets"), 403, "forbidden")
            self.assertError(c.post("/v1/alerts/targets", {
                "name": "mine", "type": "slack", "url": "https://h/x"}),
                403, "forbidden")
            self.assertError(c.delete("/v1/alerts/targets/" + target["id"]),
                             403, "forbidden")
        self.assertError(self.cp.client("").get("/v1/alerts"), 401)
        self.assertEqual(len(self.admin.get("/v1/alerts/targets").json()[
            "items"]), 1)


class AlertsFromTheFleetTest(unittest.TestCase):
    """The real paths: a node (the agent API driven by FakeNode) reports a
    crash loop and then health, and stops its heartbeats until the sweep
    marks it down and then beats again: the events the platform records
    raise and resolve the alerts, with no event written by the test."""

    def test_crash_loop_and_node_loss(self):
        pg = PgCluster().start()
        self.addCleanup(pg.stop)
        cp = ControlPlane(
            database_url=pg.create_database("alertsfleet"),
            extra_args=["--heartbeat-ms", "500", "--node-grace-intervals",
                        "3", "--sweep-ms", "200"]).start()
        self.addCleanup(cp.stop_clean)
        admin = cp.client()
        rx = Receiver()
        self.addCleanup(rx.close)
        r = admin.post("/v1/alerts/targets", {
            "name": "hook", "type": "webhook", "url": rx.url,
            "secret": WEBHOOK_KEY, "kinds": ["crash_loop", "node_lost"]})
        self.assertEqual(r.status, 201, r)
        node = FakeNode(cp.url, admin.post("/v1/nodes/join-tokens",
                                           {}).json()["token"], "na")
        stop = node.autopilot()
        self.addCleanup(stop.set)
        self.assertEqual(admin.post("/v1/tenants", {
            "slug": "loopy", "name": "Loopy"}).status, 201)
        r = admin.post("/v1/tenants/loopy/deploy", {
            "gateway_image": "registry.test/gw:1",
            "runtime_image": "registry.test/rt:1"})
        self.assertEqual(r.status, 202, r)
        wait_for(lambda: admin.get("/v1/tenants/loopy/placement").json()
                 .get("phase") == "healthy", what="healthy")

        def got(kind, status):
            return [b for b in rx.bodies() if b["alert"]["kind"] == kind
                    and b["alert"]["status"] == status]
        node.report("loopy", "crash_loop", "unable to open secret 'x'")
        b = wait_for(lambda: got("crash_loop", "firing"), what="crash")[0]
        self.assertIn("loopy", b["alert"]["summary"])
        self.assertIn("unable to open secret", b["alert"]["summary"])
        node.report("loopy", "healthy")
        wait_for(lambda: got("crash_loop", "resolved"), what="recovered")

        stop.set()  # no more heartbeats: the sweep marks the node down
        b = wait_for(lambda: got("node_lost", "firing"), timeout=60,
                     what="node lost")[0]
        self.assertEqual(b["alert"]["subject"], node.id)
        self.assertIn("na", b["alert"]["summary"])
        node.heartbeat()  # back
        wait_for(lambda: got("node_lost", "resolved"), what="node back")
        self.assertEqual(len(got("node_lost", "firing")), 1)
        self.assertEqual(len(got("crash_loop", "firing")), 1)


def utc(offset_s):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(time.time() + offset_s))


class AlertsFromEdgeCertsTest(unittest.TestCase):
    """The certificates a node's edge serves, as its status reports them
    (the node agent reads them: tests/integration/node-agent/test_edge.py),
    raise cert_expiring when one has less than --cert-warn-days left and
    Caddy has not renewed it by a third of its lifetime left, and resolve
    it when it is renewed or no longer served."""

    def test_expiring_renewed_and_gone(self):
        pg = PgCluster().start()
        self.addCleanup(pg.stop)
        cp = ControlPlane(
            database_url=pg.create_database("alertscerts")).start()
        self.addCleanup(cp.stop_clean)
        admin = cp.client()
        rx = Receiver()
        self.addCleanup(rx.close)
        r = admin.post("/v1/alerts/targets", {
            "name": "hook", "type": "webhook", "url": rx.url,
            "secret": WEBHOOK_KEY, "kinds": ["cert_expiring"]})
        self.assertEqual(r.status, 201, r)
        node = FakeNode(cp.url, admin.post("/v1/nodes/join-tokens",
                                           {}).json()["token"], "edge-1")
        day = 86400

        def report(*certs):
            r = node.api.post("/v1/agent/status", {
                "tenants": [], "edge": {"state": "ok",
                                        "certs": list(certs)}})
            self.assertEqual(r.status, 204, r)

        def cert(host, before, after):
            return {"host": host, "not_before": utc(before),
                    "not_after": utc(after)}

        def got(subject, status):
            return [b["alert"] for b in rx.bodies()
                    if b["alert"]["subject"] == subject and
                    b["alert"]["status"] == status]

        # a 90-day certificate with 5 days left; a fresh internal one
        # (12 h, under 14 days but not due for renewal yet); one that
        # could not be read
        report(cert("a.claw.test", -85 * day, 5 * day),
               cert("b.claw.test", -3600, 11 * 3600),
               {"host": "c.claw.test", "error": "no TLS handshake"})
        a = wait_for(lambda: got("a.claw.test", "firing"),
                     what="a.claw.test expiring")[0]
        self.assertEqual(a["kind"], "cert_expiring")
        self.assertIn("a.claw.test", a["summary"])
        # the same report again raises nothing new
        report(cert("a.claw.test", -85 * day, 5 * day),
               cert("b.claw.test", -3600, 11 * 3600))
        # the internal one past its renewal point (2 h of 12 left)
        report(cert("a.claw.test", -85 * day, 5 * day),
               cert("b.claw.test", -10 * 3600, 2 * 3600))
        wait_for(lambda: got("b.claw.test", "firing"), what="b expiring")
        # renewed; and b no longer served
        report(cert("a.claw.test", 0, 90 * day))
        wait_for(lambda: got("a.claw.test", "resolved"), what="a renewed")
        wait_for(lambda: got("b.claw.test", "resolved"), what="b gone")
        self.assertEqual(len(got("a.claw.test", "firing")), 1)
        self.assertFalse(got("c.claw.test", "firing"))
        ev = [json.loads(x) for x in pg.psql(
            "SELECT data::text FROM fleet_events WHERE type = "
            "'cert.expiring' ORDER BY id", dbname="alertscerts").splitlines()]
        self.assertEqual([e["domain"] for e in ev],
                         ["a.claw.test", "b.claw.test"])
        self.assertEqual(ev[0]["node"], "edge-1")
        # malformed reports are refused whole
        for bad in ("x", [{"host": "d.claw.test"}],
                    [{"host": "d.claw.test", "not_before": "yesterday",
                      "not_after": utc(day)}],
                    [{"host": "d.claw.test", "not_before": utc(-day),
                      "not_after": "2026-13-01T00:00:00Z"}],
                    [{"host": "", "error": "x"}]):
            r = node.api.post("/v1/agent/status", {
                "tenants": [], "edge": {"certs": bad}})
            self.assertEqual(r.status, 422, (bad, r))
            self.assertEqual(r.json()["error"]["code"], "invalid_field")
        self.assertEqual(pg.psql("SELECT host FROM edge_certs",
                                 dbname="alertscerts"), "a.claw.test")


class AlertsRestartTest(unittest.TestCase):
    """State is in PostgreSQL: a restarted control plane neither fires an
    open alert again nor loses the events that came while it was down."""

    def test_restart(self):
        pg = PgCluster().start()
        self.addCleanup(pg.stop)
        url = pg.create_database("alertsrestart")
        data_dir = tempfile.mkdtemp(prefix="clawcp-alerts-")
        self.addCleanup(shutil.rmtree, data_dir, True)
        cp = ControlPlane(database_url=url, data_dir=data_dir).start()
        rx = Receiver()
        self.addCleanup(rx.close)
        r = cp.client().post("/v1/alerts/targets", {
            "name": "hook", "type": "webhook", "url": rx.url,
            "secret": WEBHOOK_KEY})
        self.assertEqual(r.status, 201, r)

        def event(type_, node):
            pg.psql("INSERT INTO fleet_events (type, node_id) VALUES "
                    "('%s', '%s')" % (type_, node), dbname="alertsrestart")
        event("node.down", "nod_r1")
        wait_for(lambda: len(rx.got) == 1, what="the first alert")
        cp.stop_clean()
        event("node.down", "nod_r1")  # again, while down: no new alert
        event("node.down", "nod_r2")  # new while down: not lost
        cp = ControlPlane(database_url=url, data_dir=data_dir).start()
        self.addCleanup(cp.stop_clean)
        wait_for(lambda: len(rx.got) >= 2, what="the alert of nod_r2")
        subjects = [b["alert"]["subject"] for b in rx.bodies()]
        self.assertEqual(sorted(subjects), ["nod_r1", "nod_r2"])
        items = cp.client().get("/v1/alerts").json()["items"]
        r1 = [a for a in items if a["subject"] == "nod_r1"][0]
        self.assertEqual(r1["occurrences"], 2)
        self.assertEqual(len(r1["deliveries"]), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
