"""gwfakes - fakes for the gateway's integration tests (stdlib only).

FakeRuntime   the runtime's POST /v1/messages (docs/contracts.md), JSON or
              SSE; records envelopes; can hold replies (hold()/release()),
              fail, or wait for N concurrent requests.
FakeChannels  one HTTP server that speaks the channel APIs the gateway calls,
              under path prefixes (its api_base per channel):
                /telegram/bot<token>/sendMessage|sendChatAction|getUpdates
                  |setWebhook|getWebhookInfo|deleteWebhook
                /slack/api/chat.postMessage
                /graph/<version>/<phone-number-id>/messages
                /discord/api/v10/webhooks/<app>/<token>[/messages/@original]
                /line/v2/bot/message/reply|push      (LINE Messaging API)
                /twilio/2010-04-01/Accounts/<sid>/Messages.json
                /mattermost/api/v4/posts
              It checks what the real services check (token, auth header,
              content type, required fields, length limits, LINE's reply
              tokens and retry keys) and answers in their shapes,
              including their error and 429 shapes.
Gateway       runs claw-gateway with a config dict and secrets in temp dirs.
sign_*        request signing as each channel does it.
line_event, twilio_params, mm_payload   inbound payloads as the platforms
              send them; more_channels(fc) the config of LINE, Twilio and
              Mattermost pointed at the fakes; tenant_config(chans, **over)
              a config of tenant t1; stop_fixture(gw, rt, fake) a class's
              teardown.
FakesCase     a TestCase with a FakeRuntime, FakeChannels and a config per
              test; tg_replies() the texts a Telegram chat got.
"""

import base64
import hashlib
import hmac
import json
import queue
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest import fakehttp  # noqa: E402
from clawtest.proc import Daemon, wait_for  # noqa: E402
from clawtest.http import request  # noqa: E402

BUILD = os.environ.get("CLAW_BUILD_DIR", os.path.join(os.getcwd(), "build"))
GATEWAY = os.path.join(BUILD, "gateway", "claw-gateway")
SIGNER = os.path.join(BUILD, "tests", "integration", "gateway", "gw-sign")

TG_TOKEN = "123456:AAtesttoken"
TG_SECRET = "tg-webhook-secret_1"
SLACK_SIGNING = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_BOT = "xoxb-test-bot-token"
WA_APP_SECRET = "wa-app-secret"
WA_VERIFY = "wa-verify-token"
WA_ACCESS = "wa-access-token"
OPENAI_TOKEN = "sk-claw-test-token"
ADMIN_TOKEN = "admin-test-token"
DISCORD_SEED = "11" * 32
SLACK_APP = "xapp-1-test-app-token"
DISCORD_BOT = "discord.bot.token"
DISCORD_APP = "1100000000000000001"
WA_PNID = "106540352242922"
LINE_SECRET = "line-channel-secret-0123"
LINE_TOKEN = "line-channel-access-token"
LINE_BOT = "Ub0000000000000000000000000000bot"
TW_ACCOUNT = "AC0123456789abcdef0123456789abcdef"
TW_TOKEN = "twilio-auth-token-0123456789abcd"
TW_URL = "https://t1.claw.test/twilio/webhook"   # what Twilio calls (edge)
TW_NUMBER = "+15005550006"
TW_WA_NUMBER = "whatsapp:+14155238886"
MM_TOKEN = "5xy8y8wpkbb9mphgd1zbuzgaxo"
MM_BOT = "mattermost-bot-access-token"


def _serve(handler_cls, owner):
    srv = fakehttp.serve(handler_cls)
    srv.owner = owner
    return srv


class _Base(fakehttp.Handler):
    protocol_version = "HTTP/1.1"

    def send(self, status, obj=None, ctype="application/json", headers=None,
             raw=None):
        data = raw if raw is not None else (
            json.dumps(obj).encode() if obj is not None else b"")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the gateway was killed mid-request (crash tests)


# ----------------------------------------------------------------- runtime
class FakeRuntime:
    def __init__(self):
        self.lock = threading.Condition()
        self.envelopes = []       # every envelope received
        self.held = False
        self.fail_next = 0        # answer 503 this many times
        self.barrier = 0          # hold until this many are in flight once
        self.inflight = 0
        self.max_inflight = 0
        self.srv = _serve(_RuntimeHandler, self)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def hold(self):
        with self.lock:
            self.held = True

    def release(self):
        with self.lock:
            self.held = False
            self.lock.notify_all()

    def texts(self):
        with self.lock:
            return [e["text"] for e in self.envelopes]

    def count(self):
        with self.lock:
            return len(self.envelopes)

    def reply_for(self, text):
        if text.startswith("long:"):
            return "x" * int(text[5:])
        if text.startswith("ulong:"):   # not GSM-7: an SMS is UCS-2
            return "\u0436" * int(text[6:])
        return "echo: " + text

    def close(self):
        self.release()
        self.srv.shutdown()


class _RuntimeHandler(_Base):
    def do_GET(self):
        if self.path == "/healthz":
            self.send(200, {"status": "ok"})
        else:
            self.send(404, {"error": {"code": "not_found", "message": "no",
                                      "request_id": "x"}})

    def do_POST(self):
        rt = self.server.owner
        if self.path != "/v1/messages":
            return self.send(404, {"error": {"code": "not_found",
                                             "message": "no",
                                             "request_id": "x"}})
        env = json.loads(self.body())
        for k in ("id", "channel", "account", "conversation", "sender",
                  "text", "attachments", "time"):
            assert k in env, "envelope lacks " + k
        assert "route" not in env and "is_group" not in env
        with rt.lock:
            if rt.fail_next > 0:
                rt.fail_next -= 1
                return self.send(503, {"error": {"code": "unavailable",
                                                 "message": "busy",
                                                 "request_id": "x"}})
            rt.envelopes.append(env)
            rt.inflight += 1
            rt.max_inflight = max(rt.max_inflight, rt.inflight)
            rt.lock.notify_all()
            deadline = time.monotonic() + 20
            if rt.barrier and rt.inflight >= rt.barrier:
                rt.barrier = 0   # reached once: let everyone go
            while rt.held or rt.barrier:
                if rt.barrier and time.monotonic() > deadline:
                    break
                rt.lock.wait(0.1)
            rt.inflight -= 1
        reply = rt.reply_for(env["text"])
        done = {"id": env["id"], "reply": reply,
                "usage": {"input_tokens": 3, "output_tokens": 5},
                "truncated": False}
        if "text/event-stream" in (self.headers.get("Accept") or ""):
            parts = [reply[i:i + 4] for i in range(0, len(reply), 4)]
            out = "".join("event: delta\ndata: %s\n\n" % json.dumps(
                {"text": p}) for p in parts)
            out += "event: done\ndata: %s\n\n" % json.dumps(done)
            return self.send(200, raw=out.encode(),
                             ctype="text/event-stream")
        self.send(200, done)


# setWebhook's optional parameters: name, valid(value), Telegram's refusal
TG_WEBHOOK_PARAMS = (
    ("secret_token",
     lambda v: isinstance(v, str) and re.fullmatch(r"[A-Za-z0-9_-]{1,256}", v),
     "Bad Request: secret token contains unallowed characters"),
    ("allowed_updates",
     lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v),
     "Bad Request: can't parse allowed updates"),
    ("drop_pending_updates", lambda v: isinstance(v, bool),
     "Bad Request: can't parse drop_pending_updates"),
)


