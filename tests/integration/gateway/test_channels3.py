"""IRC through claw-gateway against a fake IRC server over TLS
(chanfakes2.FakeIRC, its certificate from a CA made with openssl for the
test): SASL PLAIN registration and the channels joined; direct messages
and channel messages addressed to the bot answered (others left);
replies cut to 512-byte lines as the server relays them, sent under the
flood control's token bucket; an IRCv3 msgid seen twice answered once; a
wrong SASL password, a server without SASL and a certificate of another
CA refused (nothing enqueued); and, with a fresh gateway each, a SIGKILL
between receipt and reply answered exactly once after the restart,
pairing, allow-lists and the suspended tenant's notice."""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import chanfakes2 as C  # noqa: E402
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402

NICK = "claw"
LOGIN = "clawbot"
PASSWORD = "irc-sasl-pass-0123"
BURST = 2
INTERVAL_MS = 300

_ca = []


def ca():
    if not _ca:
        _ca.append(C.TestCA())
    return _ca[0]


def irc_config(irc, ca_file=None, **extra):
    ch = {"server": irc.server, "nick": NICK, "sasl_username": LOGIN,
          "channels": ["#room", "#other"], "flood_burst": BURST,
          "flood_interval_ms": INTERVAL_MS}
    ch.update(extra)
    cfg = F.tenant_config({"irc": ch})
    cfg["ca_file"] = ca_file or ca().ca
    return cfg


def secrets(password=PASSWORD):
    return dict(F.SECRETS, irc_sasl_password=password)


class IRC(F.ClassGatewayCase):
    @classmethod
    def fixture(cls):
        cls.irc = C.FakeIRC(ca(), LOGIN, PASSWORD)
        return cls.irc, irc_config(cls.irc), secrets()

    def setUp(self):
        super().setUp()
        wait_for(self.irc.registered, what="registration")
        wait_for(lambda: {"#room", "#other"} <= set(self.irc.joined),
                 what="channels joined")

    def test_sasl_registration(self):
        self.assertIn((LOGIN, True), self.irc.auth)
        sent = [line.split(" ")[0] for line in self.irc.sent("CAP")] + \
            self.irc.sent("AUTHENTICATE")[:1]
        self.assertEqual(sent[:3], ["CAP", "CAP", "CAP"])
        self.assertEqual(self.irc.sent("CAP")[:3],
                         ["CAP LS 302", "CAP REQ :sasl", "CAP END"])
        self.assertEqual(self.irc.sent("AUTHENTICATE")[0],
                         "AUTHENTICATE PLAIN")
        self.assertEqual(self.irc.sent("NICK")[0], "NICK " + NICK)
        # the password never appears in clear in the gateway's log
        self.assertNotIn(PASSWORD, self.gw.daemon.log_text())

    def test_dm_reply(self):
        self.irc.say("Alice", NICK, "hello irc")
        wait_for(lambda: self.irc.replies("Alice"), what="reply")
        self.assertEqual(self.irc.replies("Alice"), ["echo: hello irc"])
        env = [e for e in self.rt.envelopes if e["text"] == "hello irc"][0]
        self.assertEqual((env["channel"], env["conversation"],
                          env["sender"]["id"], env["account"]),
                         ("irc", "irc:alice", "Alice", NICK))
        self.assertTrue(env["id"].startswith("irc:"))

    def test_channel_mention_only(self):
        n = self.rt.count()
        self.irc.say("bob", "#room", "just chatting")
        self.irc.say("bob", "#room", "CLAW: what time is it")
        wait_for(lambda: self.irc.replies("#room"), what="reply")
        time.sleep(0.3)
        self.assertEqual(self.irc.replies("#room"),
                         ["bob: echo: what time is it"])
        self.assertEqual(self.rt.texts()[n:], ["what time is it"])
        env = self.rt.envelopes[n]
        self.assertEqual(env["conversation"], "irc:#room")

    def test_ctcp_and_notice_left(self):
        n = self.rt.count()
        self.irc.say("carol", NICK, "\x01VERSION\x01")
        c = self.irc.bot()
        c.send(":carol!c@u.irc.test NOTICE %s :a notice" % NICK)
        self.irc.say("carol", NICK, "after")
        wait_for(lambda: self.irc.replies("carol"), what="reply")
        self.assertEqual(self.rt.texts()[n:], ["after"])

    def test_msgid_duplicate_answered_once(self):
        tags = {"msgid": "dup-0001", "time": "2026-12-06T12:00:00.000Z"}
        self.irc.say("dave", NICK, "once only", tags=tags)
        wait_for(lambda: self.irc.replies("dave"), what="reply")
        self.irc.say("dave", NICK, "once only", tags=tags)
        self.irc.say("dave", NICK, "next")
        wait_for(lambda: len(self.irc.replies("dave")) >= 2,
                 what="second reply")
        time.sleep(0.3)
        self.assertEqual(self.irc.replies("dave"),
                         ["echo: once only", "echo: next"])
        env = [e for e in self.rt.envelopes if e["text"] == "once only"]
        self.assertEqual([e["id"] for e in env], ["irc:dup-0001"])
        # tag values are unescaped (IRCv3: \\: is a semicolon)
        self.irc.say("dave", NICK, "escaped", tags={"msgid": "a\\:b"})
        wait_for(lambda: "escaped" in self.rt.texts(), what="escaped")
        env = [e for e in self.rt.envelopes if e["text"] == "escaped"]
        self.assertEqual(env[0]["id"], "irc:a;b")

    def test_split_and_flood_control(self):
        asked = time.monotonic()
        self.irc.say("erin", NICK, "long:1500")
        wait_for(lambda: sum(len(t) for t in self.irc.replies("erin"))
                 >= 1500, what="pieces")
        got = self.irc.privmsgs("erin")
        self.assertEqual("".join(t for _, t in got), "x" * 1500)
        self.assertGreaterEqual(len(got), 4)
        # every line fits 512 bytes as relayed (the fake checks each)
        self.assertEqual(self.irc.errors, [])
        # after the burst, one line per interval at most: line i cannot
        # leave before (i - BURST + 1) intervals have passed since the
        # question was asked. A bound from the start, not between lines:
        # a busy reader may take two lines close together, never early.
        for i in range(BURST, len(got)):
            self.assertGreaterEqual(got[i][0] - asked,
                                    (i - BURST + 1) * INTERVAL_MS / 1000.0,
                                    i)

    def test_ping_answered(self):
        c = self.irc.bot()
        c.send("PING :irc.test-123")
        wait_for(lambda: "PONG :irc.test-123" in self.irc.sent("PONG"),
                 what="pong")


