"""Microsoft Teams, Google Chat, Feishu/Lark and Matrix through
claw-gateway against fakes of their APIs (gwapps): each platform's
verification (RS256 tokens against the platform's published keys: a
forged, unsigned, HS256, expired, foreign-audience or foreign-issuer
token, an unknown key, a serviceUrl or channel the token does not
vouch for; Feishu's signature, verification token and encrypted
events), retries answered once, malformed bodies refused with 400 and
never enqueued, replies through each API with its token (fetched once
and reused, fetched again after a 401), idempotency keys, splitting to
the platform's size, 429 handling; and, with a fresh gateway each, a
SIGKILL between the acknowledgement and the reply answered exactly once
after the restart, pairing, allow-lists and the suspended tenant's
notice per channel."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwapps as A  # noqa: E402
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402


def config(fa, **over):
    return F.tenant_config(A.apps_channels(fa), **over)


class Base(F.ClassGatewayCase):
    @classmethod
    def fixture(cls):
        cls.fa = A.FakeApps()
        return cls.fa, config(cls.fa), cls.fa.secrets()

    def teams(self, activity, token=None):
        data = json.dumps(activity).encode()
        return self.gw.post("/teams/messages", data, A.teams_headers(
            token or self.fa.teams_token()))

    def feishu(self, event, **kw):
        body, h = A.feishu_request(event, **kw)
        return self.gw.post("/feishu/events", body, h)

    def gchat(self, event, token=None):
        data = json.dumps(event).encode()
        return self.gw.post("/googlechat/events", data, A.google_headers(
            token or self.fa.google_token()))


class Teams(Base):
    def test_reply_token_cached(self):
        a = A.teams_activity(self.fa, "hello teams")
        r = self.teams(a)
        self.assertEqual(r.status, 200, r.text)
        conv = a["conversation"]["id"]
        wait_for(lambda: self.fa.teams_replies(conv), what="reply")
        self.assertEqual(self.fa.teams_replies(conv), ["echo: hello teams"])
        call = [c for c in self.fa.sent("teams")
                if c[4]["conversation"]["id"] == conv][0]
        self.assertEqual(call[4]["replyToId"], a["id"])
        self.assertEqual(call[4]["from"]["id"], A.TEAMS_BOT)
        self.assertEqual(call[4]["recipient"]["id"], "29:1user")
        env = [e for e in self.rt.envelopes if e["text"] == "hello teams"][0]
        self.assertEqual((env["channel"], env["conversation"],
                          env["account"], env["sender"]["id"],
                          env["sender"]["name"]),
                         ("teams", "teams:" + conv, A.TEAMS_BOT, "29:1user",
                          "Megan Bowen"))
        # a second conversation reuses the client-credentials token
        tokens = self.fa.count("teams-token")
        b = A.teams_activity(self.fa, "again")
        self.assertEqual(self.teams(b).status, 200)
        wait_for(lambda: self.fa.teams_replies(b["conversation"]["id"]),
                 what="second reply")
        self.assertEqual(self.fa.count("teams-token"), tokens)
        self.assertGreaterEqual(tokens, 1)

    def test_forged_tokens_refused(self):
        n = self.rt.count()
        bad0 = self.refused("teams", "bad_signature")
        fa = self.fa
        a = A.teams_activity(fa, "forged teams")
        now = int(time.time())
        claims = {"iss": A.TEAMS_ISS, "aud": A.TEAMS_APP, "nbf": now - 5,
                  "exp": now + 3600, "serviceUrl": fa.service_url}
        other = A.Keys("teams-k1")       # the right kid, another key
        stranger = A.Keys("k-unknown")
        forged = [
            other.sign(claims),
            stranger.sign(claims),
            A.hs256(claims, A.TEAMS_PASSWORD, "teams-k1"),
            A.unsigned(claims, "teams-k1"),
            fa.teams_token(iss="https://sts.windows.net/evil/"),
            fa.teams_token(aud="another-app"),
            fa.teams_token(exp=now - 400, nbf=now - 4000),
            fa.teams_token(nbf=now + 900),
            fa.teams_token(serviceUrl="http://127.0.0.1:1/evil/"),
            fa.teams_token()[:-4] + "AAAA",
        ]
        for tok in forged:
            r = self.teams(a, tok)
            self.assertEqual((r.status, r.error_code()),
                             (401, "bad_signature"), tok)
        # no Authorization, and another scheme
        data = json.dumps(a).encode()
        for h in ({"Content-Type": "application/json"},
                  {"Content-Type": "application/json",
                   "Authorization": "Basic " + fa.teams_token()}):
            r = self.gw.post("/teams/messages", data, h)
            self.assertEqual(r.status, 401)
        # a channel the signing key does not endorse
        w = A.teams_activity(fa, "forged channel", channel="webchat")
        self.assertEqual(self.teams(w).status, 401)
        # the body's serviceUrl changed after signing
        s = A.teams_activity(fa, "moved", service_url=fa.base + "/x/")
        self.assertEqual(self.teams(s).status, 401)
        self.assertEqual(self.refused("teams", "bad_signature"),
                         bad0 + len(forged) + 4)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    def test_retry_answered_once(self):
        a = A.teams_activity(self.fa, "twice teams")
        self.assertEqual(self.teams(a).status, 200)
        conv = a["conversation"]["id"]
        wait_for(lambda: self.fa.teams_replies(conv), what="reply")
        self.assertEqual(self.teams(a).status, 200)   # a new token too
        time.sleep(0.5)
        self.assertEqual(self.fa.teams_replies(conv), ["echo: twice teams"])
        self.assertEqual(self.rt.texts().count("twice teams"), 1)

    def test_channel_mention(self):
        conv = "19:abc@thread.tacv2;messageid=1700000000001"
        a = A.teams_activity(self.fa, "not for the bot", conv=conv,
                             conv_type="channel")
        self.assertEqual(self.teams(a).status, 200)
        b = A.teams_activity(self.fa, "for the bot", conv=conv,
                             conv_type="channel", mention=True)
        self.assertEqual(self.teams(b).status, 200)
        wait_for(lambda: self.fa.teams_replies(conv), what="reply")
        self.assertEqual(self.fa.teams_replies(conv), ["echo: for the bot"])
        self.assertNotIn("not for the bot", self.rt.texts())
        path = [c[2] for c in self.fa.sent("teams")
                if c[4]["conversation"]["id"] == conv][0]
        # the id with ';' and '@' travels percent-encoded
        self.assertIn("19%3Aabc%40thread.tacv2%3Bmessageid%3D1700000000001",
                      path)

    def test_split_and_429(self):
        a = A.teams_activity(self.fa, "long:50000")
        conv = a["conversation"]["id"]
        self.fa.ratelimit_next["teams"] = 1
        self.teams(a)
        wait_for(lambda: len(self.fa.teams_replies(conv)) >= 3,
                 what="pieces")
        self.assertEqual([len(t) for t in self.fa.teams_replies(conv)],
                         [24000, 24000, 2000])
        self.assertIn("will be retried in 1000 ms",
                      self.gw.daemon.log_text())

    def test_refused_token_fetched_again(self):
        with self.fa.lock:
            self.fa.teams_tokens.clear()    # every issued token revoked
        before = self.fa.count("teams-token")
        a = A.teams_activity(self.fa, "after revocation")
        self.teams(a)
        wait_for(lambda: self.fa.teams_replies(a["conversation"]["id"]),
                 what="reply with a new token")
        self.assertEqual(self.fa.count("teams-token"), before + 1)

    def test_other_activities_stale_and_malformed(self):
        n = self.rt.count()
        up = A.teams_activity(self.fa, "", typ="conversationUpdate")
        self.assertEqual(self.teams(up).status, 200)
        stale = self.refused("teams", "stale")
        old = A.teams_activity(self.fa, "teams from 2018",
                               ts="2018-05-01T12:00:00.000Z")
        self.assertEqual(self.teams(old).status, 200)
        self.assertEqual(self.refused("teams", "stale"), stale + 1)
        for body in ({"type": "message"}, [1],
                     dict(A.teams_activity(self.fa, "x"), id=5)):
            r = self.teams(body)
            self.assertIn(r.status, (400, 401), body)
        bad = dict(A.teams_activity(self.fa, "x"))
        bad["from"] = {"name": "no id"}
        r = self.teams(bad)
        self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)


class GoogleChat(Base):
    def test_dm_reply_token_cached(self):
        ev = A.google_event("hello chat", space="spaces/AAAAdm01")
        r = self.gchat(ev)
        self.assertEqual((r.status, r.json()), (200, {}))
        wait_for(lambda: self.fa.google_replies("spaces/AAAAdm01"),
                 what="reply")
        self.assertEqual(self.fa.google_replies("spaces/AAAAdm01"),
                         ["echo: hello chat"])
        call = self.fa.sent("google", "spaces/AAAAdm01/messages")[0]
        self.assertRegex(call[2], r"requestId=[0-9a-f-]{36}$")
        self.assertNotIn("thread", call[4])   # a DM: no thread
        self.assertTrue(call[3]["Authorization"].startswith("Bearer ya29."))
        env = [e for e in self.rt.envelopes if e["text"] == "hello chat"][0]
        self.assertEqual((env["channel"], env["conversation"],
                          env["sender"]["id"], env["account"]),
                         ("googlechat", "googlechat:spaces/AAAAdm01",
                          "users/1001", "spaces/AAAAdm01"))
        tokens = self.fa.count("google-token")
        self.gchat(A.google_event("again", space="spaces/AAAAdm02"))
        wait_for(lambda: self.fa.google_replies("spaces/AAAAdm02"),
                 what="second reply")
        self.assertEqual(self.fa.count("google-token"), tokens)
        # the second published certificate verifies too
        self.gchat(A.google_event("other key", space="spaces/AAAAdm03"),
                   self.fa.google_token(key=self.fa.google_keys[1]))
        wait_for(lambda: self.fa.google_replies("spaces/AAAAdm03"),
                 what="reply to a token of the second key")

    def test_forged_tokens_refused(self):
        n = self.rt.count()
        bad0 = self.refused("googlechat", "bad_signature")
        fa = self.fa
        ev = A.google_event("forged chat", space="spaces/AAAAforg")
        now = int(time.time())
        claims = {"iss": A.GC_ISS, "aud": A.GC_PROJECT, "iat": now,
                  "exp": now + 3600}
        forged = [
            A.Keys("gc-k1").sign(claims),           # known kid, other key
            A.Keys("gc-k9").sign(claims),           # unknown kid
            A.hs256(claims, "anything", "gc-k1"),
            A.unsigned(claims, "gc-k1"),
            fa.google_token(iss="accounts.google.com"),
            fa.google_token(aud="111111111111"),
            fa.google_token(aud=[A.GC_PROJECT + "0"]),
            fa.google_token(exp=now - 120, iat=now - 3720),
            fa.sa.sign(claims),   # the app's own service account
        ]
        for tok in forged:
            r = self.gchat(ev, tok)
            self.assertEqual((r.status, r.error_code()),
                             (401, "bad_signature"), tok)
        data = json.dumps(ev).encode()
        r = self.gw.post("/googlechat/events", data)
        self.assertEqual(r.status, 401)
        self.assertEqual(self.refused("googlechat", "bad_signature"),
                         bad0 + len(forged) + 1)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    def test_space_thread_and_mention(self):
        space = "spaces/AAAAroom1"
        thread = space + "/threads/T1"
        self.gchat(A.google_event("no mention", space=space, dm=False,
                                  thread=thread))
        self.gchat(A.google_event("with mention", space=space, dm=False,
                                  thread=thread, mention=True))
        wait_for(lambda: self.fa.google_replies(space), what="reply")
        self.assertEqual(self.fa.google_replies(space, thread),
                         ["echo: with mention"])
        self.assertNotIn("no mention", self.rt.texts())
        env = [e for e in self.rt.envelopes if e["text"] == "with mention"]
        self.assertEqual(env[0]["conversation"], "googlechat:" + thread)
        call = self.fa.sent("google", space + "/messages")[0]
        self.assertIn("messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_"
                      "THREAD", call[2])
        self.assertEqual(call[4]["thread"], {"name": thread})

    def test_lost_answer_sent_once(self):
        """Chat created the message but its answer was lost: the retry
        carries the same requestId and creates nothing new."""
        space = "spaces/AAAAlost"
        with self.fa.lock:
            self.fa.google_fail_after_accept.add(space)
        self.gchat(A.google_event("lost answer", space=space))
        wait_for(lambda: len(self.fa.sent("google", space)) >= 2,
                 what="the retry")
        calls = self.fa.sent("google", space)
        self.assertEqual(calls[0][2], calls[1][2])   # the same requestId
        time.sleep(0.3)
        self.assertEqual(self.fa.google_replies(space),
                         ["echo: lost answer"])

    def test_split_and_429(self):
        space = "spaces/AAAAlong"
        self.fa.ratelimit_next["google"] = 1
        self.gchat(A.google_event("long:65000", space=space))
        wait_for(lambda: len(self.fa.google_replies(space)) >= 3,
                 what="pieces")
        self.assertEqual([len(t) for t in self.fa.google_replies(space)],
                         [30000, 30000, 5000])
        self.assertGreaterEqual(self.gw.metric(
            'claw_gateway_send_retries_total{channel="googlechat"}'), 1)

    def test_retry_answered_once(self):
        space = "spaces/AAAAtwice"
        ev = A.google_event("twice chat", space=space)
        self.assertEqual(self.gchat(ev).status, 200)
        wait_for(lambda: self.fa.google_replies(space), what="reply")
        self.assertEqual(self.gchat(ev).status, 200)
        time.sleep(0.5)
        self.assertEqual(self.fa.google_replies(space), ["echo: twice chat"])

    def test_other_events_stale_malformed(self):
        n = self.rt.count()
        for ev in (A.google_event("", typ="ADDED_TO_SPACE"),
                   A.google_event("from a bot", sender_type="BOT")):
            self.assertEqual(self.gchat(ev).status, 200)
        stale = self.refused("googlechat", "stale")
        old = A.google_event("chat from 2018",
                             ts="2018-05-01T12:00:00.000000Z")
        self.assertEqual(self.gchat(old).status, 200)
        self.assertEqual(self.refused("googlechat", "stale"), stale + 1)
        bad = A.google_event("bad")
        bad["message"]["name"] = "spaces/OTHER/messages/x"
        for body in (bad, {"type": "MESSAGE"}, [1]):
            r = self.gchat(body)
            self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)


class Feishu(Base):
    def test_encrypted_reply_token_cached(self):
        ev = A.feishu_event("hello feishu")
        mid = ev["event"]["message"]["message_id"]
        r = self.feishu(ev)
        self.assertEqual((r.status, r.json()), (200, {}))
        wait_for(lambda: self.fa.feishu_replies(mid), what="reply")
        self.assertEqual(self.fa.feishu_replies(mid), ["echo: hello feishu"])
        call = self.fa.sent("feishu", mid)[0]
        self.assertRegex(call[4]["uuid"], r"^[0-9a-f-]{36}$")
        self.assertTrue(call[3]["Authorization"].startswith("Bearer t-"))
        env = [e for e in self.rt.envelopes if e["text"] == "hello feishu"]
        self.assertEqual((env[0]["channel"], env[0]["conversation"],
                          env[0]["sender"]["id"], env[0]["id"]),
                         ("feishu", "feishu:oc_p2p0001", "ou_user1",
                          "feishu:" + mid))
        tokens = self.fa.count("feishu-token")
        ev2 = A.feishu_event("again")
        self.feishu(ev2)
        wait_for(lambda: self.fa.feishu_replies(
            ev2["event"]["message"]["message_id"]), what="second reply")
        self.assertEqual(self.fa.count("feishu-token"), tokens)

    def test_url_verification(self):
        ch = {"challenge": "ajls384kdjx98XX", "token": A.FS_VTOKEN,
              "type": "url_verification"}
        # Feishu does not sign this request: encrypted is enough
        r = self.feishu(ch, sign=False)
        self.assertEqual((r.status, r.json()),
                         (200, {"challenge": "ajls384kdjx98XX"}))
        bad = dict(ch, token="not-the-token")
        self.assertEqual(self.feishu(bad, sign=False).status, 401)
        # in plain text while an encrypt key is set
        self.assertEqual(self.feishu(ch, encrypt=False, sign=False).status,
                         401)
        # encrypted under another key
        self.assertEqual(self.feishu(ch, key="another-key",
                                     sign=False).status, 401)

    def test_forged_refused(self):
        n = self.rt.count()
        bad0 = self.refused("feishu", "bad_signature")
        ev = A.feishu_event("forged feishu")
        body, h = A.feishu_request(ev)
        cases = [
            self.feishu(ev, sign=False),                  # unsigned
            self.feishu(ev, sign_key="wrong-key"),         # forged
            self.gw.post("/feishu/events", body,
                         dict(h, **{"X-Lark-Request-Nonce": "other"})),
            self.gw.post("/feishu/events", body.replace(b"=", b"A", 1)
                         if b"=" in body else body + b" ", h),
            self.feishu(ev, encrypt=False),                # plain, signed
            self.feishu(ev, key="another-key", sign_key=A.FS_ENCRYPT),
            self.feishu(A.feishu_event("wrong token", token="x" * 32)),
            self.feishu(A.feishu_event("other app", app="cli_other")),
        ]
        for r in cases:
            self.assertEqual((r.status, r.error_code()),
                             (401, "bad_signature"))
        self.assertEqual(self.refused("feishu", "bad_signature"),
                         bad0 + len(cases))
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    def test_group_mention_and_post(self):
        chat = "oc_group0001"
        a = A.feishu_event("not for the bot", chat=chat, chat_type="group")
        b = A.feishu_event("for the bot", chat=chat, chat_type="group",
                           mention=True)
        self.feishu(a)
        self.feishu(b)
        mid = b["event"]["message"]["message_id"]
        wait_for(lambda: self.fa.feishu_replies(mid), what="reply")
        self.assertIn("for the bot", self.rt.texts())   # mention removed
        self.assertNotIn("not for the bot", self.rt.texts())
        post = {"zh_cn": {"title": "Title", "content": [[
            {"tag": "text", "text": "rich "},
            {"tag": "a", "text": "link", "href": "https://x"}]]}}
        c = A.feishu_event("", msg_type="post", content=json.dumps(post))
        self.feishu(c)
        wait_for(lambda: "Title\nrich link\n" in self.rt.texts(),
                 what="post text")

    def test_lost_answer_sent_once(self):
        ev = A.feishu_event("lost answer")
        mid = ev["event"]["message"]["message_id"]
        with self.fa.lock:
            self.fa.feishu_fail_after_accept.add(mid)
        self.feishu(ev)
        wait_for(lambda: len(self.fa.sent("feishu", mid)) >= 2,
                 what="the retry")
        calls = self.fa.sent("feishu", mid)
        self.assertEqual(calls[0][4]["uuid"], calls[1][4]["uuid"])
        time.sleep(0.3)
        self.assertEqual(self.fa.feishu_replies(mid), ["echo: lost answer"])

    def test_split_rate_limit_and_token(self):
        ev = A.feishu_event("long:120000")
        mid = ev["event"]["message"]["message_id"]
        self.fa.ratelimit_next["feishu"] = 1
        with self.fa.lock:
            self.fa.feishu_tokens.clear()   # the cached token is invalid
        self.feishu(ev)
        wait_for(lambda: len(self.fa.feishu_replies(mid)) >= 2,
                 what="pieces")
        self.assertEqual([len(t) for t in self.fa.feishu_replies(mid)],
                         [100000, 20000])
        self.assertGreaterEqual(self.gw.metric(
            'claw_gateway_send_retries_total{channel="feishu"}'), 2)

    def test_retry_stale_malformed(self):
        ev = A.feishu_event("twice feishu")
        mid = ev["event"]["message"]["message_id"]
        self.feishu(ev)
        wait_for(lambda: self.fa.feishu_replies(mid), what="reply")
        self.assertEqual(self.feishu(ev).status, 200)   # redelivered
        n = self.rt.count()
        stale = self.refused("feishu", "stale")
        self.assertEqual(self.feishu(A.feishu_event(
            "from 2018", ts_ms=1525176000000)).status, 200)
        self.assertEqual(self.refused("feishu", "stale"), stale + 1)
        for other in (A.feishu_event("app", sender_type="app"),
                      A.feishu_event("x", event_type="im.chat.updated_v1")):
            self.assertEqual(self.feishu(other).status, 200)
        v1 = {"uuid": "x", "token": A.FS_VTOKEN, "ts": "1", "type":
              "event_callback", "event": {}}
        for body in (v1, A.feishu_event("x", content="not json")):
            r = self.feishu(body)
            self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        time.sleep(0.5)
        self.assertEqual(self.fa.feishu_replies(mid), ["echo: twice feishu"])
        self.assertEqual(self.rt.count(), n)


class Matrix(Base):
    def setUp(self):
        super().setUp()
        # the first /sync reads no history: wait until it is done
        wait_for(lambda: len(self.fa.mx_syncs) >= 2, what="first /sync")

    def room(self, name, members=2):
        room = "!%s:matrix.test" % name
        self.fa.mx_room(room, members)
        return room

    def test_dm_reply(self):
        room = self.room("dm1")
        eid = self.fa.mx_message(room, "hello matrix")
        wait_for(lambda: self.fa.mx_replies(room), what="reply")
        self.assertEqual(self.fa.mx_replies(room), ["echo: hello matrix"])
        call = self.fa.sent("matrix", "/send/")[-1]
        self.assertRegex(call[2], r"/rooms/%21dm1%3Amatrix\.test/send/"
                         r"m\.room\.message/claw[0-9a-f]{32}$")
        self.assertEqual(call[4], {"msgtype": "m.text",
                                   "body": "echo: hello matrix"})
        env = [e for e in self.rt.envelopes if e["text"] == "hello matrix"]
        self.assertEqual((env[0]["id"], env[0]["conversation"],
                          env[0]["sender"]["id"], env[0]["account"]),
                         ("matrix:" + eid, "matrix:" + room,
                          "@ann:matrix.test", A.MX_USER))

    def test_group_mention_reply_to(self):
        room = self.room("group1", members=5)
        self.fa.mx_message(room, "not for the bot")
        eid = self.fa.mx_message(room, "claw: for the bot",
                                 mentions=[A.MX_USER])
        wait_for(lambda: self.fa.mx_replies(room), what="reply")
        self.assertEqual(self.fa.mx_replies(room),
                         ["echo: claw: for the bot"])
        self.assertNotIn("not for the bot", self.rt.texts())
        content = [c for r, c in self.fa.mx_delivered if r == room][0]
        self.assertEqual(content["m.relates_to"],
                         {"m.in_reply_to": {"event_id": eid}})

    def test_encrypted_room_refused_once(self):
        room = self.room("secret1")
        n = self.rt.count()
        self.fa.mx_message(room, "", typ="m.room.encrypted")
        self.fa.mx_message(room, "", typ="m.room.encrypted")
        wait_for(lambda: self.fa.mx_replies(room), what="notice")
        time.sleep(1.5)
        self.assertEqual(len(self.fa.mx_replies(room)), 1)
        content = [c for r, c in self.fa.mx_delivered if r == room][0]
        self.assertEqual(content["msgtype"], "m.notice")
        self.assertIn("end-to-end encrypted", content["body"])
        self.assertEqual(self.rt.count(), n)

    def test_own_notices_edits_left(self):
        room = self.room("quiet1")
        self.fa.mx_message(room, "my own", sender=A.MX_USER)
        self.fa.mx_message(room, "a bot's notice", msgtype="m.notice")
        self.fa.mx_message(room, "* edited", extra={"m.relates_to": {
            "rel_type": "m.replace", "event_id": "$x"}})
        self.fa.mx_message(room, "a reaction", typ="m.reaction")
        self.fa.mx_message(room, "answered")
        wait_for(lambda: self.fa.mx_replies(room), what="reply")
        time.sleep(0.5)
        self.assertEqual(self.fa.mx_replies(room), ["echo: answered"])
        for t in ("my own", "a bot's notice", "* edited", "a reaction"):
            self.assertNotIn(t, self.rt.texts())

    def test_invite_joined(self):
        room = "!invited1:matrix.test"
        with self.fa.lock:
            self.fa.mx_invites.add(room)
            self.fa.lock.notify_all()
        wait_for(lambda: self.fa.mx_rooms.get(room, {}).get("joined"),
                 what="join")
        self.fa.mx_message(room, "after the invite")
        wait_for(lambda: self.fa.mx_replies(room), what="reply")

    def test_lost_answer_same_transaction(self):
        room = self.room("lost1")
        with self.fa.lock:
            self.fa.mx_fail_after_accept.add(room)
        self.fa.mx_message(room, "lost answer")
        wait_for(lambda: len(self.fa.sent("matrix", "lost1")) >= 2,
                 what="the retry")
        calls = self.fa.sent("matrix", "lost1")
        self.assertEqual(calls[0][2], calls[1][2])   # the same txn id
        time.sleep(0.3)
        self.assertEqual(self.fa.mx_replies(room), ["echo: lost answer"])

    def test_split_and_limit_exceeded(self):
        room = self.room("long1")
        self.fa.ratelimit_next["matrix"] = 1
        self.fa.mx_message(room, "long:70000")
        wait_for(lambda: len(self.fa.mx_replies(room)) >= 3, what="pieces")
        self.assertEqual([len(t) for t in self.fa.mx_replies(room)],
                         [32000, 32000, 6000])
        # M_LIMIT_EXCEEDED's retry_after_ms (no Retry-After header)
        self.assertIn("will be retried in 300 ms",
                      self.gw.daemon.log_text())

    def test_sync_limit_and_stale(self):
        room = self.room("stale1")
        self.fa.ratelimit_next["matrix-sync"] = 1
        stale = self.refused("matrix", "stale")
        self.fa.mx_message(room, "matrix from 2018", ts_ms=1525176000000)
        self.fa.mx_message(room, "fresh")
        wait_for(lambda: self.fa.mx_replies(room), what="reply")
        self.assertEqual(self.fa.mx_replies(room), ["echo: fresh"])
        self.assertEqual(self.refused("matrix", "stale"), stale + 1)


class Signal(Base):
    def setUp(self):
        super().setUp()
        wait_for(lambda: self.fa.sg_connects, what="the event stream")

    def test_dm_reply(self):
        ts = self.fa.sg_message("hello signal", sender="+15550002001")
        wait_for(lambda: self.fa.sg_replies("+15550002001"), what="reply")
        self.assertEqual(self.fa.sg_replies("+15550002001"),
                         ["echo: hello signal"])
        call = self.fa.sent("signal")[-1][4]
        self.assertEqual(call["params"]["recipient"], ["+15550002001"])
        self.assertEqual(call["params"]["account"], A.SG_ACCOUNT)
        env = [e for e in self.rt.envelopes if e["text"] == "hello signal"]
        self.assertEqual((env[0]["id"], env[0]["conversation"],
                          env[0]["sender"]["id"], env[0]["sender"]["name"]),
                         ("signal:+15550002001:%d" % ts,
                          "signal:+15550002001", "+15550002001", "Ann"))

    def test_group_mention(self):
        gid = "Pmpi+EfPWmsxiomLe9Nx2XF9HOE483p6iKiFj65iMwI="
        self.fa.sg_message("not for the bot", group=gid)
        self.fa.sg_message("for the bot", group=gid, mention=True)
        wait_for(lambda: self.fa.sg_replies(gid), what="reply")
        self.assertEqual(self.fa.sg_replies(gid), ["echo: for the bot"])
        self.assertNotIn("not for the bot", self.rt.texts())

    def test_receipts_reactions_left_and_stale(self):
        sender = "+15550002003"
        stale = self.refused("signal", "stale")
        self.fa.sg_message("", sender=sender, data=False)
        self.fa.sg_message("", sender=sender, extra={"reaction": {
            "emoji": "+1", "targetAuthor": A.SG_ACCOUNT,
            "targetSentTimestamp": 1, "isRemove": False}})
        self.fa.sg_message("signal from 2018", sender=sender,
                           ts_ms=1525176000000)
        self.fa.sg_message("answered", sender=sender)
        wait_for(lambda: self.fa.sg_replies(sender), what="reply")
        time.sleep(0.3)
        self.assertEqual(self.fa.sg_replies(sender), ["echo: answered"])
        self.assertEqual(self.refused("signal", "stale"), stale + 1)

    def test_rate_limit_io_error_retried(self):
        sender = "+15550002004"
        with self.fa.lock:
            self.fa.sg_failures[sender] = ["RATE_LIMIT_FAILURE", -3]
        self.fa.sg_message("limited", sender=sender)
        wait_for(lambda: self.fa.sg_replies(sender), what="reply")
        self.assertEqual(self.fa.sg_replies(sender), ["echo: limited"])
        self.assertGreaterEqual(self.gw.metric(
            'claw_gateway_send_retries_total{channel="signal"}'), 2)

    def test_split(self):
        sender = "+15550002005"
        self.fa.sg_message("long:4500", sender=sender)
        wait_for(lambda: len(self.fa.sg_replies(sender)) >= 3,
                 what="pieces")
        self.assertEqual([len(t) for t in self.fa.sg_replies(sender)],
                         [2000, 2000, 500])


# ------------------------------------------------------------- lifecycle
class Lifecycle(unittest.TestCase):
    """A fresh gateway each: SIGKILL between the acknowledgement and the
    reply, pairing, allow-lists and suspension, per channel."""

    def setUp(self):
        self.rt = F.FakeRuntime()
        self.fa = A.FakeApps()
        self.gws = []
        self.feishu_mids = {}

    def tearDown(self):
        for gw in self.gws:
            if gw.daemon and gw.daemon.running():
                gw.stop()
        self.rt.close()
        self.fa.close()
        self.assertFalse(self.fa.errors)

    def start(self, cfg=None, data_dir=None):
        gw = F.Gateway(self.rt.url, cfg or config(self.fa),
                       secrets=self.fa.secrets(), data_dir=data_dir).start()
        self.gws.append(gw)
        return gw

    # per channel: deliver text from who; what who was answered
    def request(self, ch, text, who):
        """The path, body and fresh headers of a message from who."""
        if ch == "teams":
            a = A.teams_activity(self.fa, text, conv="a:" + who, user=who)
            return "/teams/messages", json.dumps(a).encode(), \
                lambda: A.teams_headers(self.fa.teams_token())
        if ch == "googlechat":
            ev = A.google_event(text, space="spaces/" + who,
                                sender="users/" + who)
            return "/googlechat/events", json.dumps(ev).encode(), \
                lambda: A.google_headers(self.fa.google_token())
        if ch == "feishu":
            ev = A.feishu_event(text, chat="oc_" + who, sender="ou_" + who)
            body, h = A.feishu_request(ev)
            self.feishu_mids.setdefault(who, []).append(
                ev["event"]["message"]["message_id"])
            return "/feishu/events", body, \
                lambda: h
        if ch == "matrix":   # pulled, not posted: None as the path
            room = "!%s:matrix.test" % who
            if room not in self.fa.mx_rooms:
                self.fa.mx_room(room)
            return None, ("matrix", room, text, "@%s:matrix.test" % who), \
                None
        if ch == "signal":   # streamed by the daemon
            return None, ("signal", self.SIGNAL_NUM[who], text), None
        raise AssertionError(ch)

    def deliver(self, gw, ch, text, who):
        path, data, headers = self.request(ch, text, who)
        return self.post(gw, path, data, headers)

    def post(self, gw, path, data, headers):
        if path is None and data[0] == "matrix":   # for /sync
            _, room, text, sender = data
            self.fa.mx_message(room, text, sender=sender)
        elif path is None:   # signal: the daemon streams it
            _, sender, text = data
            self.fa.sg_message(text, sender=sender)
        if path is None:

            class Ok:
                status = 200
            return Ok()
        return gw.post(path, data, headers())

    def answers(self, ch, who):
        if ch == "teams":
            return self.fa.teams_replies("a:" + who)
        if ch == "googlechat":
            return self.fa.google_replies("spaces/" + who)
        if ch == "feishu":
            return [t for m in self.feishu_mids.get(who, [])
                    for t in self.fa.feishu_replies(m)]
        if ch == "matrix":
            return self.fa.mx_replies("!%s:matrix.test" % who)
        if ch == "signal":
            return self.fa.sg_replies(self.SIGNAL_NUM[who])
        raise AssertionError(ch)

    WHO = {"teams": "29:sigkill", "googlechat": "sigkill",
           "feishu": "sigkill", "matrix": "sigkill", "signal": "sigkill"}
    SIGNAL_NUM = {"sigkill": "+15550009000", "listed": "+15550009001",
                  "other": "+15550009002", "pair": "+15550009003"}
    # a sender per channel: allowed, another, paired
    PEOPLE = {"teams": ("29:listed", "29:other", "29:pair"),
              "googlechat": ("listed", "other", "pair"),
              "feishu": ("listed", "other", "pair"),
              "matrix": ("listed", "other", "pair"),
              "signal": ("listed", "other", "pair")}
    SENDER = {"teams": "%s", "googlechat": "users/%s", "feishu": "ou_%s",
              "matrix": "@%s:matrix.test", "signal": None}

    def test_sigkill_after_ack_answered_once(self):
        gw = self.start()
        self.rt.hold()
        sent = {}
        self.wait_synced(gw)
        for ch, who in self.WHO.items():
            sent[ch] = self.request(ch, "before crash " + ch, who)
            path, data, headers = sent[ch]
            r = self.post(gw, path, data, headers)
            self.assertEqual(r.status, 200, ch)
        wait_for(lambda: self.rt.count() >= len(self.WHO),
                 what="runtime called")
        self.assertEqual(gw.metric("claw_gateway_journal_depth"),
                         len(self.WHO))
        gw.kill()                      # acknowledged, not answered
        self.rt.release()
        time.sleep(0.3)
        for ch, who in self.WHO.items():
            self.assertEqual(self.answers(ch, who), [], ch)
        gw2 = self.start(data_dir=gw.data_dir)
        wait_for(lambda: all(self.answers(ch, who)
                             for ch, who in self.WHO.items()),
                 what="replies after the restart")
        # the platforms' retries after the restart are duplicates; the
        # restarted gateway resumed /sync where the journal left it
        for ch, (path, data, headers) in sent.items():
            if path is not None:
                self.assertEqual(gw2.post(path, data, headers()).status,
                                 200, ch)
        with self.fa.lock:
            self.assertIn(self.fa.mx_syncs[-1], ["s%d" % len(
                self.fa.mx_stream)])
            # signal: the restarted gateway asked for the events after
            # the last one it journaled
            self.assertEqual(self.fa.sg_connects[-1],
                             str(len(self.fa.sg_events)))

        time.sleep(0.5)
        for ch, who in self.WHO.items():
            self.assertEqual(self.answers(ch, who),
                             ["echo: before crash " + ch], ch)
        wait_for(lambda: gw2.metric("claw_gateway_journal_depth") == 0,
                 what="journal drained")

    def wait_synced(self, gw):
        """The first /sync (which reads no history) is done; the signal
        event stream is open."""
        wait_for(lambda: len(self.fa.mx_syncs) >= 2, what="matrix /sync")
        wait_for(lambda: self.fa.sg_connects, what="signal events")

    def test_pairing_allowlist_suspended(self):
        cfg = config(self.fa)
        for ch in self.WHO:
            cfg["channels"][ch]["dm_policy"] = "pairing"
        gw = self.start(cfg)
        self.wait_synced(gw)
        n = self.rt.count()
        for ch, (_, _, pair) in self.PEOPLE.items():
            self.deliver(gw, ch, "pair me", pair)
        wait_for(lambda: all(self.answers(ch, p[2])
                             for ch, p in self.PEOPLE.items()),
                 what="pairing codes")
        for ch, (_, _, pair) in self.PEOPLE.items():
            self.assertIn("pairing code", self.answers(ch, pair)[0], ch)
        pending = gw.get("/admin/pairing", token=F.ADMIN_TOKEN).json()
        self.assertEqual(sorted(p["channel"] for p in
                                pending["pairing_requests"]),
                         sorted(self.PEOPLE))
        for ch, (listed, _, _) in self.PEOPLE.items():
            sender = self.SIGNAL_NUM[listed] if ch == "signal" else \
                self.SENDER[ch] % listed
            cfg["channels"][ch].update(dm_policy="allowlist",
                                       allow_from=[sender])
        gw.reload(cfg)
        for ch, (listed, other, _) in self.PEOPLE.items():
            self.deliver(gw, ch, "not listed", other)
            self.deliver(gw, ch, "listed", listed)
        wait_for(lambda: all(self.answers(ch, p[0]) and self.answers(ch, p[1])
                             for ch, p in self.PEOPLE.items()),
                 what="allow-list")
        for ch, (listed, other, _) in self.PEOPLE.items():
            self.assertIn("only talks to people",
                          self.answers(ch, other)[0], ch)
            self.assertEqual(self.answers(ch, listed), ["echo: listed"], ch)
        self.assertEqual(self.rt.texts()[n:], ["listed"] * len(self.PEOPLE))
        cfg["suspended"] = True
        cfg["unavailable_text"] = "Paused by the operator."
        gw.reload(cfg)
        n = self.rt.count()
        for ch, (listed, _, _) in self.PEOPLE.items():
            self.assertEqual(self.deliver(gw, ch, "while suspended",
                                          listed).status, 200, ch)
        wait_for(lambda: all(self.answers(ch, p[0])[-1] ==
                             "Paused by the operator."
                             for ch, p in self.PEOPLE.items()),
                 what="notices")
        self.assertEqual(self.rt.count(), n)

    def test_matrix_history_not_answered(self):
        """Messages sent before the first /sync are history: not
        answered; the next ones are."""
        room = "!hist:matrix.test"
        self.fa.mx_room(room)
        self.fa.mx_message(room, "old news")
        gw = self.start()
        self.wait_synced(gw)
        self.fa.mx_message(room, "new message")
        wait_for(lambda: self.fa.mx_replies(room), what="reply")
        time.sleep(0.3)
        self.assertEqual(self.fa.mx_replies(room), ["echo: new message"])
        self.assertNotIn("old news", self.rt.texts())

    def test_feishu_without_encrypt_key(self):
        """Plain events: the verification token is checked; an
        encrypted body cannot be read (400)."""
        sec = self.fa.secrets()
        del sec["feishu_encrypt_key"]
        gw = F.Gateway(self.rt.url, config(self.fa), secrets=sec).start()
        self.gws.append(gw)
        ev = A.feishu_event("plain feishu")
        body, h = A.feishu_request(ev, encrypt=False, sign=False)
        self.assertEqual(gw.post("/feishu/events", body, h).status, 200)
        wait_for(lambda: self.fa.feishu_replies(
            ev["event"]["message"]["message_id"]), what="reply")
        body, h = A.feishu_request(A.feishu_event("x", token="y" * 32),
                                   encrypt=False, sign=False)
        self.assertEqual(gw.post("/feishu/events", body, h).status, 401)
        body, h = A.feishu_request(A.feishu_event("x"))
        r = gw.post("/feishu/events", body, h)
        self.assertEqual((r.status, r.error_code()), (400, "bad_message"))
        ch = {"challenge": "c1", "token": A.FS_VTOKEN,
              "type": "url_verification"}
        r = gw.post("/feishu/events", json.dumps(ch).encode())
        self.assertEqual(r.json(), {"challenge": "c1"})
        self.assertEqual(self.rt.texts(), ["plain feishu"])

    def test_keys_unavailable(self):
        """The key server down: 503 (the Connector retries), nothing
        enqueued; once it answers, the message goes through."""
        self.fa.fail_docs.add("teams-openid")
        gw = self.start()
        a = A.teams_activity(self.fa, "keys down")
        data = json.dumps(a).encode()
        r = gw.post("/teams/messages", data,
                    A.teams_headers(self.fa.teams_token()))
        self.assertEqual(r.status, 503)
        self.assertEqual(self.rt.count(), 0)
        self.fa.fail_docs.clear()
        # a failed fetch is not repeated within the minute: still 503,
        # and no request reaches the key server
        fetched = self.fa.count("teams-openid")
        r = gw.post("/teams/messages", data,
                    A.teams_headers(self.fa.teams_token()))
        self.assertEqual(r.status, 503)
        self.assertEqual(self.fa.count("teams-openid"), fetched)


if __name__ == "__main__":
    unittest.main(verbosity=2)