# ---------------------------------------------------------------- channels
class FakeChannels:
    def __init__(self):
        self.lock = threading.Condition()
        self.calls = []           # (channel, method, path, headers, body)
        self.errors = []          # what the gateway did wrong
        self.ratelimit_next = {}  # channel -> how many 429s to send
        self.updates = []         # telegram getUpdates queue
        self.tg_webhook = {}      # telegram: what setWebhook set
        self.tg_webhook_fail = 0  # telegram: setWebhooks to answer 500
        self.ws = {"slack": [], "discord": []}   # WSConn per connection
        self.line_tokens = {}     # reply token -> "fresh" | "used" | "expired"
        self.line_keys = {}       # X-Line-Retry-Key -> request id accepted
        self.line_fail_after_accept = 0   # pushes to accept, then 500
        self.line_delivered = []  # (to, text) as users see them
        self.mm_replies = set()   # post ids that are replies themselves
        self.opens = {"slack": 0, "discord": 0}  # URL requests
        self.srv = _serve(_ChannelHandler, self)
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def record(self, ch, method, path, headers, body):
        with self.lock:
            self.calls.append((ch, method, path, dict(headers), body))
            self.lock.notify_all()

    def sent(self, ch, kind=None):
        with self.lock:
            return [c for c in self.calls if c[0] == ch
                    and (kind is None or c[2].endswith(kind))]

    def wait_sent(self, ch, n, kind=None, timeout=30):
        return wait_for(lambda: len(self.sent(ch, kind)) >= n and
                        self.sent(ch, kind), timeout,
                        what="%d %s call(s)" % (n, ch))

    def wait_ws(self, ch, n, timeout=30):
        """The n-th (1-based) websocket connection of a channel."""
        return wait_for(lambda: len(self.ws[ch]) >= n and self.ws[ch][n - 1],
                        timeout, what="websocket %d of %s" % (n, ch))

    def take_429(self, ch):
        with self.lock:
            n = self.ratelimit_next.get(ch, 0)
            if n:
                self.ratelimit_next[ch] = n - 1
            return n > 0

    def close(self):
        self.srv.shutdown()