# ------------------------------------------------------------- lifecycle
class Fresh(unittest.TestCase):
    """A fresh gateway each (self.gws); the fakes in self.fakes are closed
    at the end and must have seen no protocol error."""

    def setUp(self):
        self.rt = F.FakeRuntime()
        self.gws = []
        self.fakes = []

    def tearDown(self):
        for gw in self.gws:
            if gw.daemon and gw.daemon.running():
                gw.stop()
        self.rt.close()
        for fake in self.fakes:
            fake.close()
            self.assertFalse(fake.errors)


class ConfigRefused(unittest.TestCase):
    """Bad IRC and e-mail settings stop the gateway at start, the message
    naming the field."""

    def refused(self, chans, secrets):
        d = tempfile.mkdtemp(prefix="clawgw-conf-")
        os.makedirs(os.path.join(d, "s"))
        for k, v in secrets.items():
            with open(os.path.join(d, "s", k), "w") as f:
                f.write(v)
        with open(os.path.join(d, "gw.json"), "w") as f:
            json.dump(F.tenant_config(chans), f)
        p = subprocess.run(
            [F.GATEWAY, "--config", os.path.join(d, "gw.json"),
             "--secrets-dir", os.path.join(d, "s"), "--data-dir",
             os.path.join(d, "data"), "--listen", "127.0.0.1:0",
             "--proxy-listen", "off"], capture_output=True, text=True,
            timeout=60)
        self.assertNotEqual(p.returncode, 0)
        return p.stderr

    def test_bad_values(self):
        irc = {"server": "127.0.0.1:6697", "nick": "claw"}
        mail = {"imap_url": "imaps://127.0.0.1", "smtp_url":
                "smtps://127.0.0.1", "address": BOT, "authserv_id": "mx",
                "dm_policy": "allowlist"}
        sec = {"irc_sasl_password": "p", "email_password": "p"}
        for extra, why in (
                ({"server": "no-port"}, "channels.irc: server"),
                ({"nick": "9lives"}, "channels.irc: nick"),
                ({"channels": ["room"]}, "channels.irc: channels"),
                ({"flood_burst": 0}, "channels.irc: flood_burst"),
                ({"flood_interval_ms": 10}, "channels.irc: flood_burst")):
            self.assertIn(why, self.refused({"irc": dict(irc, **extra)},
                                            sec), extra)
        for extra, why in (
                ({"dm_policy": "open"}, "channels.email: dm_policy"),
                ({"imap_url": "https://x"}, "channels.email: imap_url"),
                ({"smtp_url": "smtps://u@h/x"}, "channels.email: smtp_url"),
                ({"address": "Claw <c@x>"}, "channels.email: address"),
                ({"authserv_id": "a;b"}, "channels.email: authserv_id"),
                ({"mailbox": "../x y"}, "channels.email: mailbox"),
                ({"poll_interval_ms": 5}, "channels.email: poll_interval")):
            self.assertIn(why, self.refused({"email": dict(mail, **extra)},
                                            sec), extra)
        # the password files are required
        self.assertIn("irc_sasl_password", self.refused({"irc": irc}, {}))
        self.assertIn("email_password", self.refused({"email": mail}, {}))


