"""Channel adapters of claw-gateway against fakes of each channel's API:
verification (good, forged, stale), replays (the same signature again,
also spelled in upper case), Telegram and WhatsApp messages dated too long
ago (acknowledged with 200 so the channel does not retry them, never
delivered, counted), parsing, replies through the API with the right
path/headers/body, splitting, 429 handling, web chat and the
OpenAI-compatible endpoint; and Telegram's setWebhook called by the
gateway in webhook mode (at start, again after a reload that changes the
URL or the secret, retried after a failure, a refusal reported on /readyz
without the token in the log)."""

import json
import os
import subprocess
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402


class Channels(F.ClassGatewayCase):
    @classmethod
    def fixture(cls):
        cls.fc = F.FakeChannels()
        cls.cfg = {"tenant": "t1", "channels": F.all_channels(cls.fc)}
        return cls.fc, cls.cfg, None

    # ------------------------------------------------------------ telegram
    def tg(self, update, secret=F.TG_SECRET):
        h = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
        return self.gw.post("/telegram/webhook", update, h)

    def test_telegram_reply_and_typing(self):
        r = self.tg(F.tg_update("hello tg", chat_id=501))
        self.assertEqual(r.status, 200, r.text)
        calls = self.fc.wait_sent("telegram", 1, "sendMessage")
        body = [c[4] for c in calls if c[4]["chat_id"] == 501]
        wait_for(lambda: [c for c in self.fc.sent("telegram", "sendMessage")
                          if c[4]["chat_id"] == 501], what="reply")
        body = [c[4] for c in self.fc.sent("telegram", "sendMessage")
                if c[4]["chat_id"] == 501]
        self.assertEqual(body[0]["text"], "echo: hello tg")
        self.assertTrue([c for c in self.fc.sent("telegram", "sendChatAction")
                         if c[4]["chat_id"] == 501])
        env = [e for e in self.rt.envelopes if e["text"] == "hello tg"][0]
        self.assertEqual(env["channel"], "telegram")
        self.assertEqual(env["conversation"], "telegram:501")
        self.assertEqual(env["account"], "123456")
        self.assertEqual(env["sender"], {"id": "7", "name": "Ann"})

    def test_telegram_forged_secret_refused(self):
        n = self.rt.count()
        for secret in ("wrong", None):
            r = self.tg(F.tg_update("forged", chat_id=502), secret)
            self.assertEqual(r.status, 401)
            self.assertEqual(r.error_code(), "bad_signature")
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)
        self.assertNotIn("forged", self.rt.texts())

    def test_telegram_split_4096(self):
        self.tg(F.tg_update("long:9000", chat_id=503))
        parts = wait_for(lambda: (lambda p: len(p) >= 3 and p)(
            [c[4]["text"] for c in self.fc.sent("telegram", "sendMessage")
             if c[4]["chat_id"] == 503]), what="3 pieces")
        self.assertEqual([len(p) for p in parts], [4096, 4096, 808])

    def test_telegram_429_retry_after(self):
        self.fc.ratelimit_next["telegram"] = 1
        self.tg(F.tg_update("limited", chat_id=504))
        sent = wait_for(lambda: [c for c in self.fc.sent("telegram",
                                                         "sendMessage")
                                 if c[4]["chat_id"] == 504 and
                                 len([x for x in self.fc.sent(
                                     "telegram", "sendMessage")
                                     if x[4]["chat_id"] == 504]) >= 2],
                        what="retry after 429")
        self.assertEqual(sent[-1][4]["text"], "echo: limited")

    def test_telegram_malformed(self):
        r = self.gw.post("/telegram/webhook", b"{not json",
                         {"X-Telegram-Bot-Api-Secret-Token": F.TG_SECRET})
        self.assertEqual(r.status, 400)

    # --------------------------------------------------------------- slack
    def test_slack_url_verification(self):
        body = json.dumps({"token": "x", "challenge": "3eZbrw1aBm2rZgRNFdxV",
                           "type": "url_verification"}).encode()
        r = self.gw.post("/slack/events", body, F.sign_slack(body))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["challenge"], "3eZbrw1aBm2rZgRNFdxV")

    def test_slack_dm_reply(self):
        body = json.dumps(F.slack_event("hi slack", channel="D0501")).encode()
        r = self.gw.post("/slack/events", body, F.sign_slack(body))
        self.assertEqual(r.status, 200, r.text)
        call = wait_for(lambda: [c for c in self.fc.sent("slack")
                                 if c[4]["channel"] == "D0501"], what="reply")
        self.assertEqual(call[0][4]["text"], "echo: hi slack")
        self.assertNotIn("thread_ts", call[0][4])
        self.assertEqual(call[0][3]["Authorization"], "Bearer " + F.SLACK_BOT)

    def test_slack_mention_in_channel_replies_in_thread(self):
        ev = F.slack_event("<@UBOT> help", channel="C0502", typ="app_mention")
        body = json.dumps(ev).encode()
        self.assertEqual(self.gw.post("/slack/events", body,
                                      F.sign_slack(body)).status, 200)
        call = wait_for(lambda: [c for c in self.fc.sent("slack")
                                 if c[4]["channel"] == "C0502"], what="reply")
        self.assertEqual(call[0][4]["thread_ts"], ev["event"]["ts"])

    def test_slack_429_retry_after(self):
        self.fc.ratelimit_next["slack"] = 1
        body = json.dumps(F.slack_event("slow down", channel="D0505")).encode()
        self.gw.post("/slack/events", body, F.sign_slack(body))
        calls = wait_for(lambda: (lambda c: len(c) >= 2 and c)(
            [c for c in self.fc.sent("slack") if c[4]["channel"] == "D0505"]),
            what="retry after 429")
        self.assertEqual(calls[-1][4]["text"], "echo: slow down")
        self.assertGreaterEqual(self.gw.metric(
            'claw_gateway_send_retries_total{channel="slack"}'), 1)

    def test_slack_forged_and_stale_refused(self):
        n = self.rt.count()
        body = json.dumps(F.slack_event("forged slack")).encode()
        h = F.sign_slack(body, secret="not-the-secret")
        r = self.gw.post("/slack/events", body, h)
        self.assertEqual((r.status, r.error_code()), (401, "bad_signature"))
        h = F.sign_slack(body, ts=int(time.time()) - 301)
        r = self.gw.post("/slack/events", body, h)
        self.assertEqual((r.status, r.error_code()), (401, "stale_request"))
        tampered = body.replace(b"forged", b"FORGED")
        r = self.gw.post("/slack/events", tampered, F.sign_slack(body))
        self.assertEqual(r.status, 401)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    def test_slack_retry_answered_once(self):
        ev = F.slack_event("retry me", channel="D0503")
        body = json.dumps(ev).encode()
        self.assertEqual(self.gw.post("/slack/events", body,
                                      F.sign_slack(body)).status, 200)
        # Slack's retry is signed anew (a later timestamp)
        h = F.sign_slack(body, ts=int(time.time()) + 1)
        h["X-Slack-Retry-Num"] = "1"
        h["X-Slack-Retry-Reason"] = "http_timeout"
        self.assertEqual(self.gw.post("/slack/events", body, h).status, 200)
        wait_for(lambda: [c for c in self.fc.sent("slack")
                          if c[4]["channel"] == "D0503"], what="reply")
        time.sleep(0.5)
        self.assertEqual(len([c for c in self.fc.sent("slack")
                              if c[4]["channel"] == "D0503"]), 1)
        self.assertEqual(self.rt.texts().count("retry me"), 1)

    def test_exact_replays_refused(self):
        n = self.rt.count()
        body = json.dumps(F.slack_event("replayed", channel="D0504")).encode()
        h = F.sign_slack(body)
        self.assertEqual(self.gw.post("/slack/events", body, h).status, 200)
        r = self.gw.post("/slack/events", body, h)
        self.assertEqual((r.status, r.error_code()), (401, "replayed_request"))
        cmd = json.dumps(F.discord_command("replayed")).encode()
        h = F.sign_discord(cmd)
        self.assertEqual(self.gw.post("/discord/interactions", cmd,
                                      h).status, 200)
        r = self.gw.post("/discord/interactions", cmd, h)
        self.assertEqual((r.status, r.error_code()), (401, "replayed_request"))
        wait_for(lambda: self.rt.count() >= n + 2, what="the originals")
        time.sleep(0.3)
        self.assertEqual(self.rt.texts().count("replayed"), 2)

    def test_replays_in_other_spellings_refused(self):
        replays = self.gw.metric(
            'claw_gateway_refused_total{channel="discord",'
            'reason="replayed"}')
        cmd = json.dumps(F.discord_command("spelled")).encode()
        h = F.sign_discord(cmd)
        self.assertEqual(self.gw.post("/discord/interactions", cmd,
                                      h).status, 200)
        # the same signature bytes, hex in upper case, then mixed case
        for sig in (h["X-Signature-Ed25519"].upper(),
                    h["X-Signature-Ed25519"][:64].upper() +
                    h["X-Signature-Ed25519"][64:]):
            h2 = dict(h, **{"X-Signature-Ed25519": sig})
            r = self.gw.post("/discord/interactions", cmd, h2)
            self.assertEqual((r.status, r.error_code()),
                             (401, "replayed_request"))
        self.assertEqual(self.gw.metric(
            'claw_gateway_refused_total{channel="discord",'
            'reason="replayed"}'), replays + 2)
        # Slack accepts only its own lower-case spelling
        body = json.dumps(F.slack_event("spelled", channel="D0506")).encode()
        h = F.sign_slack(body)
        self.assertEqual(self.gw.post("/slack/events", body, h).status, 200)
        h2 = dict(h, **{"X-Slack-Signature": "v0=" +
                        h["X-Slack-Signature"][3:].upper()})
        self.assertEqual(self.gw.post("/slack/events", body, h2).status, 401)
        wait_for(lambda: self.rt.texts().count("spelled") >= 2,
                 what="the originals")
        time.sleep(0.3)
        self.assertEqual(self.rt.texts().count("spelled"), 2)

    def test_stale_telegram_and_whatsapp_dropped(self):
        stale = {ch: self.gw.metric(
            'claw_gateway_refused_total{channel="%s",reason="stale"}' % ch)
            for ch in ("telegram", "whatsapp")}
        old = int(time.mktime((2018, 5, 1, 12, 0, 0, 0, 0, 0)))
        # an update dated 2018, and one 11 minutes old (default: 10)
        for i, date in enumerate((old, int(time.time()) - 660)):
            u = F.tg_update("tg stale %d" % i, chat_id=507)
            u["message"]["date"] = date
            r = self.tg(u)
            self.assertEqual((r.status, r.json()), (200, {"ok": True}))
        u = F.tg_update("tg fresh", chat_id=507)
        u["message"]["date"] = int(time.time()) - 120
        self.assertEqual(self.tg(u).status, 200)
        # one notification with an old message and a fresh one
        n = F.wa_notification("wa stale", wa_id="15550007")
        msgs = n["entry"][0]["changes"][0]["value"]["messages"]
        msgs[0]["timestamp"] = str(old)
        fresh = dict(msgs[0], id="wamid.fresh507", timestamp=str(
            int(time.time())), text={"body": "wa fresh"})
        msgs.append(fresh)
        body = json.dumps(n).encode()
        r = self.gw.post("/whatsapp/webhook", body, F.sign_hub(body))
        self.assertEqual(r.status, 200, r.text)
        wait_for(lambda: "tg fresh" in self.rt.texts() and
                 "wa fresh" in self.rt.texts(), what="the fresh ones")
        time.sleep(0.3)
        texts = self.rt.texts()
        for t in ("tg stale 0", "tg stale 1", "wa stale"):
            self.assertNotIn(t, texts)
        self.assertEqual(self.gw.metric(
            'claw_gateway_refused_total{channel="telegram",'
            'reason="stale"}'), stale["telegram"] + 2)
        self.assertEqual(self.gw.metric(
            'claw_gateway_refused_total{channel="whatsapp",'
            'reason="stale"}'), stale["whatsapp"] + 1)
        self.assertIn("more than 600 s ago", self.gw.daemon.log_text())
        # a timestamp that is not a number is malformed
        n2 = F.wa_notification("wa bad ts")
        n2["entry"][0]["changes"][0]["value"]["messages"][0][
            "timestamp"] = "yesterday"
        body = json.dumps(n2).encode()
        self.assertEqual(self.gw.post("/whatsapp/webhook", body,
                                      F.sign_hub(body)).status, 400)

    # ------------------------------------------------------------ whatsapp
    def test_whatsapp_verify_challenge(self):
        q = "/whatsapp/webhook?hub.mode=subscribe&hub.challenge=1158201444" \
            "&hub.verify_token=" + F.WA_VERIFY
        r = self.gw.get(q)
        self.assertEqual((r.status, r.text), (200, "1158201444"))
        r = self.gw.get(q.replace(F.WA_VERIFY, "nope"))
        self.assertEqual(r.status, 403)

    def test_whatsapp_reply(self):
        body = json.dumps(F.wa_notification("hola", wa_id="15550001")).encode()
        r = self.gw.post("/whatsapp/webhook", body, F.sign_hub(body))
        self.assertEqual(r.status, 200, r.text)
        call = wait_for(lambda: [c for c in self.fc.sent("whatsapp")
                                 if c[4]["to"] == "15550001"], what="reply")
        self.assertEqual(call[0][2], "/graph/v21.0/%s/messages" % F.WA_PNID)
        self.assertEqual(call[0][4]["text"]["body"], "echo: hola")
        env = [e for e in self.rt.envelopes if e["text"] == "hola"][0]
        self.assertEqual(env["sender"]["name"], "Kerry Fisher")

    def test_whatsapp_forged_refused(self):
        n = self.rt.count()
        body = json.dumps(F.wa_notification("forged wa")).encode()
        for h in (F.sign_hub(body, "other"), {"Content-Type":
                                              "application/json"}):
            r = self.gw.post("/whatsapp/webhook", body, h)
            self.assertEqual(r.status, 401)
        time.sleep(0.3)
        self.assertEqual(self.rt.count(), n)

    # ------------------------------------------------------------- discord
    def test_discord_ping(self):
        body = b'{"type":1}'
        r = self.gw.post("/discord/interactions", body, F.sign_discord(body))
        self.assertEqual((r.status, r.json()), (200, {"type": 1}))

    def test_discord_bad_signature_and_stale(self):
        body = b'{"type":1}'
        h = F.sign_discord(body)
        h["X-Signature-Ed25519"] = "00" * 64
        self.assertEqual(self.gw.post("/discord/interactions", body,
                                      h).status, 401)
        h = F.sign_discord(body, ts=int(time.time()) - 3600)
        self.assertEqual(self.gw.post("/discord/interactions", body,
                                      h).status, 401)

    def test_discord_command_deferred_then_edit(self):
        cmd = F.discord_command("what time is it", channel="2000000000502")
        body = json.dumps(cmd).encode()
        r = self.gw.post("/discord/interactions", body, F.sign_discord(body))
        self.assertEqual((r.status, r.json()), (200, {"type": 5}))
        call = wait_for(lambda: [c for c in self.fc.sent("discord")
                                 if cmd["token"] in c[2]], what="edit")
        self.assertEqual(call[0][1], "PATCH")
        self.assertTrue(call[0][2].endswith("/messages/@original"))
        self.assertEqual(call[0][4]["content"], "echo: what time is it")

    def test_discord_split_followups(self):
        cmd = F.discord_command("long:4500")
        body = json.dumps(cmd).encode()
        self.gw.post("/discord/interactions", body, F.sign_discord(body))
        calls = wait_for(lambda: (lambda c: len(c) >= 3 and c)(
            [c for c in self.fc.sent("discord") if cmd["token"] in c[2]]),
            what="3 pieces")
        self.assertEqual([c[1] for c in calls], ["PATCH", "POST", "POST"])
        self.assertEqual([len(c[4]["content"]) for c in calls],
                         [2000, 2000, 500])

    # ------------------------------------------------------------- webchat
    def test_webchat_cookie_post_and_sse(self):
        r = self.gw.get("/chat")
        self.assertEqual(r.status, 200)
        self.assertIn(b"EventSource", r.body)
        cookie = r.headers["Set-Cookie"]
        self.assertIn("HttpOnly", cookie)
        self.assertIn("SameSite=Strict", cookie)
        session = cookie.split(";")[0]
        self.assertGreater(len(session.split("=")[1]), 40)
        r = self.gw.post("/chat/messages", {"id": "m1", "text": "hi web"},
                         {"Cookie": session})
        self.assertEqual(r.status, 202, r.text)
        req = urllib.request.Request(self.gw.url + "/chat/events",
                                     headers={"Cookie": session})
        events, name = [], None
        with urllib.request.urlopen(req, timeout=20) as resp:
            self.assertEqual(resp.headers["Content-Type"], "text/event-stream")
            while not events or events[-1][0] != "message":
                line = resp.readline().decode()
                self.assertTrue(line)
                if line.startswith("event: "):
                    name = line[7:].strip()
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])["text"]))
        # pieces while the agent writes, then the whole reply
        deltas = "".join(t for n, t in events if n == "delta")
        self.assertGreater(len([n for n, _ in events if n == "delta"]), 1)
        self.assertEqual(deltas, "echo: hi web")
        self.assertEqual(events[-1], ("message", "echo: hi web"))
        # the runtime never sees the cookie
        env = [e for e in self.rt.envelopes if e["text"] == "hi web"][0]
        self.assertNotIn(session.split("=")[1], json.dumps(env))

    def test_webchat_events_need_session(self):
        self.assertEqual(self.gw.get("/chat/events").status, 401)

    # -------------------------------------------------------------- openai
    def test_openai_needs_token(self):
        body = {"model": "agent", "messages": [{"role": "user",
                                                "content": "x"}]}
        self.assertEqual(self.gw.post("/v1/chat/completions", body).status,
                         401)
        r = self.gw.post("/v1/chat/completions", body,
                         {"Authorization": "Bearer wrong"})
        self.assertEqual(r.status, 401)
        # the chat token grants chat and nothing else
        r = self.gw.get("/admin/pairing", token=F.OPENAI_TOKEN)
        self.assertEqual(r.status, 401)

    def test_openai_completion(self):
        body = {"model": "agent", "messages": [
            {"role": "system", "content": "be nice"},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": [{"type": "text", "text": "second"}]}]}
        r = self.gw.post("/v1/chat/completions", body,
                         {"Authorization": "Bearer " + F.OPENAI_TOKEN})
        self.assertEqual(r.status, 200, r.text)
        o = r.json()
        self.assertEqual(o["object"], "chat.completion")
        self.assertEqual(o["choices"][0]["message"],
                         {"role": "assistant", "content": "echo: second",
                          "refusal": None})
        self.assertEqual(o["usage"]["total_tokens"], 8)
        env = [e for e in self.rt.envelopes if e["text"] == "second"][0]
        self.assertEqual(env["history"], [{"role": "user", "content": "first"},
                                          {"role": "assistant",
                                           "content": "ok"}])

    def test_openai_stream(self):
        body = {"model": "agent", "stream": True,
                "messages": [{"role": "user", "content": "stream this"}]}
        data = json.dumps(body).encode()
        req = urllib.request.Request(
            self.gw.url + "/v1/chat/completions", data=data, headers={
                "Authorization": "Bearer " + F.OPENAI_TOKEN,
                "Content-Type": "application/json"})
        text, events = "", []
        with urllib.request.urlopen(req, timeout=20) as resp:
            self.assertEqual(resp.headers["Content-Type"], "text/event-stream")
            for line in resp:
                line = line.decode().strip()
                if not line.startswith("data: "):
                    continue
                events.append(line[6:])
                if line[6:] == "[DONE]":
                    break
                c = json.loads(line[6:])
                self.assertEqual(c["object"], "chat.completion.chunk")
                text += c["choices"][0]["delta"].get("content", "")
        self.assertEqual(text, "echo: stream this")
        self.assertEqual(events[-1], "[DONE]")
        self.assertEqual(json.loads(events[-2])["choices"][0]["finish_reason"],
                         "stop")

    def test_ops_endpoints(self):
        self.assertEqual(self.gw.get("/healthz").json(), {"status": "ok"})
        self.assertEqual(self.gw.get("/readyz").status, 200)
        r = self.gw.get("/metrics")
        self.assertIn("claw_gateway_reply_latency_seconds_bucket", r.text)
        self.assertTrue(r.headers["X-Request-Id"])


URL1 = "https://acme.example.com/telegram/webhook"
URL2 = "https://acme2.example.com:8443/telegram/webhook"


class TelegramSetWebhook(F.FakesCase):
    """A gateway of its own per test, Telegram in webhook mode with
    webhook_url: the gateway registers the URL with setWebhook."""

    def setUp(self):
        super().setUp()
        self.gw = None

    def start(self, url=URL1, secrets=None):
        self.cfg["channels"]["telegram"]["webhook_url"] = url
        self.gw = F.Gateway(self.rt.url, self.cfg, secrets=secrets).start()
        return self.gw

    def sets(self):
        return [c[4] for c in self.fc.sent("telegram", "/setWebhook")]

    def hook_state(self, state):
        """Wait until /readyz says state; its telegram_webhook object."""
        def seen():
            r = self.gw.get("/readyz")
            o = r.json().get("telegram_webhook", {})
            return r.status == 200 and o.get("state") == state and o
        return wait_for(seen, what="telegram_webhook " + state)

    def set_secret(self, name, value):
        p = os.path.join(self.gw.secrets_dir, name)
        os.chmod(p, 0o600)
        with open(p, "w") as f:
            f.write(value)

    def webhook_info(self, token=F.TG_TOKEN):
        req = urllib.request.Request(
            "%s/telegram/bot%s/getWebhookInfo" % (self.fc.base, token),
            data=b"{}", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def test_set_at_start_after_failures(self):
        self.fc.tg_webhook_fail = 2   # two 500s, then accepted
        self.start()
        st = self.hook_state("set")
        self.assertEqual(st["url"], URL1)
        self.assertEqual(st["attempts"], 3)
        self.assertNotIn("error", st)
        calls = self.sets()
        self.assertEqual(len(calls), 3)
        self.assertEqual(calls[-1], {
            "url": URL1, "secret_token": F.TG_SECRET,
            "allowed_updates": ["message"], "drop_pending_updates": False})
        info = self.webhook_info()
        self.assertTrue(info["ok"])
        self.assertEqual(info["result"]["url"], URL1)
        self.assertEqual(info["result"]["allowed_updates"], ["message"])
        # the webhook it registered works with the secret it gave
        r = self.gw.post("/telegram/webhook", F.tg_update("hi", chat_id=77),
                         {"X-Telegram-Bot-Api-Secret-Token":
                          calls[-1]["secret_token"]})
        self.assertEqual(r.status, 200)
        wait_for(lambda: F.tg_replies(self.fc, 77), what="reply")

    def test_reload_with_new_url_or_secret_sets_again(self):
        self.start()
        self.hook_state("set")
        self.gw.reload(self.cfg)            # nothing changed: no call
        self.cfg["channels"]["telegram"]["webhook_url"] = URL2
        self.gw.reload(self.cfg)
        wait_for(lambda: len(self.sets()) >= 2, what="second setWebhook")
        self.assertEqual(self.hook_state("set")["url"], URL2)
        self.set_secret("telegram_webhook_secret", "new-secret_2")
        self.gw.reload(self.cfg)
        wait_for(lambda: len(self.sets()) >= 3, what="third setWebhook")
        self.hook_state("set")
        self.assertEqual([(c["url"], c["secret_token"]) for c in self.sets()],
                         [(URL1, F.TG_SECRET), (URL2, F.TG_SECRET),
                          (URL2, "new-secret_2")])
        self.assertEqual(self.webhook_info()["result"]["url"], URL2)

    def test_refused_token_reported_not_logged(self):
        bad = "999999:BADtoken-never-in-logs"
        self.start(secrets=dict(F.SECRETS, telegram_bot_token=bad))
        st = self.hook_state("refused")
        self.assertIn("401", st["error"])
        self.assertIn("Unauthorized", st["error"])
        self.assertEqual(st["url"], URL1)
        self.assertEqual(self.gw.get("/readyz").json()["status"], "ready")
        # refused for good: not retried until the config changes
        self.gw.reload(self.cfg)
        self.set_secret("telegram_bot_token", F.TG_TOKEN)
        self.gw.reload(self.cfg)
        self.hook_state("set")
        self.assertEqual(len(self.sets()), 2)
        log = self.gw.daemon.log_text()
        self.assertIn("setWebhook: HTTP 401", log)
        for secret in (bad, F.TG_TOKEN, F.TG_SECRET, "BADtoken"):
            self.assertNotIn(secret, log)

    def test_polling_mode_never_sets(self):
        self.cfg["channels"]["telegram"]["mode"] = "polling"
        self.start()
        self.assertNotIn("telegram_webhook", self.gw.get("/readyz").json())
        self.fc.updates.append(F.tg_update("poll", chat_id=78))
        wait_for(lambda: F.tg_replies(self.fc, 78), what="polled reply")
        self.assertEqual(self.sets(), [])

    def test_bad_webhook_url_refused_by_config_check(self):
        for url in ("http://acme.example.com/telegram/webhook",
                    "https:///telegram/webhook",
                    "https://acme.example.com:9000/telegram/webhook",
                    "https://acme.example.com/a b"):
            self.cfg["channels"]["telegram"]["webhook_url"] = url
            gw = F.Gateway(self.rt.url, self.cfg)
            p = subprocess.run(gw.argv, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 2, url)
            self.assertIn("webhook_url must be an https:// URL", p.stderr)
        self.gw = None

    def test_reload_with_bad_url_refused(self):
        self.start()
        self.hook_state("set")
        self.cfg["channels"]["telegram"]["webhook_url"] = "http://plain.test/"
        self.gw.write_config(self.cfg)
        self.gw.daemon.send_signal(1)  # SIGHUP
        wait_for(lambda: "webhook_url must be an https:// URL" in
                 self.gw.daemon.log_text(), what="reload refused")
        self.assertEqual(self.hook_state("set")["url"], URL1)
        self.assertEqual(len(self.sets()), 1)

    def stop_gateways(self):
        if self.gw:
            self.gw.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