class _ChannelHandler(_Base):
    def fail(self, why, status, obj):
        self.server.owner.errors.append(why)
        self.send(status, obj)

    def json_body(self):
        raw = self.body()
        ctype = self.headers.get("Content-Type") or ""
        if not ctype.startswith("application/json"):
            return raw, None
        try:
            return raw, json.loads(raw)
        except ValueError:
            return raw, None

    def do_POST(self):
        self.route("POST")

    def do_GET(self):
        fc = self.server.owner
        path = urllib.parse.urlsplit(self.path).path
        if path == "/discord/api/v10/gateway/bot":
            if self.headers.get("Authorization") != "Bot " + DISCORD_BOT:
                return self.fail("discord: gateway auth", 401, {
                    "message": "401: Unauthorized", "code": 0})
            with fc.lock:
                fc.opens["discord"] += 1
            return self.send(200, {"url": "ws://127.0.0.1:%d/discord-gw" %
                                   self.server.server_address[1],
                                   "shards": 1, "session_start_limit": {
                                       "total": 1000, "remaining": 999,
                                       "reset_after": 14400000,
                                       "max_concurrency": 1}})
        if self.headers.get("Upgrade", "").lower() == "websocket":
            ch = "slack" if path.startswith("/slack-socket/") else "discord"
            ws = WSConn(self, self.path)
            with fc.lock:
                fc.ws[ch].append(ws)
                fc.lock.notify_all()
            self.close_connection = True
            if ch == "slack":
                ws.send_json({"type": "hello", "num_connections": 1,
                              "debug_info": {"host": "fake",
                                             "approximate_connection_time":
                                             18060},
                              "connection_info": {"app_id": "A0001"}})
            else:
                ws.send_json({"op": 10, "d": {"heartbeat_interval": 300},
                              "s": None, "t": None})
                threading.Thread(target=_discord_acks, args=(ws,),
                                 daemon=True).start()
            ws.serve()
            return
        self.fail("unknown GET " + path, 404, {"error": "not found"})

    def do_PATCH(self):
        self.route("PATCH")

    def route(self, method):
        fc = self.server.owner
        raw, body = self.json_body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/telegram/"):
            return self.telegram(fc, method, path, body)
        if path.startswith("/slack/api/"):
            return self.slack(fc, method, path, body)
        if path.startswith("/graph/"):
            return self.whatsapp(fc, method, path, body)
        if path.startswith("/discord/api/v10/"):
            return self.discord(fc, method, path, body)
        if path.startswith("/line/"):
            return self.line(fc, method, path, body)
        if path.startswith("/twilio/"):
            return self.twilio(fc, method, path, raw)
        if path.startswith("/mattermost/"):
            return self.mattermost(fc, method, path, body)
        self.fail("unknown path " + path, 404, {"error": "not found"})

    def tg_fail(self, why, status, description):
        """Telegram's error shape; why: the gateway's fault (recorded),
        None for an answer a test asked for."""
        obj = {"ok": False, "error_code": status, "description": description}
        if why:
            return self.fail(why, status, obj)
        return self.send(status, obj)

    # Telegram Bot API: https://api.telegram.org/bot<token>/METHOD
    def telegram(self, fc, method, path, body):
        m = re.match(r"^/telegram/bot([^/]+)/(\w+)$", path)
        if m and m.group(2) in ("setWebhook", "getWebhookInfo",
                                "deleteWebhook"):
            return self.telegram_webhook(fc, method, path, m.group(1),
                                         m.group(2), body)
        if not m or m.group(1) != TG_TOKEN:
            return self.tg_fail("telegram: bad token/path", 401,
                                "Unauthorized")
        name = m.group(2)
        if body is None:
            return self.tg_fail("telegram: body is not JSON", 400,
                                "Bad Request: no JSON")
        if name == "getUpdates":
            if fc.tg_webhook.get("url"):
                return self.tg_fail("telegram: getUpdates with a webhook", 409,
                                    "Conflict: can't use getUpdates method "
                                    "while webhook is active; use "
                                    "deleteWebhook to delete the webhook "
                                    "first")
            with fc.lock:
                off = body.get("offset", 0)
                fc.updates = [u for u in fc.updates if u["update_id"] >= off]
                res = list(fc.updates)
            if not res:
                time.sleep(min(0.2, body.get("timeout", 0)))
            return self.send(200, {"ok": True, "result": res})
        fc.record("telegram", method, path, self.headers, body)
        if name == "sendChatAction":
            if body.get("action") != "typing" or "chat_id" not in body:
                return self.tg_fail("telegram: bad chat action", 400,
                                    "Bad Request: bad action")
            return self.send(200, {"ok": True, "result": True})
        if name != "sendMessage":
            return self.tg_fail("telegram: unknown method", 404, "Not Found")
        text = body.get("text")
        if not isinstance(body.get("chat_id"), int) or not text:
            return self.tg_fail("telegram: chat_id/text", 400,
                                "Bad Request: message text is empty")
        if len(text) > 4096:
            return self.tg_fail("telegram: too long", 400,
                                "Bad Request: message is too long")
        if fc.take_429("telegram"):
            return self.send(429, {
                "ok": False, "error_code": 429,
                "description": "Too Many Requests: retry after 1",
                "parameters": {"retry_after": 1}})
        self.send(200, {"ok": True, "result": {
            "message_id": len(fc.calls), "date": int(time.time()),
            "chat": {"id": body["chat_id"], "type": "private"},
            "text": text}})

    # https://core.telegram.org/bots/api#setwebhook (and getWebhookInfo,
    # deleteWebhook): recorded with any token, a wrong one answered 401 as
    # Telegram does (a test of the refusal makes it on purpose).
    def telegram_webhook(self, fc, method, path, token, name, body):
        fc.record("telegram", method, path, self.headers, body)
        if token != TG_TOKEN:
            return self.tg_fail(None, 401, "Unauthorized")
        if body is None and not int(self.headers.get("Content-Length")
                                    or 0):
            body = {}   # a method without parameters may have no body
        if not isinstance(body, dict):
            return self.tg_fail("telegram: body is not JSON", 400,
                                "Bad Request: no JSON")
        if name == "getWebhookInfo":
            with fc.lock:
                w = dict(fc.tg_webhook)
            info = {"url": w.get("url", ""), "has_custom_certificate": False,
                    "pending_update_count": 0}
            if info["url"]:
                info.update(max_connections=w["max_connections"],
                            ip_address="127.0.0.1")
                if w.get("allowed_updates") is not None:
                    info["allowed_updates"] = w["allowed_updates"]
            return self.send(200, {"ok": True, "result": info})
        url = "" if name == "deleteWebhook" else body.get("url")
        if not isinstance(url, str):
            return self.tg_fail("telegram: setWebhook without url", 400,
                                "Bad Request: parameter \"url\" is required")
        if not url:   # an empty URL removes the webhook
            with fc.lock:
                had = bool(fc.tg_webhook.get("url"))
                fc.tg_webhook = {}
            return self.send(200, {"ok": True, "result": True,
                                   "description": "Webhook was deleted"
                                   if had else "Webhook is already deleted"})
        u = urllib.parse.urlsplit(url)
        if u.scheme != "https" or not u.hostname:
            return self.tg_fail("telegram: not an HTTPS URL", 400,
                                "Bad Request: bad webhook: An HTTPS URL "
                                "must be provided for webhook")
        if (u.port or 443) not in (80, 88, 443, 8443):
            return self.tg_fail("telegram: webhook port", 400,
                                "Bad Request: bad webhook: Webhook can be "
                                "set up only on ports 80, 88, 443 or 8443")
        for name, valid, refusal in TG_WEBHOOK_PARAMS:
            if body.get(name) is not None and not valid(body[name]):
                return self.tg_fail("telegram: " + name, 400, refusal)
        secret, allowed = body.get("secret_token"), body.get("allowed_updates")
        with fc.lock:
            if fc.tg_webhook_fail:
                fc.tg_webhook_fail -= 1
                failing = True
            else:
                failing = False
                new = {"url": url, "secret_token": secret,
                       "allowed_updates": allowed,
                       "max_connections": body.get("max_connections", 40)}
                same = fc.tg_webhook == new
                fc.tg_webhook = new
        if failing:
            return self.tg_fail(None, 500, "Internal Server Error")
        self.send(200, {"ok": True, "result": True,
                        "description": "Webhook is already set" if same
                        else "Webhook was set"})

    # Slack Web API: https://slack.com/api/chat.postMessage
    def slack(self, fc, method, path, body):
        if path == "/slack/api/apps.connections.open":
            if self.headers.get("Authorization") != "Bearer " + SLACK_APP:
                return self.send(200, {"ok": False, "error": "invalid_auth"})
            with fc.lock:
                fc.opens["slack"] += 1
                n = fc.opens["slack"]
            return self.send(200, {"ok": True, "url":
                                   "ws://127.0.0.1:%d/slack-socket/link/"
                                   "?ticket=t%d&app_id=A0001" % (
                                       self.server.server_address[1], n)})
        if self.headers.get("Authorization") != "Bearer " + SLACK_BOT:
            return self.send(200, {"ok": False, "error": "not_authed"})
        if path != "/slack/api/chat.postMessage" or body is None:
            return self.fail("slack: path/body", 200,
                             {"ok": False, "error": "invalid_arguments"})
        fc.record("slack", method, path, self.headers, body)
        if not body.get("channel") or not body.get("text"):
            return self.fail("slack: channel/text", 200,
                             {"ok": False, "error": "no_text"})
        if fc.take_429("slack"):
            return self.send(429, {"ok": False, "error": "ratelimited"},
                             headers={"Retry-After": "1"})
        self.send(200, {"ok": True, "channel": body["channel"],
                        "ts": "%.6f" % time.time(),
                        "message": {"text": body["text"], "type": "message"}})

    # WhatsApp Cloud API: POST /<version>/<phone-number-id>/messages
    def whatsapp(self, fc, method, path, body):
        m = re.match(r"^/graph/(v\d+\.\d+)/(\d+)/messages$", path)
        err = {"error": {"message": "Invalid OAuth access token.",
                         "type": "OAuthException", "code": 190,
                         "fbtrace_id": "Atest"}}
        if self.headers.get("Authorization") != "Bearer " + WA_ACCESS:
            return self.fail("whatsapp: auth", 401, err)
        if not m or m.group(2) != WA_PNID or body is None:
            return self.fail("whatsapp: path/body", 400, err)
        fc.record("whatsapp", method, path, self.headers, body)
        ok = (body.get("messaging_product") == "whatsapp" and
              body.get("type") == "text" and body.get("to") and
              isinstance(body.get("text"), dict) and
              body["text"].get("body"))
        if not ok or len(body["text"]["body"]) > 4096:
            return self.fail("whatsapp: shape", 400, {"error": {
                "message": "(#100) Invalid parameter", "type":
                "OAuthException", "code": 100, "fbtrace_id": "Atest"}})
        if fc.take_429("whatsapp"):
            return self.send(429, {"error": {
                "message": "(#130429) Rate limit hit", "type":
                "OAuthException", "code": 130429, "fbtrace_id": "Atest"}})
        self.send(200, {"messaging_product": "whatsapp",
                        "contacts": [{"input": body["to"],
                                      "wa_id": body["to"]}],
                        "messages": [{"id": "wamid.out%d" % len(fc.calls)}]})

    # Discord: interaction responses through the webhook endpoints, and
    # channel messages as the bot
    def discord(self, fc, method, path, body):
        cm = re.match(r"^/discord/api/v10/channels/(\d+)/messages$", path)
        if cm:
            if self.headers.get("Authorization") != "Bot " + DISCORD_BOT:
                return self.fail("discord: bot auth", 401, {
                    "message": "401: Unauthorized", "code": 0})
            fc.record("discord", method, path, self.headers, body)
            if not body or not body.get("content") or \
                    len(body["content"]) > 2000:
                return self.fail("discord: content", 400, {
                    "message": "Invalid Form Body", "code": 50035})
            return self.send(200, {"id": "1300000000000000001", "type": 0,
                                   "content": body["content"],
                                   "channel_id": cm.group(1)})
        m = re.match(r"^/discord/api/v10/webhooks/(\d+)/([\w.-]+)"
                     r"(/messages/@original)?$", path)
        if not m or m.group(1) != DISCORD_APP or body is None:
            return self.fail("discord: path/body", 404, {
                "message": "Unknown Webhook", "code": 10015})
        if bool(m.group(3)) != (method == "PATCH"):
            return self.fail("discord: method", 405, {
                "message": "405: Method Not Allowed", "code": 0})
        fc.record("discord", method, path, self.headers, body)
        content = body.get("content")
        if not content or len(content) > 2000:
            return self.fail("discord: content", 400, {
                "message": "Invalid Form Body", "code": 50035})
        if fc.take_429("discord"):
            return self.send(429, {"message": "You are being rate limited.",
                                   "retry_after": 0.5, "global": False},
                             headers={"Retry-After": "1"})
        self.send(200, {"id": "1200000000000000001", "type": 0,
                        "content": content, "channel_id": "1"})


    # LINE Messaging API: POST /v2/bot/message/reply and /push
    def line(self, fc, method, path, body):
        if self.headers.get("Authorization") != "Bearer " + LINE_TOKEN:
            return self.fail("line: auth", 401, {
                "message": "Authentication failed. Confirm that the access "
                           "token in the authorization header is valid."})
        if body is None:
            return self.fail("line: body is not JSON", 400,
                             {"message": "The request body has 1 error(s)"})
        key = self.headers.get("X-Line-Retry-Key")
        fc.record("line", method, path, self.headers, body)
        msgs = body.get("messages")
        if not isinstance(msgs, list) or not 1 <= len(msgs) <= 5 or any(
                m.get("type") != "text" or not m.get("text") or
                len(m["text"].encode("utf-16-le")) // 2 > 5000
                for m in msgs):
            return self.fail("line: messages", 400, {
                "message": "The request body has 1 error(s)",
                "details": [{"message": "Length must be between 0 and 5000",
                             "property": "messages[0].text"}]})
        if path == "/line/v2/bot/message/reply":
            if key is not None:   # only the push family takes retry keys
                return self.fail("line: retry key on reply", 400, {
                    "message": "The retry key is not supported by this "
                               "API"})
            if fc.take_429("line"):   # refused before the token is used
                return self.send(429, {"message": "The API rate limit has "
                                       "been exceeded. Try again later."})
            with fc.lock:
                state = fc.line_tokens.get(body.get("replyToken"))
                if state == "fresh":
                    fc.line_tokens[body["replyToken"]] = "used"
            if state != "fresh":
                return self.send(400, {"message": "Invalid reply token"})
            with fc.lock:
                fc.line_delivered += [(body["replyToken"], m["text"])
                                      for m in msgs]
            return self.send(200, {"sentMessages": [
                {"id": "4616864%d" % i, "quoteToken": "q%d" % i}
                for i in range(len(msgs))]})
        if path != "/line/v2/bot/message/push" or not body.get("to"):
            return self.fail("line: path/to", 404, {"message": "Not found"})
        if key is not None and not re.match(
                r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                r"[0-9a-f]{12}$", key):
            return self.fail("line: retry key format", 400, {
                "message": "The value for the 'X-Line-Retry-Key' header is "
                           "invalid"})
        with fc.lock:
            if key in fc.line_keys:
                return self.send(409, {
                    "message": "The retry key is already accepted",
                    "sentMessages": []},
                    headers={"x-line-accepted-request-id":
                             fc.line_keys[key]})
        if fc.take_429("line"):
            return self.send(429, {"message": "The API rate limit has been "
                                   "exceeded. Try again later."})
        with fc.lock:
            if key is not None:
                fc.line_keys[key] = "req%d" % len(fc.line_keys)
            fc.line_delivered += [(body["to"], m["text"]) for m in msgs]
            fail = fc.line_fail_after_accept > 0
            if fail:
                fc.line_fail_after_accept -= 1
        if fail:   # accepted, but the answer is lost
            return self.send(500, {"message": "An error occurred in the "
                                   "internal server."})
        self.send(200, {"sentMessages": [{"id": "46168650%d" % i}
                                         for i in range(len(msgs))]})

    # Twilio: POST /2010-04-01/Accounts/{AccountSid}/Messages.json (a form)
    def twilio(self, fc, method, path, raw):
        def err(status, code, message):
            return {"code": code, "message": message, "more_info":
                    "https://www.twilio.com/docs/errors/%d" % code,
                    "status": status}
        m = re.match(r"^/twilio/2010-04-01/Accounts/(AC\w{32})/"
                     r"Messages\.json$", path)
        cred = base64.b64encode(("%s:%s" % (TW_ACCOUNT, TW_TOKEN)).encode())
        if self.headers.get("Authorization") != "Basic " + cred.decode():
            return self.fail("twilio: auth", 401,
                             err(401, 20003, "Authenticate"))
        if not m or m.group(1) != TW_ACCOUNT:
            return self.fail("twilio: path", 404, err(
                404, 20404, "The requested resource was not found"))
        if (self.headers.get("Content-Type") or "") != \
                "application/x-www-form-urlencoded":
            return self.fail("twilio: content type", 400, err(
                400, 20001, "Content type must be a form"))
        form = dict(urllib.parse.parse_qsl(raw.decode(),
                                           keep_blank_values=True))
        fc.record("twilio", method, path, self.headers, form)
        if not form.get("Body"):
            return self.fail("twilio: body", 400, err(
                400, 21602, "Message body is required."))
        if len(form["Body"]) > 1600:
            return self.fail("twilio: too long", 400, err(
                400, 21617, "The concatenated message body exceeds the "
                "1600 character limit."))
        if not form.get("To") or not (form.get("From") or
                                      form.get("MessagingServiceSid")):
            return self.fail("twilio: to/from", 400, err(
                400, 21604, "A 'To' phone number is required."))
        if form["To"].startswith("whatsapp:") != \
                form.get("From", "whatsapp:").startswith("whatsapp:"):
            return self.fail("twilio: channel mismatch", 400, err(
                400, 63007, "Twilio could not find a Channel with the "
                "specified From address"))
        if fc.take_429("twilio"):
            return self.send(429, err(429, 20429, "Too Many Requests"))
        self.send(201, {"sid": "SM%032x" % len(fc.calls),
                        "account_sid": TW_ACCOUNT, "to": form["To"],
                        "from": form.get("From"), "body": form["Body"],
                        "status": "queued", "num_segments": "1",
                        "api_version": "2010-04-01"})

    # Mattermost REST API: POST /api/v4/posts as the bot
    def mattermost(self, fc, method, path, body):
        def err(status, eid, message):
            return {"id": eid, "message": message, "detailed_error": "",
                    "request_id": "rq%d" % len(fc.calls),
                    "status_code": status}
        if self.headers.get("Authorization") != "Bearer " + MM_BOT:
            return self.fail("mattermost: auth", 401, err(
                401, "api.context.session_expired.app_error",
                "Invalid or expired session, please login again."))
        if path != "/mattermost/api/v4/posts" or body is None:
            return self.fail("mattermost: path/body", 400, err(
                400, "api.context.invalid_body_param.app_error",
                "Invalid or missing post in request body."))
        fc.record("mattermost", method, path, self.headers, body)
        msg = body.get("message")
        if not body.get("channel_id") or not msg or len(msg) > 16383:
            return self.fail("mattermost: message", 400, err(
                400, "api.post.create_post.message_length.app_error",
                "Invalid Message parameter."))
        if body.get("root_id") in fc.mm_replies:
            return self.send(400, err(
                400, "api.post.create_post.root_id.app_error",
                "Invalid RootId parameter."))
        if fc.take_429("mattermost"):
            return self.send(429, err(
                429, "api.context.rate_limit.app_error",
                "Too many requests, please try again later."),
                headers={"X-Ratelimit-Limit": "10",
                         "X-Ratelimit-Remaining": "0",
                         "X-Ratelimit-Reset": "1"})
        now = int(time.time() * 1000)
        self.send(201, {"id": "p%024d" % len(fc.calls), "create_at": now,
                        "update_at": now, "edit_at": 0, "delete_at": 0,
                        "user_id": "botuser", "channel_id":
                        body["channel_id"], "root_id":
                        body.get("root_id", ""), "message": msg,
                        "type": "", "props": {}})