class Lifecycle(Fresh):
    """A fresh gateway and IRC server each."""

    def server(self, **kw):
        irc = C.FakeIRC(ca(), LOGIN, PASSWORD, **kw)
        self.fakes.append(irc)
        return irc

    def start(self, cfg, data_dir=None, password=PASSWORD):
        gw = F.Gateway(self.rt.url, cfg, secrets=secrets(password),
                       data_dir=data_dir).start()
        self.gws.append(gw)
        return gw

    def test_sigkill_between_receipt_and_reply(self):
        irc = self.server()
        gw = self.start(irc_config(irc))
        wait_for(irc.registered, what="registration")
        self.rt.hold()
        irc.say("frank", NICK, "before crash")
        wait_for(lambda: self.rt.count() >= 1, what="runtime called")
        self.assertEqual(gw.metric("claw_gateway_journal_depth"), 1)
        gw.kill()                      # received and journaled, not answered
        self.rt.release()
        time.sleep(0.3)
        self.assertEqual(irc.replies("frank"), [])
        connects = irc.connects
        gw2 = self.start(irc_config(irc), data_dir=gw.data_dir)
        wait_for(lambda: irc.connects > connects and irc.replies("frank"),
                 what="the reply after the restart")
        wait_for(lambda: gw2.metric("claw_gateway_journal_depth") == 0,
                 what="journal drained")
        time.sleep(0.5)
        self.assertEqual(irc.replies("frank"), ["echo: before crash"])

    def test_bad_password_refused(self):
        irc = self.server()
        gw = self.start(irc_config(irc), password="wrong-password")
        wait_for(lambda: irc.auth, what="an authentication attempt")
        self.assertEqual(irc.auth[0], (LOGIN, False))
        wait_for(lambda: "QUIT" in [s.split(" ")[0] for s in
                                    irc.sent("QUIT")], what="quit")
        self.assertFalse(irc.registered())
        self.assertNotIn("CAP END", irc.sent("CAP"))
        self.assertEqual(irc.joined, [])
        self.assertEqual(self.rt.count(), 0)
        self.assertNotIn("wrong-password", gw.daemon.log_text())
        self.assertIn("SASL authentication failed", gw.daemon.log_text())

    def test_server_without_sasl_gets_no_password(self):
        irc = self.server(offer_sasl=False)
        gw = self.start(irc_config(irc))
        wait_for(lambda: irc.sent("QUIT"), what="quit")
        self.assertEqual(irc.sent("AUTHENTICATE"), [])
        self.assertNotIn("CAP REQ :sasl", irc.sent("CAP"))
        self.assertFalse(irc.registered())
        self.assertIn("no SASL", gw.daemon.log_text())

    def test_certificate_of_another_ca_refused(self):
        irc = self.server()
        other = C.TestCA()
        self.start(irc_config(irc, ca_file=other.ca))
        wait_for(lambda: irc.connects >= 1, what="a handshake")
        time.sleep(0.5)
        self.assertEqual(irc.lines, [])   # nothing was sent
        self.assertEqual(irc.auth, [])

    def test_pairing_allowlist_suspended(self):
        irc = self.server()
        cfg = irc_config(irc, dm_policy="pairing")
        gw = self.start(cfg)
        wait_for(irc.registered, what="registration")
        irc.say("pat", NICK, "pair me")
        wait_for(lambda: irc.replies("pat"), what="pairing code")
        self.assertIn("pairing code", irc.replies("pat")[0])
        pending = gw.get("/admin/pairing", token=F.ADMIN_TOKEN).json()
        self.assertEqual([p["channel"] for p in
                          pending["pairing_requests"]], ["irc"])
        cfg["channels"]["irc"].update(dm_policy="allowlist",
                                      allow_from=["listed"])
        gw.reload(cfg)
        irc.say("other", NICK, "not listed")
        irc.say("listed", NICK, "listed")
        wait_for(lambda: irc.replies("other") and irc.replies("listed"),
                 what="allow-list")
        self.assertIn("only talks to people", irc.replies("other")[0])
        self.assertEqual(irc.replies("listed"), ["echo: listed"])
        self.assertEqual(self.rt.texts(), ["listed"])
        cfg["suspended"] = True
        cfg["unavailable_text"] = "Paused by the operator."
        gw.reload(cfg)
        irc.say("listed", NICK, "while suspended")
        wait_for(lambda: irc.replies("listed")[-1] ==
                 "Paused by the operator.", what="notice")
        self.assertEqual(self.rt.texts(), ["listed"])


