"""Matrix as an application service and Mattermost's bot WebSocket
through claw-gateway, against fakes that follow the public APIs
(gwfakes.FakeHomeserver, gwfakes.FakeMattermostWS).

Matrix (channels.matrix.mode "appservice"): transactions PUT by the
homeserver with the hs_token (Authorization: Bearer, or the legacy
access_token query parameter); a missing token is 401 M_UNAUTHORIZED, a
forged or stale one 403 M_FORBIDDEN, and neither is enqueued; a repeated
txnId is answered 200 and not enqueued again, also after a restart;
replies go out as the bot (as_token, ?user_id=), once per transaction id
through 429 M_LIMIT_EXCEEDED, split to the event size; encrypted rooms
get the notice; invites are joined; a SIGKILL between the acknowledgement
and the reply is answered exactly once after the restart.

Mattermost (channels.mattermost.mode "websocket"): the bot's socket
authenticates with authentication_challenge; posted events in direct and
group channels, the bot's own posts left, a post id answered once,
replies through POST /api/v4/posts with 429 handling, and reconnecting
after a refused authentication. These run when the gateway's main.c
starts the socket's thread (gw_mmws_round)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MAIN_C = os.path.join(HERE, "..", "..", "..", "gateway", "main.c")


def uniq(name):
    return "%s-%s" % (name, os.urandom(4).hex())


def mx_config(hs, **extra):
    ch = {"api_base": hs.base, "user_id": F.MX_AS_USER,
          "mode": "appservice"}
    ch.update(extra)
    return {"tenant": "t1", "channels": {"matrix": ch}}


class MatrixAS(F.ClassGatewayCase):
    @classmethod
    def fixture(cls):
        cls.hs = F.FakeHomeserver()
        return cls.hs, mx_config(cls.hs), F.MX_AS_SECRETS

    def push(self, events, **kw):
        r, txn = self.hs.push(self.gw.url, events, **kw)
        return r, txn

    def answered(self, room, text, n=1):
        """Wait for n replies in room, then a sentinel's: whatever was
        enqueued before it in this room (one conversation, in order)
        has been answered by then."""
        wait_for(lambda: len(self.hs.texts(room)) >= n, what="reply")
        sentinel = uniq("sentinel")
        r, _ = self.push([self.hs.message(room, sentinel,
                                          mentions=[F.MX_AS_USER])])
        self.assertEqual(r.status, 200, r.text)
        wait_for(lambda: "echo: " + sentinel in self.hs.texts(room),
                 what="sentinel reply")
        return [t for t in self.hs.texts(room) if t != "echo: " + sentinel]

    def test_direct_message_answered_as_the_bot(self):
        room = self.hs.room(uniq("dm"))
        ev = self.hs.message(room, "hello appservice")
        r, _ = self.push([ev])
        self.assertEqual((r.status, r.json()), (200, {}))
        wait_for(lambda: self.hs.texts(room), what="reply")
        self.assertEqual(self.hs.texts(room), ["echo: hello appservice"])
        env = [e for e in self.rt.envelopes
               if e["text"] == "hello appservice"][0]
        self.assertEqual((env["id"], env["conversation"], env["sender"]),
                         ("matrix:" + ev["event_id"], "matrix:" + room,
                          {"id": "@ann:hs.test"}))
        sends = [c for c in self.hs.calls if "/send/" in c[1]]
        self.assertEqual(sends[-1][2]["user_id"], [F.MX_AS_USER])
        self.assertEqual(sends[-1][3]["Authorization"],
                         "Bearer " + F.MX_AS_TOKEN)

    def test_group_answers_mentions_only(self):
        room = self.hs.room(uniq("grp"), members=4)
        r, _ = self.push([self.hs.message(room, "chatter")])
        self.assertEqual(r.status, 200)
        r, _ = self.push([self.hs.message(room, "bot, help",
                                          mentions=[F.MX_AS_USER])])
        self.assertEqual(r.status, 200)
        self.assertEqual(self.answered(room, "bot, help"),
                         ["echo: bot, help"])
        self.assertNotIn("chatter", self.rt.texts())

    def test_repeated_txn_not_enqueued_again(self):
        room = self.hs.room(uniq("txn"))
        ev = self.hs.message(room, "once please")
        r, txn = self.push([ev])
        self.assertEqual(r.status, 200)
        before = self.refused("matrix", "duplicate")
        r2, _ = self.push([ev], txn=txn)
        # the same txnId with another event: still the same transaction
        r3, _ = self.push([self.hs.message(room, "smuggled")], txn=txn)
        self.assertEqual((r2.status, r2.json()), (200, {}))
        self.assertEqual((r3.status, r3.json()), (200, {}))
        self.assertEqual(self.answered(room, "once please"),
                         ["echo: once please"])
        self.assertEqual(self.rt.texts().count("once please"), 1)
        self.assertNotIn("smuggled", self.rt.texts())
        self.assertEqual(self.refused("matrix", "duplicate"), before + 2)

    def test_forged_and_stale_tokens_refused(self):
        room = self.hs.room(uniq("forged"))
        bad = self.refused("matrix", "bad_signature")
        r, _ = self.push([self.hs.message(room, "no token")], token=None)
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["errcode"], "M_UNAUTHORIZED")
        for tok in ("hs-token-forged", F.MX_AS_TOKEN, "hs-token-old-one",
                    F.MX_HS_TOKEN + "x", ""):
            r, _ = self.push([self.hs.message(room, "forged " + tok)],
                             token=tok)
            self.assertEqual(r.status, 401 if tok == "" else 403, tok)
            if tok:
                self.assertEqual(r.json()["errcode"], "M_FORBIDDEN")
        r, _ = self.push([self.hs.message(room, "forged query")], token=None,
                         query={"access_token": "nope"})
        self.assertEqual(r.status, 403)
        self.assertEqual(self.refused("matrix", "bad_signature"), bad + 7)
        # the legacy query parameter with the right token is accepted
        r, _ = self.push([self.hs.message(room, "legacy query")],
                         token=None, query={"access_token": F.MX_HS_TOKEN})
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(self.answered(room, "legacy query"),
                         ["echo: legacy query"])
        self.assertFalse([t for t in self.rt.texts()
                          if t.startswith(("forged", "no token"))])

    def test_ping_and_queries(self):
        url = self.gw.url + "/_matrix/app/v1/"
        auth = {"Authorization": "Bearer " + F.MX_HS_TOKEN}
        r = F.request("POST", url + "ping", b"{}", headers=dict(
            auth, **{"Content-Type": "application/json"}))
        self.assertEqual((r.status, r.json()), (200, {}))
        r = F.request("POST", url + "ping", b"{}", headers={
            "Authorization": "Bearer wrong", "Content-Type":
            "application/json"})
        self.assertEqual((r.status, r.json()["errcode"]),
                         (403, "M_FORBIDDEN"))
        for q in ("users/%40someone%3Ahs.test", "rooms/%23room%3Ahs.test"):
            r = F.request("GET", url + q, headers=auth)
            self.assertEqual((r.status, r.json()["errcode"]),
                             (404, "M_NOT_FOUND"), q)
            r = F.request("GET", url + q)
            self.assertEqual((r.status, r.json()["errcode"]),
                             (401, "M_UNAUTHORIZED"), q)

    def test_malformed_transactions_refused(self):
        room = self.hs.room(uniq("bad"))
        for body in ({"events": {}}, {"events": [{"type": "m.room.message"}]},
                     [], {"events": [{"type": "m.room.message",
                                      "room_id": "not-a-room"}]}):
            url = "%s/_matrix/app/v1/transactions/%s" % (self.gw.url,
                                                         uniq("t"))
            r = F.request("PUT", url, json.dumps(body).encode(), headers={
                "Authorization": "Bearer " + F.MX_HS_TOKEN,
                "Content-Type": "application/json"})
            self.assertEqual(r.status, 400, body)
            self.assertEqual(r.json()["errcode"], "M_BAD_JSON")
        self.assertEqual(self.answered(room, "x", n=0), [])

    def test_encrypted_room_refused_with_notice(self):
        room = self.hs.room(uniq("e2e"))
        ev = {"type": "m.room.encrypted", "room_id": room,
              "sender": "@ann:hs.test", "event_id": "$enc" + uniq("e"),
              "origin_server_ts": 1, "content": {
                  "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA",
                  "device_id": "D1", "sender_key": "k", "session_id": "s"}}
        r, _ = self.push([ev])
        self.assertEqual(r.status, 200)
        wait_for(lambda: self.hs.texts(room), what="notice")
        with self.hs.lock:
            c = [c for rm, c in self.hs.timeline if rm == room][0]
        self.assertEqual(c["msgtype"], "m.notice")
        self.assertIn("end-to-end encrypted", c["body"])

    def test_invite_joined(self):
        room = "!%s:hs.test" % uniq("inv")
        ev = {"type": "m.room.member", "room_id": room, "state_key":
              F.MX_AS_USER, "sender": "@ann:hs.test", "event_id": "$i" +
              uniq("i"), "origin_server_ts": 1,
              "content": {"membership": "invite", "is_direct": True}}
        r, _ = self.push([ev])
        self.assertEqual(r.status, 200)
        wait_for(lambda: room in self.hs.joined, what="join")

    def test_rate_limit_and_long_reply(self):
        room = self.hs.room(uniq("long"))
        with self.hs.lock:
            self.hs.ratelimit_next = 1
        r, _ = self.push([self.hs.message(room, "long:40000")])
        self.assertEqual(r.status, 200)
        wait_for(lambda: sum(len(t) for t in self.hs.texts(room)) >= 40000,
                 what="both pieces")
        texts = self.hs.texts(room)
        self.assertEqual(len(texts), 2)
        self.assertEqual("".join(texts), "x" * 40000)
        self.assertTrue(all(len(t) <= 32000 for t in texts))
        with self.hs.lock:
            self.assertEqual(self.hs.ratelimit_next, 0)


class OwnGateways:
    """A TestCase mixin: gateways of one test (start: on a data dir again
    after a kill) against self.rt and self.fake; tearDown stops those
    still running, closes the fakes and asserts the fake saw no protocol
    error. A channel's class says how a person (a name) writes to the
    bot in a direct conversation (deliver), what that person got back
    (answers) and the sender id the allow-list names (sender)."""
    config, secrets, channel = None, None, None

    def setUp(self):
        self.rt = F.FakeRuntime()
        self.fake = self.make_fake()
        self.config = self.make_config(self.fake)
        self.gws = []

    def tearDown(self):
        for gw in self.gws:
            if gw.daemon.running():
                gw.stop()
        self.rt.close()
        self.fake.close()
        self.assertFalse(self.fake.errors)

    def start(self, data_dir=None, secrets=None):
        gw = F.Gateway(self.rt.url, self.config, secrets=secrets or
                       self.secrets, data_dir=data_dir).start()
        self.gws.append(gw)
        return gw

    def test_pairing_allowlist_suspended(self):
        tag = uniq("p")
        pair, listed, other, late = ("%s%s" % (w, tag) for w in
                                     ("pair", "listed", "other", "late"))
        ch = self.config["channels"][self.channel]
        ch["dm_policy"] = "pairing"
        gw = self.start()
        n = self.rt.count()
        self.deliver(gw, pair, "pair me")
        wait_for(lambda: self.answers(pair), what="pairing code")
        self.assertIn("pairing code", self.answers(pair)[0])
        pending = gw.get("/admin/pairing", token=F.ADMIN_TOKEN).json()
        self.assertEqual([(p["channel"], p["sender_id"]) for p in
                          pending["pairing_requests"]],
                         [(self.channel, self.sender(pair))])
        ch.update(dm_policy="allowlist", allow_from=[self.sender(listed)])
        gw.reload(self.config)
        self.deliver(gw, other, "not listed")
        self.deliver(gw, listed, "listed")
        wait_for(lambda: self.answers(other) and self.answers(listed),
                 what="allow-list")
        self.assertIn("only talks to people", self.answers(other)[0])
        self.assertEqual(self.answers(listed), ["echo: listed"])
        self.assertEqual(self.rt.texts()[n:], ["listed"])
        self.config.update(suspended=True,
                           unavailable_text="Paused by the operator.")
        ch["allow_from"].append(self.sender(late))
        gw.reload(self.config)
        self.deliver(gw, late, "while suspended")
        wait_for(lambda: self.answers(late), what="unavailable notice")
        self.assertEqual(self.answers(late), ["Paused by the operator."])
        self.assertEqual(self.rt.texts()[n:], ["listed"])


class MatrixASCrash(OwnGateways, unittest.TestCase):
    channel, secrets = "matrix", F.MX_AS_SECRETS
    make_fake, make_config = F.FakeHomeserver, staticmethod(mx_config)

    def sender(self, who):
        return "@%s:hs.test" % who

    def test_config_refused_without_its_secrets_or_with_a_bad_mode(self):
        for cfg, secrets, why in (
                (mx_config(self.fake, mode="push"), self.secrets,
                 "channels.matrix: mode must be sync or appservice"),
                (self.config, {"matrix_as_token": F.MX_AS_TOKEN},
                 "needs the secret file 'matrix_hs_token'"),
                (mx_config(self.fake, mode="sync"), self.secrets,
                 "needs the secret file 'matrix_access_token'")):
            gw = F.Gateway(self.rt.url, cfg, secrets=secrets)
            with self.assertRaises(RuntimeError) as e:
                gw.start()
            self.assertIn(why, str(e.exception))
            self.assertNotIn(F.MX_AS_TOKEN, gw.daemon.log_text())

    def test_rotated_hs_token_stale_one_refused(self):
        gw = self.start()
        path = os.path.join(gw.secrets_dir, "matrix_hs_token")
        os.unlink(path)
        with open(path, "w") as f:
            f.write("hs-token-rotated-0001")
        os.chmod(path, 0o400)
        gw.reload(self.config)
        room = self.fake.room(uniq("rot"))
        r, _ = self.fake.push(gw.url, [self.fake.message(room, "stale")])
        self.assertEqual(r.status, 403)
        r, _ = self.fake.push(gw.url, [self.fake.message(room, "fresh")],
                            token="hs-token-rotated-0001")
        self.assertEqual(r.status, 200)
        wait_for(lambda: self.fake.texts(room), what="reply")
        self.assertEqual(self.fake.texts(room), ["echo: fresh"])
        self.assertNotIn("stale", self.rt.texts())

    def deliver(self, gw, who, text):
        r, _ = self.fake.push(gw.url, [self.fake.message(
            self.fake.room("dm-" + who), text, sender=self.sender(who))])
        self.assertEqual(r.status, 200, r.text)

    def answers(self, who):
        return self.fake.texts("!dm-%s:hs.test" % who)

    def test_sigkill_after_ack_answered_once_and_txn_remembered(self):
        gw = self.start()
        room = self.fake.room(uniq("crash"))
        self.rt.hold()
        r, txn = self.fake.push(gw.url, [self.fake.message(room, "before crash")])
        self.assertEqual(r.status, 200)
        wait_for(lambda: self.rt.count() >= 1, what="runtime called")
        gw.kill()                      # acknowledged, not answered
        self.rt.release()
        self.assertEqual(self.fake.texts(room), [])
        gw2 = self.start(data_dir=gw.data_dir)
        wait_for(lambda: self.fake.texts(room), what="reply after restart")
        # the homeserver retries the transaction after the restart, and
        # the same txnId with another event is not taken either
        r, _ = self.fake.push(gw2.url, [self.fake.message(room, "smuggled")],
                            txn=txn)
        self.assertEqual((r.status, r.json()), (200, {}))
        r, _ = self.fake.push(gw2.url, [self.fake.message(room, "after")])
        self.assertEqual(r.status, 200)
        wait_for(lambda: "echo: after" in self.fake.texts(room),
                 what="later reply")
        self.assertEqual(self.fake.texts(room),
                         ["echo: before crash", "echo: after"])
        self.assertNotIn("smuggled", self.rt.texts())


def mm_config(fc):
    return {"tenant": "t1", "channels": {"mattermost": {
        "api_base": fc.base + "/mattermost", "mode": "websocket",
        "bot_username": "claw"}}}


def mm_ws_started():
    try:
        with open(MAIN_C) as f:
            return "gw_mmws_round" in f.read()
    except OSError:
        return False


@unittest.skipUnless(mm_ws_started(), "gateway/main.c does not start the "
                     "Mattermost WebSocket thread (gw_mmws_round) yet")
class MattermostWS(F.ClassGatewayCase):
    @classmethod
    def fixture(cls):
        cls.fc = F.FakeMattermostWS()
        return cls.fc, mm_config(cls.fc), F.MM_WS_SECRETS

    def ws(self):
        return self.fc.wait_ws("mattermost", len(self.fc.ws["mattermost"])
                               or 1)

    def answered(self, ws, chan, n):
        wait_for(lambda: len(self.fc.replies(chan)) >= n, what="reply")
        s = uniq("sentinel")
        self.fc.posted(ws, s, channel=chan, channel_type="D")
        wait_for(lambda: any(p["message"] == "echo: " + s
                             for p in self.fc.replies(chan)),
                 what="sentinel reply")
        return [p for p in self.fc.replies(chan)
                if p["message"] != "echo: " + s]

    def test_direct_and_channel_posts(self):
        ws = self.ws()
        dm = uniq("dm")[:26]
        self.fc.posted(ws, "hello dm", channel=dm, channel_type="D")
        got = self.answered(ws, dm, 1)
        self.assertEqual([(p["message"], "root_id" in p) for p in got],
                         [("echo: hello dm", False)])
        town = uniq("town")[:26]
        self.fc.posted(ws, "just chatting", channel=town)
        self.fc.posted(ws, "echo: mine", channel=town, user=F.MM_BOT_ID)
        pid = self.fc.posted(ws, "help me", channel=town,
                             mentions=[F.MM_BOT_ID])
        self.fc.posted(ws, "help me", channel=town, post_id=pid,
                       mentions=[F.MM_BOT_ID])   # the same post again
        got = self.answered(ws, town, 1)
        self.assertEqual([(p["message"], p.get("root_id")) for p in got],
                         [("echo: help me", pid)])
        self.assertNotIn("just chatting", self.rt.texts())
        self.assertNotIn("echo: mine", self.rt.texts())

    def test_rate_limited_and_split(self):
        ws = self.ws()
        chan = uniq("rl")[:26]
        with self.fc.lock:
            self.fc.ratelimit_next["mattermost"] = 1
        self.fc.posted(ws, "long:20000", channel=chan, channel_type="D")
        wait_for(lambda: sum(len(p["message"]) for p in
                             self.fc.replies(chan)) >= 20000,
                 what="both pieces")
        wait_for(lambda: len(self.fc.replies(chan)) >= 3, what="retry")
        msgs = [p["message"] for p in self.fc.replies(chan)]
        # the fake records the refused (429) attempt too: one piece twice
        self.assertEqual(len(msgs), 3)
        pieces = [m for i, m in enumerate(msgs) if i == 0 or
                  m != msgs[i - 1]]
        self.assertEqual("".join(pieces), "x" * 20000)
        self.assertTrue(all(len(m) <= 16383 for m in msgs))


@unittest.skipUnless(mm_ws_started(), "gateway/main.c does not start the "
                     "Mattermost WebSocket thread (gw_mmws_round) yet")
class MattermostWSCrash(OwnGateways, unittest.TestCase):
    channel, secrets = "mattermost", F.MM_WS_SECRETS
    make_fake, make_config = F.FakeMattermostWS, staticmethod(mm_config)

    def sender(self, who):
        return ("u" + who)[:26]

    def deliver(self, gw, who, text):
        ws = self.fake.wait_ws("mattermost", 1)
        with self.fake.lock:
            ws = self.fake.ws["mattermost"][-1]
        self.fake.posted(ws, text, channel=("d" + who)[:26],
                       channel_type="D", user=self.sender(who))

    def answers(self, who):
        return [p["message"] for p in self.fake.replies(("d" + who)[:26])]

    def test_sigkill_after_ack_answered_once(self):
        gw = self.start()
        ws = self.fake.wait_ws("mattermost", 1)
        self.rt.hold()
        chan = uniq("crash")[:26]
        self.fake.posted(ws, "before crash", channel=chan, channel_type="D")
        wait_for(lambda: self.rt.count() >= 1, what="runtime called")
        gw.kill()
        self.rt.release()
        self.assertEqual(self.fake.replies(chan), [])
        self.start(data_dir=gw.data_dir)
        ws2 = self.fake.wait_ws("mattermost", 2)
        wait_for(lambda: self.fake.replies(chan), what="reply after restart")
        self.fake.posted(ws2, "after", channel=chan, channel_type="D")
        wait_for(lambda: len(self.fake.replies(chan)) >= 2, what="later")
        self.assertEqual([p["message"] for p in self.fake.replies(chan)],
                         ["echo: before crash", "echo: after"])

    def test_refused_authentication_reconnects(self):
        with self.fake.lock:
            self.fake.auth_fail = 1
        self.start()
        ws = self.fake.wait_ws("mattermost", 1)
        with self.fake.lock:
            self.assertEqual(self.fake.opens.get("mattermost-fail"), 1)
        chan = uniq("re")[:26]
        self.fake.posted(ws, "after reconnect", channel=chan,
                       channel_type="D")
        wait_for(lambda: self.fake.replies(chan), what="reply")

    def test_wrong_token_never_connects(self):
        secrets = dict(F.MM_WS_SECRETS, mattermost_bot_token="stolen")
        gw = self.start(secrets=secrets)
        wait_for(lambda: "users/me failed" in gw.daemon.log_text(),
                 what="users/me refused")
        self.assertEqual(self.fake.ws["mattermost"], [])


if __name__ == "__main__":
    unittest.main()