# --------------------------------------------------------------- websocket
class WSConn:
    """The server side of one WebSocket (RFC 6455), minimal and only for
    these fakes: text frames, masked client frames, ping/pong, close."""
    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, handler, path):
        self.path = path
        self.sock = handler.connection
        self.rfile = handler.rfile
        self.received = queue.Queue()
        self.others = queue.Queue()   # discord: non-heartbeat messages
        self.heartbeats = 0
        self.client_close = None   # the code of the client's close frame
        self.closed = threading.Event()
        self.wlock = threading.Lock()
        key = handler.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1(
            (key + self.GUID).encode()).digest()).decode()
        handler.wfile.write(("HTTP/1.1 101 Switching Protocols\r\n"
                             "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                             "Sec-WebSocket-Accept: %s\r\n\r\n" %
                             accept).encode())
        handler.wfile.flush()

    def _frame(self, opcode, data):
        n = len(data)
        head = bytes([0x80 | opcode])
        if n < 126:
            head += bytes([n])
        elif n < 65536:
            head += bytes([126]) + n.to_bytes(2, "big")
        else:
            head += bytes([127]) + n.to_bytes(8, "big")
        with self.wlock:
            try:
                self.sock.sendall(head + data)
            except OSError:
                self.closed.set()

    def send_json(self, obj):
        self._frame(1, json.dumps(obj).encode())

    def close(self, code=1000):
        """Close from the server's side with code (Discord's close
        codes: 4004 authentication failed, ...)."""
        self._frame(8, code.to_bytes(2, "big"))

    def _read(self, n):
        data = self.rfile.read(n)
        if len(data) != n:
            raise EOFError
        return data

    def serve(self):
        """Read frames until the peer closes; text messages go to
        self.received (as parsed JSON)."""
        msg = b""
        try:
            while True:
                b0, b1 = self._read(2)
                op, n = b0 & 0x0F, b1 & 0x7F
                if not b1 & 0x80:
                    raise EOFError   # clients must mask
                if n == 126:
                    n = int.from_bytes(self._read(2), "big")
                elif n == 127:
                    n = int.from_bytes(self._read(8), "big")
                mask = self._read(4)
                data = bytes(c ^ mask[i % 4] for i, c in
                             enumerate(self._read(n)))
                if op == 8:
                    if len(data) >= 2:
                        self.client_close = int.from_bytes(data[:2], "big")
                    self._frame(8, data[:2])
                    break
                if op == 9:
                    self._frame(10, data)
                    continue
                if op in (0, 1):
                    msg += data
                    if b0 & 0x80:
                        self.received.put(json.loads(msg))
                        msg = b""
        except (EOFError, OSError, ValueError):
            pass
        self.closed.set()

    def expect(self, pred, timeout=20, q=None):
        """The next received message (from q, default self.received) for
        which pred is true."""
        q = q or self.received
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no matching websocket message")
            try:
                m = q.get(timeout=left)
            except queue.Empty:
                continue
            if pred(m):
                return m