# ----------------------------------------------------------------- email
BOT = "claw@bot.test"
MAIL_LOGIN = "claw-login"
MAIL_PASSWORD = "mail-pass-4567"
ANN = "ann@example.com"
# allow-listed senders, one per test (a class shares one gateway)
LISTED = [ANN] + ["u%d@example.com" % i for i in range(6)]


def email_config(imap, smtp, **extra):
    ch = {"imap_url": imap.url, "smtp_url": smtp.url, "address": BOT,
          "username": MAIL_LOGIN, "authserv_id": "mx.bot.test",
          "dm_policy": "allowlist", "allow_from": LISTED,
          "poll_interval_ms": 200}
    ch.update(extra)
    cfg = F.tenant_config({"email": ch})
    cfg["ca_file"] = ca().ca
    return cfg


def mail_secrets(password=MAIL_PASSWORD):
    return dict(F.SECRETS, email_password=password)


class _MailFakes:
    """An IMAP and an SMTP server as one fake (errors of both)."""

    def __init__(self):
        self.imap = C.FakeIMAP(ca(), MAIL_LOGIN, MAIL_PASSWORD)
        self.smtp = C.FakeSMTP(ca(), MAIL_LOGIN, MAIL_PASSWORD)

    @property
    def errors(self):
        return self.imap.errors + self.smtp.errors

    def close(self):
        self.imap.close()
        self.smtp.close()


