"""LINE, Twilio (SMS and WhatsApp through Twilio) and Mattermost through
claw-gateway against fakes of their APIs (gwfakes): each platform's
verification (good, forged, missing, tampered; Twilio signed for another
URL), retries and redeliveries answered once, malformed bodies refused
with 400 and never enqueued, replies through the API with the right
path, auth and body, splitting to the platform's limit (LINE's UTF-16
units, SMS segments GSM-7 and UCS-2, Mattermost's post size), 429
handling, LINE's expired reply token answered by a push with a stable
X-Line-Retry-Key (a push accepted but not acknowledged is not sent
twice), Mattermost's refused thread root, messages dated too long ago
dropped; and, with a fresh gateway each: a SIGKILL between the
acknowledgement and the reply answered exactly once after the restart,
pairing, allow-lists and the suspended tenant's notice per channel."""

import base64
import json
import os
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402


def config(fc, **over):
    return F.tenant_config(F.more_channels(fc), **over)


class Base(F.ClassGatewayCase):
    """One gateway for the class, every new channel on."""
    @classmethod
    def fixture(cls):
        cls.fc = F.FakeChannels()
        return cls.fc, config(cls.fc, twilio={"max_segments": 2}), None

    def line(self, body, headers=None):
        data = json.dumps(body).encode()
        h = F.sign_line(data)
        h.update(headers or {})
        return self.gw.post("/line/webhook", data, h)

    def twilio(self, params, url=F.TW_URL, token=F.TW_TOKEN):
        return self.gw.post_form("/twilio/webhook", params,
                                 F.sign_twilio(params, url, token))

    def mm(self, fields, as_json=False):
        if as_json:
            body = dict(fields, timestamp=int(fields["timestamp"]) * 1000)
            return self.gw.post("/mattermost/webhook", body)
        return self.gw.post_form("/mattermost/webhook",
                                 list(fields.items()))

    def delivered(self, to):
        with self.fc.lock:
            return [t for who, t in self.fc.line_delivered if who == to]

    def line_calls(self, kind):
        return [c for c in self.fc.sent("line", kind)]

    def tw_to(self, number):
        return [c[4] for c in self.fc.sent("twilio") if c[4]["To"] == number]

    def mm_in(self, channel):
        return [c[4] for c in self.fc.sent("mattermost")
                if c[4]["channel_id"] == channel]