def _discord_acks(ws):
    """Answer heartbeats (op 1) with ACKs (op 11) and record them."""
    ws.heartbeats = 0
    while not ws.closed.is_set():
        time.sleep(0.02)
        pending = []
        while True:
            try:
                m = ws.received.get_nowait()
            except queue.Empty:
                break
            if m.get("op") == 1:
                ws.heartbeats += 1
                ws.send_json({"op": 11})
            else:
                pending.append(m)
        for m in pending:
            ws.others.put(m)


# ----------------------------------------------------------------- signing
def sign_slack(body, ts=None, secret=SLACK_SIGNING):
    ts = str(int(time.time()) if ts is None else ts)
    base = b"v0:" + ts.encode() + b":" + body
    sig = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": sig,
            "Content-Type": "application/json"}


def sign_hub(body, secret=WA_APP_SECRET):
    return {"X-Hub-Signature-256": "sha256=" + hmac.new(
        secret.encode(), body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json"}


def discord_public_key(seed=DISCORD_SEED):
    return subprocess.check_output([SIGNER, "pk", seed]).decode().strip()


def sign_discord(body, ts=None, seed=DISCORD_SEED):
    ts = str(int(time.time()) if ts is None else ts)
    sig = subprocess.check_output([SIGNER, "sign", seed],
                                  input=ts.encode() + body).decode().strip()
    return {"X-Signature-Ed25519": sig, "X-Signature-Timestamp": ts,
            "Content-Type": "application/json"}


def sign_line(body, secret=LINE_SECRET):
    return {"X-Line-Signature": base64.b64encode(hmac.new(
        secret.encode(), body, hashlib.sha256).digest()).decode(),
        "Content-Type": "application/json"}


def sign_twilio(params, url=TW_URL, token=TW_TOKEN):
    """X-Twilio-Signature over url + every param, sorted by name."""
    data = url + "".join(k + v for k, v in sorted(params))
    return {"X-Twilio-Signature": base64.b64encode(hmac.new(
        token.encode(), data.encode(), hashlib.sha1).digest()).decode(),
        "Content-Type": "application/x-www-form-urlencoded"}


# ----------------------------------------------------------------- updates
_seq = [1000]


def tg_update(text, chat_id=42, user_id=7, chat_type="private",
              message_id=None, update_id=None):
    _seq[0] += 1
    mid = message_id if message_id is not None else _seq[0]
    return {"update_id": update_id if update_id is not None else _seq[0],
            "message": {"message_id": mid, "date": int(time.time()),
                        "from": {"id": user_id, "is_bot": False,
                                 "first_name": "Ann", "username": "ann"},
                        "chat": {"id": chat_id, "type": chat_type},
                        "text": text}}


def slack_event(text, channel="D0123", user="U111", ts=None, typ="message",
                channel_type="im", event_id=None):
    _seq[0] += 1
    ts = ts or "1700000000.%06d" % _seq[0]
    ev = {"type": typ, "channel": channel, "user": user, "text": text,
          "ts": ts, "event_ts": ts}
    if typ == "message":
        ev["channel_type"] = channel_type
    return {"token": "x", "team_id": "T0001", "api_app_id": "A0001",
            "event": ev, "type": "event_callback",
            "event_id": event_id or "Ev%d" % _seq[0],
            "event_time": int(time.time())}


def wa_notification(text, wa_id="16315551234", msg_id=None):
    _seq[0] += 1
    return {"object": "whatsapp_business_account", "entry": [{
        "id": "8856996819413533", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "16505553333",
                         "phone_number_id": WA_PNID},
            "contacts": [{"profile": {"name": "Kerry Fisher"},
                          "wa_id": wa_id}],
            "messages": [{"from": wa_id,
                          "id": msg_id or "wamid.in%d" % _seq[0],
                          "timestamp": str(int(time.time())),
                          "text": {"body": text}, "type": "text"}]}}]}]}