class Email(F.ClassGatewayCase):
    @classmethod
    def fixture(cls):
        cls.m = _MailFakes()
        # mail there before the gateway first polls is history
        cls.old = cls.m.imap.deliver(C.mail(ANN, "old", "old news")[0])
        return cls.m, email_config(cls.m.imap, cls.m.smtp), mail_secrets()

    def setUp(self):
        super().setUp()
        wait_for(lambda: any("STATUS" in c for c in self.m.imap.commands),
                 what="the first poll")

    def deliver(self, *a, **kw):
        raw, mid = C.mail(*a, **kw)
        self.m.imap.deliver(raw)
        return mid

    def wait_polled(self):
        """Two more STATUS polls: everything delivered was read."""
        n = len([c for c in self.m.imap.commands if "STATUS" in c])
        wait_for(lambda: len([c for c in self.m.imap.commands
                              if "STATUS" in c]) >= n + 2, what="polls")

    def test_reply_threaded(self):
        mid = self.deliver(ANN, "Hello", "hi there\n")
        wait_for(lambda: self.m.smtp.to(ANN), what="reply")
        r = self.m.smtp.to(ANN)[0]
        self.assertEqual(r["Subject"], "Re: Hello")
        self.assertEqual(r["In-Reply-To"], mid)
        self.assertEqual(r["References"], mid)
        self.assertEqual(r["From"].addresses[0].addr_spec, BOT)
        self.assertEqual(r["Auto-Submitted"], "auto-replied")
        self.assertEqual(r.get_content().strip(), "echo: hi there")
        env = [e for e in self.rt.envelopes if e["text"] == "hi there"][0]
        self.assertEqual((env["id"], env["conversation"], env["channel"],
                          env["sender"]["id"], env["sender"]["name"]),
                         ("email:" + mid, "email:" + mid, "email", ANN,
                          "Ann Example"))
        # the user answers our reply: the same conversation, quote cut
        ours = r["Message-ID"]
        self.deliver(ANN, "Re: Hello", "and then?\n\nOn Sun, Ann wrote:\n"
                     "> echo: hi there\n", in_reply_to=ours,
                     references="%s %s" % (mid, ours))
        wait_for(lambda: len(self.m.smtp.to(ANN)) >= 2, what="reply 2")
        env2 = [e for e in self.rt.envelopes if e["text"] == "and then?"]
        self.assertEqual(env2[0]["conversation"], "email:" + mid)
        r2 = self.m.smtp.to(ANN)[1]
        self.assertEqual(r2["Subject"], "Re: Hello")
        self.assertEqual(r2["References"], "%s %s %s" % (
            mid, ours, env2[0]["id"][len("email:"):]))
        self.assertNotIn("old news", self.rt.texts())

    def test_dkim_spf_failures_refused(self):
        bad0 = self.refused("email", "bad_signature")
        n = self.rt.count()
        U = LISTED[1]
        self.deliver(U, "s", "fails both",
                     auth="dkim=fail header.d=example.com; spf=softfail")
        self.deliver(U, "s", "another server's pass",
                     authserv="mx.evil.test")
        self.deliver(U, "s", "no results", auth=None)
        self.deliver(U, "s", "a pass for another domain",
                     auth="dkim=pass header.d=evil.test; spf=pass "
                     "smtp.mailfrom=bounce@evil.test; dmarc=pass "
                     "header.from=evil.test")
        self.deliver(U, "s", "a pass without its domain",
                     auth="dkim=pass; spf=pass")
        self.deliver(U, "s", "pass in a comment",
                     auth="dkim=none (dkim=pass); spf=\"pass\"")
        # ours on top says fail; a forged one below claims pass
        self.deliver(U, "s", "forged below", auth="dkim=fail",
                     extra=["Authentication-Results: mx.bot.test; "
                            "dkim=pass"])
        self.deliver(U, "s", "spf alone passes",
                     auth="dkim=none; spf=pass smtp.mailfrom=example.com")
        self.deliver(U, "s", "dkim of a parent domain passes",
                     auth="dkim=pass header.i=@mail.example.com")
        wait_for(lambda: "dkim of a parent domain passes" in self.rt.texts(),
                 what="the good ones")
        self.wait_polled()
        self.assertEqual(self.rt.texts()[n:], [
            "spf alone passes", "dkim of a parent domain passes"])
        self.assertEqual(self.refused("email", "bad_signature"), bad0 + 7)

    def test_mime_decoded(self):
        body = (b"preamble\r\n--b1\r\n"
                b"Content-Type: multipart/alternative; boundary=\"b2\"\r\n"
                b"\r\n--b2\r\nContent-Type: text/plain; charset=iso-8859-1"
                b"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
                b"caf=E9 au lait, a long line that is soft=\r\n broken\r\n"
                b"--b2\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
                b"--b2--\r\n--b1\r\nContent-Type: application/pdf\r\n"
                b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
                b"--b1--\r\n")
        self.deliver(LISTED[2], "mime", None, body=body, extra=[
            "Content-Type: multipart/mixed; boundary=b1"])
        want = "caf\u00e9 au lait, a long line that is soft broken"
        wait_for(lambda: want in self.rt.texts(), what="decoded text")
        b64 = base64.b64encode("b\u00f6se".encode()).decode()
        self.deliver(LISTED[2], "b64", None, body=(b64 + "\r\n").encode(),
                     extra=["Content-Type: text/plain; charset=utf-8",
                            "Content-Transfer-Encoding: base64"])
        wait_for(lambda: "b\u00f6se" in self.rt.texts(), what="base64 text")

    def test_not_listed_automatic_and_own_mail(self):
        n = self.rt.count()
        self.deliver("mallory@example.com", "hi", "let me in")
        self.deliver(LISTED[3], "away", "out of office",
                     extra=["Auto-Submitted: auto-replied"])
        self.deliver(BOT, "loop", "from myself")
        self.deliver(LISTED[3], "after", "after those")
        wait_for(lambda: "after those" in self.rt.texts(), what="last")
        wait_for(lambda: self.m.smtp.to("mallory@example.com"),
                 what="the allow-list notice")
        self.assertIn("only talks to people",
                      self.m.smtp.texts("mallory@example.com")[0])
        self.assertEqual(self.rt.texts()[n:], ["after those"])
        self.assertEqual(self.m.smtp.to(BOT), [])

    def test_smtp_temporary_failure_retried(self):
        with self.m.smtp.lock:
            self.m.smtp.fail_next = 1
        U = LISTED[4]
        self.deliver(U, "retry", "try twice")
        wait_for(lambda: self.m.smtp.texts(U), what="reply")
        time.sleep(0.3)
        self.assertEqual(self.m.smtp.texts(U), ["echo: try twice"])