class Line(Base):
    def test_reply_with_token(self):
        ev = F.line_event(self.fc, "hello line", user="U0000000000000001")
        r = self.line(ev)
        self.assertEqual((r.status, r.json()), (200, {"ok": True}))
        token = ev["events"][0]["replyToken"]
        wait_for(lambda: self.delivered(token), what="reply")
        self.assertEqual(self.delivered(token), ["echo: hello line"])
        call = [c for c in self.line_calls("/reply")
                if c[4]["replyToken"] == token][0]
        self.assertEqual(call[3]["Authorization"], "Bearer " + F.LINE_TOKEN)
        self.assertNotIn("X-Line-Retry-Key", call[3])
        env = [e for e in self.rt.envelopes if e["text"] == "hello line"][0]
        self.assertEqual((env["channel"], env["conversation"],
                          env["account"], env["sender"]["id"]),
                         ("line", "line:U0000000000000001", F.LINE_BOT,
                          "U0000000000000001"))

    def test_forged_missing_tampered_refused(self):
        n, bad = self.rt.count(), self.refused("line", "bad_signature")
        ev = F.line_event(self.fc, "forged line")
        data = json.dumps(ev).encode()
        for h in (F.sign_line(data, "not-the-secret"),
                  {"Content-Type": "application/json"},
                  F.sign_line(data.replace(b"forged", b"FORGED")),
                  dict(F.sign_line(data), **{"X-Line-Signature":
                                             F.sign_line(data)[
                                                 "X-Line-Signature"][:-2]})):
            r = self.gw.post("/line/webhook", data, h)
            self.assertEqual((r.status, r.error_code()),
                             (401, "bad_signature"))
        self.assertEqual(self.refused("line", "bad_signature"), bad + 4)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    def test_redelivery_answered_once(self):
        ev = F.line_event(self.fc, "redelivered", user="U0000000000000002")
        self.assertEqual(self.line(ev).status, 200)
        token = ev["events"][0]["replyToken"]
        wait_for(lambda: self.delivered(token), what="reply")
        again = json.loads(json.dumps(ev))
        again["events"][0]["deliveryContext"]["isRedelivery"] = True
        self.assertEqual(self.line(again).status, 200)
        self.assertEqual(self.line(ev).status, 200)   # the same bytes too
        time.sleep(0.5)
        self.assertEqual(self.rt.texts().count("redelivered"), 1)
        self.assertEqual(self.delivered(token), ["echo: redelivered"])

    def test_expired_token_pushes_once(self):
        """The agent took longer than the reply token lives: the reply is
        pushed with a retry key; a push LINE accepted but whose answer
        was lost is retried with the same key and not sent twice."""
        user = "U0000000000000003"
        self.rt.hold()
        ev = F.line_event(self.fc, "slow agent", user=user)
        token = ev["events"][0]["replyToken"]
        self.assertEqual(self.line(ev).status, 200)
        wait_for(lambda: "slow agent" in self.rt.texts(), what="runtime")
        with self.fc.lock:
            self.fc.line_tokens[token] = "expired"
            self.fc.line_fail_after_accept = 1
        self.rt.release()
        wait_for(lambda: len([c for c in self.line_calls("/push")
                              if c[4]["to"] == user]) >= 2,
                 what="push and its retry")
        pushes = [c for c in self.line_calls("/push") if c[4]["to"] == user]
        keys = {c[3]["X-Line-Retry-Key"] for c in pushes}
        self.assertEqual(len(keys), 1)   # the same key each attempt
        time.sleep(0.3)
        self.assertEqual(self.delivered(user), ["echo: slow agent"])
        self.assertEqual(self.delivered(token), [])

    def test_split_utf16_reply_then_pushes(self):
        user = "U0000000000000004"
        ev = F.line_event(self.fc, "long:12000", user=user)
        token = ev["events"][0]["replyToken"]
        self.line(ev)
        wait_for(lambda: len(self.delivered(user)) >= 2, what="pieces")
        self.assertEqual([len(t) for t in self.delivered(token)], [5000])
        self.assertEqual([len(t) for t in self.delivered(user)],
                         [5000, 2000])
        keys = [c[3]["X-Line-Retry-Key"] for c in self.line_calls("/push")
                if c[4]["to"] == user]
        self.assertEqual(len(set(keys)), 2)   # one key a piece

    def test_429_retried(self):
        """A 429 on the reply, then on a push: both retried (the reply
        token is still good after a 429)."""
        user = "U0000000000000005"
        self.fc.ratelimit_next["line"] = 1
        ev = F.line_event(self.fc, "long:6000", user=user)
        self.line(ev)
        token = ev["events"][0]["replyToken"]
        wait_for(lambda: self.delivered(token), what="reply after 429")
        self.fc.ratelimit_next["line"] = 1
        ev = F.line_event(self.fc, "limited push", user=user)
        with self.fc.lock:
            self.fc.line_tokens[ev["events"][0]["replyToken"]] = "expired"
        self.line(ev)
        wait_for(lambda: "echo: limited push" in self.delivered(user),
                 what="push after 429")
        self.assertEqual(self.delivered(user), ["x" * 1000,
                                                "echo: limited push"])
        self.assertGreaterEqual(self.gw.metric(
            'claw_gateway_send_retries_total{channel="line"}'), 2)

    def test_group_mention_and_quote(self):
        group = "Ca0000000000000000000000000000006"
        ev = F.line_event(self.fc, "not for the bot", group=group)
        self.assertEqual(self.line(ev).status, 200)
        ev = F.line_event(self.fc, "@claw for the bot", group=group,
                          mention=True)
        self.assertEqual(self.line(ev).status, 200)
        token = ev["events"][0]["replyToken"]
        wait_for(lambda: self.delivered(token), what="reply")
        call = [c for c in self.line_calls("/reply")
                if c[4]["replyToken"] == token][0]
        self.assertEqual(call[4]["messages"][0]["quoteToken"],
                         ev["events"][0]["message"]["quoteToken"])
        self.assertNotIn("not for the bot", self.rt.texts())

    def test_stale_malformed_and_verify(self):
        n = self.rt.count()
        stale = self.refused("line", "stale")
        old = F.line_event(self.fc, "line from 2018",
                           ts_ms=1525176000000)
        self.assertEqual(self.line(old).status, 200)
        self.assertEqual(self.refused("line", "stale"), stale + 1)
        # LINE's console "Verify": no events
        r = self.line({"destination": F.LINE_BOT, "events": []})
        self.assertEqual(r.status, 200)
        for body in ({"events": {}}, {"events": [{"type": "message"}]},
                     {"destination": 5, "events": []}):
            r = self.line(body)
            self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        r = self.gw.post("/line/webhook", b"{not json",
                         F.sign_line(b"{not json"))
        self.assertEqual(r.status, 400)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)