def discord_command(text, user="80351110224678912", channel="2000000000001"):
    _seq[0] += 1
    iid = str((int(time.time() * 1000) - 1420070400000) << 22 | _seq[0])
    return {"id": iid, "application_id": DISCORD_APP, "type": 2,
            "token": "itoken%d" % _seq[0], "version": 1,
            "channel_id": channel,
            "user": {"id": user, "username": "nelly", "global_name": "Nelly"},
            "data": {"id": "3", "name": "ask", "type": 1,
                     "options": [{"name": "prompt", "type": 3,
                                  "value": text}]}}


def line_event(fc, text, user="U4af4980629000000000000000000001",
               group=None, message_id=None, ts_ms=None, mention=False,
               redelivery=False, event_id=None):
    """A LINE webhook body with one text message event; its reply token
    is issued in the fake (fresh)."""
    _seq[0] += 1
    token = "rt%032x" % _seq[0]
    with fc.lock:
        fc.line_tokens[token] = "fresh"
    src = {"type": "user", "userId": user}
    if group:
        src = {"type": "group", "groupId": group, "userId": user}
    msg = {"type": "text", "id": message_id or str(468789577898000000 +
                                                    _seq[0]),
           "quoteToken": "q%d" % _seq[0], "text": text}
    if mention:
        msg["mention"] = {"mentionees": [{"index": 0, "length": 5,
                                          "type": "user", "userId": LINE_BOT,
                                          "isSelf": True}]}
    ev = {"type": "message", "message": msg,
          "webhookEventId": event_id or "01H%023d" % _seq[0],
          "deliveryContext": {"isRedelivery": redelivery},
          "timestamp": ts_ms or int(time.time() * 1000), "source": src,
          "replyToken": token, "mode": "active"}
    return {"destination": LINE_BOT, "events": [ev]}


def twilio_params(text, sender="+14155551212", to=TW_NUMBER, sid=None,
                  extra=()):
    """An inbound message's POST parameters, in Twilio's order."""
    _seq[0] += 1
    sid = sid or "SM%032x" % _seq[0]
    p = [("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"),
         ("SmsSid", sid), ("SmsStatus", "received"), ("Body", text),
         ("To", to), ("NumSegments", "1"), ("MessageSid", sid),
         ("AccountSid", TW_ACCOUNT), ("From", sender),
         ("ApiVersion", "2010-04-01")]
    return p + list(extra)


def mm_payload(text, channel="hawos4dqtby53pd64o4a4cmeoo", post_id=None,
               user="rnina5xz6fn3ff39yq9tx3xcbr", user_name="ann",
               trigger="#ask", token=MM_TOKEN, ts=None):
    """An outgoing webhook's fields (timestamp in seconds, as the form
    has it)."""
    _seq[0] += 1
    return {"token": token, "team_id": "ipbsg6mksbbz5ezi95yj8gd7jh",
            "team_domain": "acme", "channel_id": channel,
            "channel_name": "town-square",
            "timestamp": str(int(time.time()) if ts is None else ts),
            "user_id": user, "user_name": user_name,
            "post_id": post_id or "p%025d" % _seq[0], "text": text,
            "trigger_word": trigger, "file_ids": ""}


# ----------------------------------------------------------------- gateway
def more_channels(fc):
    """LINE, Twilio and Mattermost pointed at the fakes."""
    return {
        "line": {"api_base": fc.base + "/line"},
        "twilio": {"api_base": fc.base + "/twilio", "account_sid":
                   TW_ACCOUNT, "webhook_url": TW_URL},
        "mattermost": {"api_base": fc.base + "/mattermost",
                       "bot_username": "claw"},
    }


def all_channels(fc):
    return {
        "telegram": {"api_base": fc.base + "/telegram",
                     "bot_username": "claw_bot"},
        "slack": {"api_base": fc.base + "/slack/api",
                  "bot_user_id": "UBOT"},
        "whatsapp": {"api_base": fc.base + "/graph",
                     "phone_number_id": WA_PNID},
        "discord": {"api_base": fc.base + "/discord/api/v10",
                    "public_key": discord_public_key(),
                    "application_id": DISCORD_APP},
        "webchat": {},
        "openai": {},
    }


def tenant_config(chans, **over):
    """Tenant t1's gateway config with the channels chans, each named
    in over updated with its extra keys (twilio={"max_segments": 2})."""
    for ch, extra in over.items():
        chans[ch].update(extra)
    return {"tenant": "t1", "channels": chans}


def stop_fixture(gw, rt, fake):
    """End a class's gateway, runtime and fake of the platforms' APIs,
    and assert that the fake saw no protocol error."""
    gw.stop()
    rt.close()
    fake.close()
    assert not fake.errors, fake.errors


SECRETS = {
    "telegram_bot_token": TG_TOKEN, "telegram_webhook_secret": TG_SECRET,
    "slack_signing_secret": SLACK_SIGNING, "slack_bot_token": SLACK_BOT,
    "whatsapp_app_secret": WA_APP_SECRET,
    "whatsapp_verify_token": WA_VERIFY,
    "whatsapp_access_token": WA_ACCESS, "openai_api_token": OPENAI_TOKEN,
    "admin_token": ADMIN_TOKEN, "slack_app_token": SLACK_APP,
    "discord_bot_token": DISCORD_BOT,
    "line_channel_secret": LINE_SECRET,
    "line_channel_access_token": LINE_TOKEN,
    "twilio_auth_token": TW_TOKEN,
    "mattermost_webhook_token": MM_TOKEN, "mattermost_bot_token": MM_BOT,
}