class EmailLifecycle(Fresh):
    def setUp(self):
        super().setUp()
        self.m = _MailFakes()
        self.fakes.append(self.m)

    def start(self, data_dir=None, password=MAIL_PASSWORD):
        n = len([c for c in self.m.imap.commands if "STATUS" in c])
        gw = F.Gateway(self.rt.url, email_config(self.m.imap, self.m.smtp),
                       secrets=mail_secrets(password),
                       data_dir=data_dir).start()
        self.gws.append(gw)
        if password == MAIL_PASSWORD:
            wait_for(lambda: len([c for c in self.m.imap.commands
                                  if "STATUS" in c]) > n,
                     what="the first poll")
        return gw

    def test_sigkill_between_receipt_and_reply(self):
        gw = self.start()
        self.rt.hold()
        raw, mid = C.mail(ANN, "crash", "before crash")
        self.m.imap.deliver(raw)
        wait_for(lambda: self.rt.count() >= 1, what="runtime called")
        gw.kill()
        self.rt.release()
        time.sleep(0.3)
        self.assertEqual(self.m.smtp.to(ANN), [])
        gw2 = self.start(data_dir=gw.data_dir)
        wait_for(lambda: self.m.smtp.to(ANN), what="reply after restart")
        wait_for(lambda: gw2.metric("claw_gateway_journal_depth") == 0,
                 what="journal drained")
        n = len(self.m.imap.commands)
        wait_for(lambda: len(self.m.imap.commands) > n + 6, what="polls")
        self.assertEqual(self.m.smtp.texts(ANN), ["echo: before crash"])

    def test_bad_imap_password(self):
        gw = self.start(password="wrong-imap-pass-77")
        self.m.imap.deliver(C.mail(ANN, "x", "unread")[0])
        wait_for(lambda: len(self.m.imap.logins) >= 2, what="logins")
        self.assertTrue(all(not ok for _, ok in self.m.imap.logins))
        self.assertEqual(self.m.imap.fetched(), [])
        self.assertEqual(self.rt.count(), 0)
        self.assertNotIn("wrong-imap-pass-77", gw.daemon.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