class Twilio(Base):
    def test_sms_reply(self):
        sender = "+14155550001"
        p = F.twilio_params("hello sms", sender=sender)
        r = self.twilio(p)
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.headers["Content-Type"], "text/xml")
        self.assertIn(b"<Response></Response>", r.body)
        sent = wait_for(lambda: self.tw_to(sender), what="reply")
        self.assertEqual(sent[0], {"To": sender, "From": F.TW_NUMBER,
                                   "Body": "echo: hello sms"})
        env = [e for e in self.rt.envelopes if e["text"] == "hello sms"][0]
        self.assertEqual((env["channel"], env["sender"]["id"],
                          env["conversation"]),
                         ("twilio", sender, "twilio:%s:%s" % (F.TW_NUMBER,
                                                               sender)))

    def test_forged_and_other_url_refused(self):
        n, bad = self.rt.count(), self.refused("twilio", "bad_signature")
        p = F.twilio_params("forged sms")
        for h in (F.sign_twilio(p, token="wrong"),
                  F.sign_twilio(p, url="https://evil.test/twilio/webhook"),
                  F.sign_twilio(p + [("Extra", "1")]),
                  {"Content-Type": "application/x-www-form-urlencoded"}):
            r = self.gw.post_form("/twilio/webhook", p, h)
            self.assertEqual((r.status, r.error_code()),
                             (401, "bad_signature"))
        # a tampered value after signing
        h = F.sign_twilio(p)
        tampered = [(k, "FORGED" if k == "Body" else v) for k, v in p]
        r = self.gw.post_form("/twilio/webhook", tampered, h)
        self.assertEqual(r.status, 401)
        self.assertEqual(self.refused("twilio", "bad_signature"), bad + 5)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    def test_retry_answered_once_and_status_callback(self):
        sender = "+14155550002"
        p = F.twilio_params("twice sms", sender=sender)
        self.assertEqual(self.twilio(p).status, 200)
        wait_for(lambda: self.tw_to(sender), what="reply")
        self.assertEqual(self.twilio(p).status, 200)
        # the delivery status of our reply, posted to the same URL
        status = [("MessageSid", "SM%032x" % 77), ("AccountSid", F.TW_ACCOUNT),
                  ("From", F.TW_NUMBER), ("To", sender),
                  ("MessageStatus", "delivered")]
        self.assertEqual(self.twilio(status).status, 200)
        time.sleep(0.5)
        self.assertEqual(len(self.tw_to(sender)), 1)
        self.assertEqual(self.rt.texts().count("twice sms"), 1)

    def test_split_by_segment(self):
        """max_segments 2: GSM-7 pieces of 306 septets, UCS-2 of 134."""
        a, b = "+14155550003", "+14155550004"
        self.twilio(F.twilio_params("long:400", sender=a))
        self.twilio(F.twilio_params("ulong:200", sender=b))
        wait_for(lambda: len(self.tw_to(a)) >= 2 and len(self.tw_to(b)) >= 2,
                 what="pieces")
        self.assertEqual([len(m["Body"]) for m in self.tw_to(a)], [306, 94])
        self.assertEqual([len(m["Body"]) for m in self.tw_to(b)], [134, 66])

    def test_whatsapp_through_twilio(self):
        sender = "whatsapp:+14155550005"
        p = F.twilio_params("long:2000", sender=sender, to=F.TW_WA_NUMBER,
                            extra=[("ProfileName", "Ann"),
                                   ("WaId", "14155550005")])
        self.assertEqual(self.twilio(p).status, 200)
        wait_for(lambda: len(self.tw_to(sender)) >= 2, what="pieces")
        sent = self.tw_to(sender)
        self.assertEqual([len(m["Body"]) for m in sent], [1600, 400])
        self.assertEqual(sent[0]["From"], F.TW_WA_NUMBER)
        env = [e for e in self.rt.envelopes
               if e["sender"]["id"] == sender][0]
        self.assertEqual(env["sender"]["name"], "Ann")

    def test_429_retried(self):
        self.fc.ratelimit_next["twilio"] = 1
        sender = "+14155550006"
        self.twilio(F.twilio_params("limited sms", sender=sender))
        wait_for(lambda: len(self.tw_to(sender)) >= 2, what="retry")
        self.assertEqual(self.tw_to(sender)[-1]["Body"], "echo: limited sms")

    def test_malformed_and_other_account(self):
        n = self.rt.count()
        p = [("Body", "no sid"), ("From", "+1"), ("To", "+2")]
        r = self.twilio(p)
        self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        p = [(k, "AC" + "f" * 32 if k == "AccountSid" else v)
             for k, v in F.twilio_params("other account")]
        r = self.twilio(p)
        self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        r = self.gw.post("/twilio/webhook", b"Body=%zz",
                         {"Content-Type":
                          "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 401)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)


class Mattermost(Base):
    def test_form_reply_in_thread(self):
        f = F.mm_payload("#ask what time", channel="c0000000000000000000001")
        r = self.mm(f)
        self.assertEqual((r.status, r.json()), (200, {}))
        sent = wait_for(lambda: self.mm_in("c0000000000000000000001"),
                        what="reply")
        self.assertEqual(sent[0], {"channel_id": "c0000000000000000000001",
                                   "message": "echo: #ask what time",
                                   "root_id": f["post_id"]})
        call = self.fc.sent("mattermost")[-1]
        self.assertEqual(call[3]["Authorization"], "Bearer " + F.MM_BOT)
        env = [e for e in self.rt.envelopes
               if e["text"] == "#ask what time"][0]
        self.assertEqual((env["channel"], env["conversation"],
                          env["sender"]["name"]),
                         ("mattermost", "mattermost:c0000000000000000000001",
                          "ann"))

    def test_json_payload(self):
        f = F.mm_payload("@claw json please", trigger="",
                         channel="c0000000000000000000002")
        self.assertEqual(self.mm(f, as_json=True).status, 200)
        wait_for(lambda: self.mm_in("c0000000000000000000002"), what="reply")

    def test_bad_token_refused(self):
        n, bad = self.rt.count(), self.refused("mattermost",
                                               "bad_signature")
        f = F.mm_payload("forged mm", token="x" * 26)
        self.assertEqual(self.mm(f).status, 401)
        self.assertEqual(self.mm(f, as_json=True).status, 401)
        f = F.mm_payload("forged mm")
        del f["token"]
        r = self.mm(f)
        self.assertEqual((r.status, r.error_code()), (401, "bad_signature"))
        f = F.mm_payload("forged mm", token=F.MM_TOKEN[:-1])
        self.assertEqual(self.mm(f).status, 401)
        self.assertEqual(self.refused("mattermost", "bad_signature"),
                         bad + 4)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    def test_duplicate_own_post_and_stale(self):
        chan = "c0000000000000000000003"
        f = F.mm_payload("#ask once", channel=chan)
        self.assertEqual(self.mm(f).status, 200)
        wait_for(lambda: self.mm_in(chan), what="reply")
        self.assertEqual(self.mm(f).status, 200)
        own = F.mm_payload("#ask mine", channel=chan, user_name="claw")
        self.assertEqual(self.mm(own).status, 200)
        old = F.mm_payload("#ask in 2018", channel=chan, ts=1525176000)
        self.assertEqual(self.mm(old).status, 200)
        time.sleep(0.5)
        self.assertEqual(len(self.mm_in(chan)), 1)
        for t in ("#ask mine", "#ask in 2018"):
            self.assertNotIn(t, self.rt.texts())
        self.assertEqual(self.rt.texts().count("#ask once"), 1)

    def test_refused_root_goes_to_channel(self):
        chan = "c0000000000000000000004"
        f = F.mm_payload("#ask in a thread", channel=chan)
        with self.fc.lock:
            self.fc.mm_replies.add(f["post_id"])
        self.mm(f)
        sent = wait_for(lambda: len(self.mm_in(chan)) >= 2 and
                        self.mm_in(chan), what="fallback")
        self.assertEqual(sent[0]["root_id"], f["post_id"])
        self.assertNotIn("root_id", sent[1])

    def test_split_and_429(self):
        chan = "c0000000000000000000005"
        self.fc.ratelimit_next["mattermost"] = 1
        self.mm(F.mm_payload("long:20000", channel=chan))
        wait_for(lambda: len(self.mm_in(chan)) >= 3, what="pieces")
        self.assertEqual([len(m["message"]) for m in self.mm_in(chan)],
                         [16383, 16383, 3617])   # the first was a 429
        self.assertIn("will be retried in 1000 ms",
                      self.gw.daemon.log_text())

    def test_malformed(self):
        f = F.mm_payload("#ask x")
        f["timestamp"] = "yesterday"
        r = self.mm(f)
        self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        r = self.gw.post("/mattermost/webhook", b"[1]")
        self.assertEqual(r.status, 401)


class Lifecycle(F.FakesCase):
    """A fresh gateway each: SIGKILL between the acknowledgement and the
    reply, pairing, allow-lists and suspension, per channel."""

    def setUp(self):
        super().setUp()
        self.cfg = config(self.fc)
        self.gws = []
        self.owners = {}   # LINE reply token -> its user

    def stop_gateways(self):
        for gw in self.gws:
            if gw.daemon and gw.daemon.running():
                gw.stop()

    def start(self, cfg=None, data_dir=None, extra=()):
        gw = F.Gateway(self.rt.url, cfg or self.cfg, data_dir=data_dir,
                       extra=extra).start()
        self.gws.append(gw)
        return gw

    # each channel: deliver a message, the texts it was answered with
    def deliver(self, gw, ch, text, who):
        if ch == "line":
            ev = F.line_event(self.fc, text, user=who)
            self.owners[ev["events"][0]["replyToken"]] = who
            data = json.dumps(ev).encode()
            return gw.post("/line/webhook", data, F.sign_line(data))
        if ch == "twilio":
            p = F.twilio_params(text, sender=who,
                                sid="SM%032x" % abs(hash(text)))
            return gw.post_form("/twilio/webhook", p, F.sign_twilio(p))
        f = F.mm_payload(text, channel=who,
                         post_id="p%025d" % (abs(hash(text)) % 10 ** 25))
        return gw.post_form("/mattermost/webhook", list(f.items()))

    def answers(self, ch, who):
        if ch == "line":   # pushed to who, or answered with who's token
            with self.fc.lock:
                return [t for w, t in self.fc.line_delivered
                        if w == who or self.owners.get(w) == who]
        if ch == "twilio":
            return [c[4]["Body"] for c in self.fc.sent("twilio")
                    if c[4]["To"] == who]
        return [c[4]["message"] for c in self.fc.sent("mattermost")
                if c[4]["channel_id"] == who]

    WHO = {"line": "U00000000000000000000000000sigk",
           "twilio": "+14155559999", "mattermost": "csigkill00000000000000"}

    def test_sigkill_after_ack_answered_once(self):
        gw = self.start()
        self.rt.hold()
        msgs = {}
        for ch, who in self.WHO.items():
            text = "before crash " + ch
            if ch == "line":
                ev = F.line_event(self.fc, text, user=who)
                token = ev["events"][0]["replyToken"]
                self.owners[token] = who
                data = json.dumps(ev).encode()
                msgs[ch] = (gw.post, "/line/webhook", data,
                            F.sign_line(data))
            elif ch == "twilio":
                p = F.twilio_params(text, sender=who)
                msgs[ch] = (gw.post_form, "/twilio/webhook", p,
                            F.sign_twilio(p))
            else:
                f = F.mm_payload(text, channel=who)
                msgs[ch] = (gw.post_form, "/mattermost/webhook",
                            list(f.items()), {})
            fn, path, body, h = msgs[ch]
            self.assertEqual(fn(path, body, h).status, 200)
        wait_for(lambda: self.rt.count() >= 3, what="runtime called")
        self.assertEqual(gw.metric("claw_gateway_journal_depth"), 3)
        gw.kill()                      # acknowledged, not answered
        self.rt.release()
        time.sleep(0.3)
        for ch, who in self.WHO.items():
            self.assertEqual(self.answers(ch, who), [], ch)
        gw2 = self.start(data_dir=gw.data_dir)
        wait_for(lambda: all(self.answers(ch, who)
                             for ch, who in self.WHO.items()),
                 what="replies after the restart")
        # the platforms' retries after the restart are duplicates
        for ch, (fn, path, body, h) in msgs.items():
            bound = getattr(gw2, fn.__name__)
            self.assertEqual(bound(path, body, h).status, 200, ch)
        time.sleep(0.5)
        for ch, who in self.WHO.items():
            self.assertEqual(self.answers(ch, who),
                             ["echo: before crash " + ch], ch)
        wait_for(lambda: gw2.metric("claw_gateway_journal_depth") == 0,
                 what="journal drained")

    def test_sigterm_does_not_wait_for_the_runtime(self):
        """SIGTERM while the runtime holds a question (it accepted and
        does not answer; its timeout is 300 s): the gateway stops within
        the node agent's grace (20 s, then Docker's SIGKILL) instead of
        waiting for it, and the message, unanswered in its journal, is
        answered once by its successor (docs/reliability.md, finding
        15)."""
        who = "+14155557777"
        p = F.twilio_params("asked while stopping", sender=who,
                            sid="SM%032x" % 15)
        self.rt.hold()
        gw = self.start()
        self.assertEqual(
            gw.post_form("/twilio/webhook", p, F.sign_twilio(p)).status, 200)
        wait_for(lambda: self.rt.count() >= 1, what="runtime called")
        self.assertEqual(gw.daemon.stop(timeout=20), 0,
                         gw.daemon.log_text()[-3000:])
        self.assertIn("cancelled", gw.daemon.log_text())
        self.rt.release()
        self.assertEqual(self.answers("twilio", who), [])
        gw2 = self.start(data_dir=gw.data_dir)
        wait_for(lambda: self.answers("twilio", who), what="answered")
        wait_for(lambda: gw2.metric("claw_gateway_journal_depth") == 0,
                 what="journal drained")
        self.assertEqual(self.answers("twilio", who),
                         ["echo: asked while stopping"])

    def test_other_slot_answered_not_replayed(self):
        """docs/reliability.md, finding 10: a message journaled by one
        blue/green slot's gateway, killed before it answered, then
        delivered again to the other slot's gateway and answered there,
        is not answered again when the first slot's gateway replays its
        journal (it reads the other slot's journal, --peer-data-dir)."""
        who = "+14155558888"
        p = F.twilio_params("across slots", sender=who,
                            sid="SM%032x" % 10)
        h = F.sign_twilio(p)
        self.rt.hold()
        a = self.start()
        self.assertEqual(a.post_form("/twilio/webhook", p, h).status, 200)
        wait_for(lambda: self.rt.count() >= 1, what="runtime called")
        a.kill()                       # journaled, not answered
        self.rt.release()
        copy = tempfile.mkdtemp(prefix="clawgw-copy-")
        shutil.copytree(a.data_dir, copy, dirs_exist_ok=True)
        b = self.start(extra=["--peer-data-dir", a.data_dir])
        self.assertEqual(b.post_form("/twilio/webhook", p, h).status, 200)
        wait_for(lambda: self.answers("twilio", who), what="answered")
        wait_for(lambda: b.metric("claw_gateway_journal_depth") == 0,
                 what="the other slot's journal drained")
        b.stop()
        a2 = self.start(data_dir=a.data_dir,
                        extra=["--peer-data-dir", b.data_dir])
        wait_for(lambda: "answered by the other slot's gateway" in
                 a2.daemon.log_text(), what="the drop logged")
        self.assertEqual(a2.metric("claw_gateway_journal_depth"), 0)
        a2.stop()
        self.assertEqual(self.answers("twilio", who),
                         ["echo: across slots"])
        # Without the other slot's journal the same replay answers twice:
        # what the test above guards against.
        c = self.start(data_dir=copy, extra=["--peer-data-dir", ""])
        wait_for(lambda: len(self.answers("twilio", who)) == 2,
                 what="the replay without the peer")
        c.stop()

    def test_pairing_allowlist_suspended(self):
        cfg = config(self.fc, line={"dm_policy": "pairing"},
                     twilio={"dm_policy": "allowlist",
                             "allow_from": ["+14155550100"]},
                     mattermost={"group_policy": "off"})
        gw = self.start(cfg)
        n = self.rt.count()
        # LINE: an unknown sender gets a pairing code through the API
        ev = F.line_event(self.fc, "pair me", user="Upair000000000000000000000000001")
        token = ev["events"][0]["replyToken"]
        data = json.dumps(ev).encode()
        self.assertEqual(gw.post("/line/webhook", data,
                                 F.sign_line(data)).status, 200)
        wait_for(lambda: [t for w, t in self.fc.line_delivered if w == token],
                 what="pairing code")
        code_msg = [t for w, t in self.fc.line_delivered if w == token][0]
        self.assertIn("pairing code", code_msg)
        pending = gw.get("/admin/pairing", token=F.ADMIN_TOKEN).json()
        self.assertEqual(pending["pairing_requests"][0]["channel"], "line")
        # Twilio: not on the allow-list -> refusal; listed -> answered
        self.deliver(gw, "twilio", "not listed", "+14155550101")
        self.deliver(gw, "twilio", "listed", "+14155550100")
        wait_for(lambda: self.answers("twilio", "+14155550101") and
                 self.answers("twilio", "+14155550100"), what="twilio")
        self.assertIn("only talks to people",
                      self.answers("twilio", "+14155550101")[0])
        self.assertEqual(self.answers("twilio", "+14155550100"),
                         ["echo: listed"])
        # Mattermost with group_policy off: nothing answered
        self.deliver(gw, "mattermost", "#ask off", "coff000000000000000000")
        time.sleep(0.5)
        self.assertEqual(self.answers("mattermost",
                                      "coff000000000000000000"), [])
        self.assertEqual(self.rt.texts()[n:], ["listed"])
        # suspended: every channel gets the notice, the runtime nothing
        cfg["suspended"] = True
        cfg["unavailable_text"] = "Paused by the operator."
        gw.reload(cfg)
        n = self.rt.count()
        for ch, who in (("line", "Ususp0000000000000000000000000001"),
                        ("twilio", "+14155550100"),
                        ("mattermost", "csusp00000000000000000")):
            if ch == "line":
                ev = F.line_event(self.fc, "while suspended", user=who)
                self.owners[ev["events"][0]["replyToken"]] = who
                data = json.dumps(ev).encode()
                r = gw.post("/line/webhook", data, F.sign_line(data))
            else:
                r = self.deliver(gw, ch, "while suspended " + ch, who)
            self.assertEqual(r.status, 200, ch)
        wait_for(lambda: len([1 for w, t in self.fc.line_delivered
                              if t == "Paused by the operator."]) == 1 and
                 self.answers("twilio", "+14155550100")[-1] ==
                 "Paused by the operator." and
                 self.answers("mattermost", "csusp00000000000000000") ==
                 ["Paused by the operator."], what="notices")
        self.assertEqual(self.rt.count(), n)


if __name__ == "__main__":
    unittest.main(verbosity=2)