class Gateway:
    """ignore_xfsz: start the binary with SIGXFSZ ignored (a shell trap
    survives exec), so a test may lower its file size limit
    (RLIMIT_FSIZE) to make its journal writes fail with EFBIG instead of
    killing it."""

    def __init__(self, runtime_url, config, secrets=None, data_dir=None,
                 extra=(), ignore_xfsz=False):
        self.dir = tempfile.mkdtemp(prefix="clawgw-")
        self.data_dir = data_dir or os.path.join(self.dir, "data")
        self.secrets_dir = os.path.join(self.dir, "secrets")
        self.config_path = os.path.join(self.dir, "gateway.json")
        os.makedirs(self.data_dir, exist_ok=True)
        os.makedirs(self.secrets_dir, exist_ok=True)
        for k, v in (SECRETS if secrets is None else secrets).items():
            p = os.path.join(self.secrets_dir, k)
            with open(p, "w") as f:
                f.write(v)
            os.chmod(p, 0o400)
        self.write_config(config)
        self.argv = [GATEWAY, "--config", self.config_path, "--secrets-dir",
                     self.secrets_dir, "--data-dir", self.data_dir,
                     "--listen", "127.0.0.1:0", "--proxy-listen",
                     "127.0.0.1:0", "--runtime-url", runtime_url,
                     "--retry-max-ms", "500"] + list(extra)
        if ignore_xfsz:
            self.argv = ["/bin/sh", "-c", 'trap "" XFSZ; exec "$0" "$@"'] \
                + self.argv
        self.daemon = None
        self.url = None
        self.proxy_port = None

    def write_config(self, config):
        tmp = self.config_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(config, f)
        os.replace(tmp, self.config_path)

    def start(self):
        self.daemon = Daemon(self.argv, name="gateway", log_dir=self.dir,
                             env={"CLAW_GATEWAY_LOG_LEVEL": "debug"})
        self.daemon.start()
        self.url = self.daemon.wait_stdout(r"listening on (http://\S+)").group(1)
        self.proxy_port = int(self.daemon.wait_stdout(
            r"proxy listening on \S+:(\d+)").group(1))
        return self

    def reload(self, config):
        self.write_config(config)
        before = self.daemon.log_text().count("config reloaded")
        self.daemon.send_signal(1)  # SIGHUP
        wait_for(lambda: self.daemon.log_text().count("config reloaded")
                 > before, 10, what="config reload")

    def post_form(self, path, params, headers=None):
        """POST params ([(name, value)]) as a form."""
        h = {"Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        return request("POST", self.url + path,
                       urllib.parse.urlencode(params).encode(), headers=h)

    def post(self, path, body, headers=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        return request("POST", self.url + path, data, headers=h)

    def get(self, path, headers=None, token=None):
        return request("GET", self.url + path, headers=headers, token=token)

    def metric(self, name_and_labels):
        text = self.get("/metrics").text
        for line in text.splitlines():
            if line.startswith(name_and_labels + " "):
                return float(line.split()[-1])
        return None

    def stop(self):
        """SIGTERM; asserts a clean exit (sanitizers report non-zero)."""
        rc = self.daemon.stop()
        if rc != 0:
            raise AssertionError("gateway exited %s; log:\n%s" % (
                rc, self.daemon.log_text()[-6000:]))

    def kill(self):
        self.daemon.kill()


# ------------------------------------------------------------------- tests
def tg_replies(fc, chat_id):
    """The texts sent to a Telegram chat (sendMessage), in order."""
    return [c[4]["text"] for c in fc.sent("telegram", "sendMessage")
            if c[4]["chat_id"] == chat_id]


class ClassGatewayCase(unittest.TestCase):
    """One gateway for the whole class (cls.gw) against a FakeRuntime
    (cls.rt) and the fake of the platforms' APIs that fixture() makes;
    each test starts with the runtime released. tearDownClass stops them
    all and asserts that the fake saw no protocol error."""

    @classmethod
    def fixture(cls):
        """(the fake of the APIs, the gateway config, secrets or None)"""
        raise NotImplementedError

    @classmethod
    def setUpClass(cls):
        cls.rt = FakeRuntime()
        cls.fake, cfg, secrets = cls.fixture()
        cls.gw = Gateway(cls.rt.url, cfg, secrets=secrets).start()

    @classmethod
    def tearDownClass(cls):
        stop_fixture(cls.gw, cls.rt, cls.fake)

    def setUp(self):
        self.rt.release()

    def refused(self, ch, reason):
        return self.gw.metric('claw_gateway_refused_total{channel="%s",'
                              'reason="%s"}' % (ch, reason)) or 0


class FakesCase(unittest.TestCase):
    """A test with its own FakeRuntime (self.rt) and FakeChannels
    (self.fc), and self.cfg: a gateway config with every channel pointed
    at them. tearDown stops the gateway (stop_gateways: self.gw), closes
    the fakes and asserts that they saw no protocol error."""

    def setUp(self):
        self.rt = FakeRuntime()
        self.fc = FakeChannels()
        self.cfg = {"tenant": "t1", "channels": all_channels(self.fc)}

    def tearDown(self):
        self.stop_gateways()
        self.rt.close()
        self.fc.close()
        self.assertFalse(self.fc.errors)

    def stop_gateways(self):
        self.gw.stop()


# ------------------------------------------- Matrix application service
MX_AS_USER = "@claw:hs.test"
MX_AS_TOKEN = "as-token-0123456789abcdef"   # the AS's, to the homeserver
MX_HS_TOKEN = "hs-token-fedcba9876543210"   # the homeserver's, to the AS
MX_AS_SECRETS = {"matrix_as_token": MX_AS_TOKEN,
                 "matrix_hs_token": MX_HS_TOKEN,
                 "admin_token": ADMIN_TOKEN}


class FakeHomeserver:
    """A Matrix homeserver as an application service sees it
    (Application Service API, spec v1.4+). Its client-server API for the
    AS (as_token as Bearer, identity assertion with ?user_id=, which must
    be the bot: the fake's namespace is that one user):
      PUT  /_matrix/client/v3/rooms/{room}/send/m.room.message/{txnId}
           (idempotent per txnId: the same event id, sent once)
      POST /_matrix/client/v3/join/{room}
      GET  /_matrix/client/v3/rooms/{room}/joined_members
    with Matrix's errors (M_MISSING_TOKEN / M_UNKNOWN_TOKEN 401,
    M_FORBIDDEN 403, M_LIMIT_EXCEEDED 429 with retry_after_ms), and the
    homeserver's side: push(gw_url, events, txn) PUTs a transaction to
    the AS with "Authorization: Bearer <hs_token>"."""

    def __init__(self):
        self.lock = threading.Condition()
        self.calls = []          # (method, path, query, headers, body)
        self.errors = []
        self.members = {}        # room -> [user ids joined]
        self.joined = []         # rooms the bot joined
        self.sent = {}           # (room, txnId) -> (event id, content)
        self.timeline = []       # (room, content) as room members see it
        self.ratelimit_next = 0
        self.txn_seq = 0
        self.ev_seq = 0
        self.srv = _serve(_HomeserverHandler, self)
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def room(self, name, members=2):
        room = "!%s:hs.test" % name
        with self.lock:
            self.members[room] = [MX_AS_USER] + [
                "@u%d:hs.test" % i for i in range(members - 1)]
        return room

    def message(self, room, text, sender="@ann:hs.test", mentions=None):
        with self.lock:
            self.ev_seq += 1
            n = self.ev_seq
        content = {"msgtype": "m.text", "body": text}
        if mentions is not None:
            content["m.mentions"] = {"user_ids": mentions}
        return {"type": "m.room.message", "room_id": room,
                "sender": sender, "event_id": "$ev%d-%s" % (n, os.urandom(
                    4).hex()), "origin_server_ts": int(time.time() * 1000),
                "content": content, "unsigned": {"age": 12}}

    def push(self, gw_url, events, txn=None, token=MX_HS_TOKEN,
             query=None):
        """PUT one transaction; returns (response, txnId)."""
        if txn is None:
            with self.lock:
                self.txn_seq += 1
                txn = "%d%s" % (self.txn_seq, os.urandom(4).hex())
        url = "%s/_matrix/app/v1/transactions/%s" % (
            gw_url, urllib.parse.quote(txn, safe=""))
        if query:
            url += "?" + urllib.parse.urlencode(query)
        h = {"Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        return request("PUT", url, json.dumps({"events": events}).encode(),
                       headers=h), txn

    def texts(self, room):
        with self.lock:
            return [c["body"] for r, c in self.timeline if r == room]

    def close(self):
        self.srv.shutdown()


class _HomeserverHandler(_Base):
    def mx(self, status, code, msg, **extra):
        obj = {"errcode": code, "error": msg}
        obj.update(extra)
        self.send(status, obj)

    def route(self):
        hs, method = self.server.owner, self.command
        u = urllib.parse.urlsplit(self.path)
        q = urllib.parse.parse_qs(u.query)
        raw = self.body()
        with hs.lock:
            hs.calls.append((method, u.path, q, dict(self.headers), raw))
        auth = self.headers.get("Authorization")
        if not auth:
            hs.errors.append("no token")
            return self.mx(401, "M_MISSING_TOKEN", "Missing access token")
        if auth != "Bearer " + MX_AS_TOKEN:
            hs.errors.append("wrong token")
            return self.mx(401, "M_UNKNOWN_TOKEN", "Unknown access token")
        if q.get("user_id") != [MX_AS_USER]:
            hs.errors.append("user_id %r" % q.get("user_id"))
            return self.mx(403, "M_FORBIDDEN", "Application service "
                           "cannot masquerade as this user")
        p = urllib.parse.unquote(u.path)
        m = re.fullmatch(r"/_matrix/client/v3/rooms/(![^/]+)/send/"
                         r"m\.room\.message/([^/]+)", p)
        if method == "PUT" and m:
            return self.send_event(hs, m.group(1), m.group(2), raw)
        m = re.fullmatch(r"/_matrix/client/v3/join/(![^/]+)", p)
        if method == "POST" and m:
            with hs.lock:
                hs.joined.append(m.group(1))
                hs.members.setdefault(m.group(1), [MX_AS_USER, "@x:hs.test"])
                hs.lock.notify_all()
            return self.send(200, {"room_id": m.group(1)})
        m = re.fullmatch(r"/_matrix/client/v3/rooms/(![^/]+)/joined_members",
                         p)
        if method == "GET" and m:
            with hs.lock:
                users = hs.members.get(m.group(1))
            if users is None or MX_AS_USER not in users:
                return self.mx(403, "M_FORBIDDEN", "You aren't a member of "
                               "the room and weren't previously a member "
                               "of the room.")
            return self.send(200, {"joined": {
                x: {"display_name": x[1:].split(":")[0],
                    "avatar_url": None} for x in users}})
        hs.errors.append("unknown %s %s" % (method, p))
        self.mx(404, "M_UNRECOGNIZED", "Unrecognized request")

    do_GET = do_POST = do_PUT = route

    def send_event(self, hs, room, txn, raw):
        try:
            content = json.loads(raw)
        except ValueError:
            hs.errors.append("send: not JSON")
            return self.mx(400, "M_NOT_JSON", "Content not JSON.")
        if len(raw) > 65536 or not isinstance(content.get("body"), str) \
                or content.get("msgtype") not in ("m.text", "m.notice"):
            hs.errors.append("send: bad content")
            return self.mx(400, "M_BAD_JSON", "bad content")
        with hs.lock:
            if (room, txn) in hs.sent:   # the same transaction: once
                return self.send(200, {"event_id": hs.sent[room, txn][0]})
            if hs.ratelimit_next:
                hs.ratelimit_next -= 1
                return self.mx(429, "M_LIMIT_EXCEEDED", "Too Many Requests",
                               retry_after_ms=200)
            eid = "$out%d" % len(hs.sent)
            hs.sent[room, txn] = (eid, content)
            hs.timeline.append((room, content))
            hs.lock.notify_all()
        self.send(200, {"event_id": eid})


# ------------------------------------------- Mattermost bot WebSocket
MM_BOT_ID = "bot0000000000000000000000a"
MM_WS_SECRETS = {"mattermost_bot_token": MM_BOT, "admin_token": ADMIN_TOKEN}


class FakeMattermostWS(FakeChannels):
    """FakeChannels (its /mattermost/api/v4/posts) plus a Mattermost
    server's bot side: GET /mattermost/api/v4/users/me and the WebSocket
    /mattermost/api/v4/websocket (authentication_challenge with the bot
    token answered {"status": "OK", "seq_reply": 1} and "hello", or
    "FAIL" and a close). posted(ws, ...) sends a "posted" event as the
    server does (data.post a JSON string)."""

    def __init__(self):
        super().__init__()
        self.srv.shutdown()
        self.srv.server_close()
        self.ws["mattermost"] = []
        self.auth_fail = 0
        self.mm_seq = 0
        self.srv = _serve(_MMWSHandler, self)
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def posted(self, ws, text, channel="chan00000000000000000000aa",
               channel_type="O", user="user0000000000000000000001",
               post_id=None, mentions=None, root_id=""):
        with self.lock:
            self.mm_seq += 1
            seq = self.mm_seq
        post_id = post_id or "post%s" % os.urandom(11).hex()
        post = {"id": post_id, "create_at": int(time.time() * 1000),
                "update_at": int(time.time() * 1000), "edit_at": 0,
                "delete_at": 0, "is_pinned": False, "user_id": user,
                "channel_id": channel, "root_id": root_id,
                "original_id": "", "message": text, "type": "",
                "props": {}, "hashtags": "", "pending_post_id": "",
                "reply_count": 0, "metadata": {}}
        data = {"channel_display_name": "Town", "channel_name": "town",
                "channel_type": channel_type, "post": json.dumps(post),
                "sender_name": "@ann" if user != MM_BOT_ID else "@claw",
                "set_online": True, "team_id": "team000000000000000000000a"}
        if mentions is not None:
            data["mentions"] = json.dumps(mentions)
        ws.send_json({"event": "posted", "data": data, "broadcast": {
            "omit_users": None, "user_id": "", "channel_id": channel,
            "team_id": ""}, "seq": seq})
        return post_id

    def replies(self, channel):
        return [c[4] for c in self.sent("mattermost", "/posts")
                if c[4].get("channel_id") == channel]


class _MMWSHandler(_ChannelHandler):
    def do_GET(self):
        fc = self.server.owner
        path = urllib.parse.urlsplit(self.path).path
        if path == "/mattermost/api/v4/users/me":
            if self.headers.get("Authorization") != "Bearer " + MM_BOT:
                return self.send(401, {
                    "id": "api.context.session_expired.app_error",
                    "message": "Invalid or expired session, please login "
                    "again.", "detailed_error": "", "request_id": "rq",
                    "status_code": 401})
            return self.send(200, {"id": MM_BOT_ID, "username": "claw",
                                   "is_bot": True, "roles": "system_user"})
        if path == "/mattermost/api/v4/websocket" and \
                self.headers.get("Upgrade", "").lower() == "websocket":
            ws = WSConn(self, self.path)
            self.close_connection = True
            threading.Thread(target=_mm_auth, args=(fc, ws),
                             daemon=True).start()
            ws.serve()
            return
        self.fail("unknown GET " + path, 404, {"error": "not found"})


def _mm_auth(fc, ws):
    """The server's side of authentication_challenge, then "hello"; the
    connection is listed in fc.ws["mattermost"] once authenticated."""
    try:
        m = ws.expect(lambda m: m.get("action") ==
                      "authentication_challenge", timeout=20)
    except TimeoutError:
        return
    ok = m.get("seq") == 1 and m.get("data", {}).get("token") == MM_BOT
    with fc.lock:
        if fc.auth_fail:
            fc.auth_fail -= 1
            ok = False
    if not ok:
        ws.send_json({"status": "FAIL", "seq_reply": m.get("seq"),
                      "error": {"id": "api.web_socket_router."
                                "not_authenticated.app_error",
                                "message": "authentication failed"}})
        ws.close(1000)
        with fc.lock:
            fc.opens.setdefault("mattermost-fail", 0)
            fc.opens["mattermost-fail"] += 1
            fc.lock.notify_all()
        return
    ws.send_json({"status": "OK", "seq_reply": m["seq"]})
    ws.send_json({"event": "hello", "data": {"server_version": "9.11.0",
                                             "connection_id": "c1"},
                  "broadcast": {"user_id": MM_BOT_ID}, "seq": 0})
    with fc.lock:
        fc.ws["mattermost"].append(ws)
        fc.lock.notify_all()
