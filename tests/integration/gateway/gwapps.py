"""gwapps - fakes of the chat platforms that sign with RSA or encrypt with
AES (stdlib and the openssl command line only): Microsoft Teams (the Bot
Framework), Google Chat, Feishu/Lark and a Matrix homeserver.

FakeApps    one HTTP server under path prefixes (and a signal-cli daemon):
              /teams/openid            the Bot Connector's OpenID metadata
              /teams/keys              its JWKS (keys with endorsements)
              /teams/token             Microsoft's client-credentials endpoint
              /teams/connector/v3/conversations/{id}/activities/{id}
                                       the Bot Connector (the serviceUrl)
              /google/certs            Google's x509 certificate map
              /google/token            oauth2 token endpoint (JWT grant)
              /google/v1/spaces/{space}/messages   Chat API
              /feishu/open-apis/auth/v3/tenant_access_token/internal
              /feishu/open-apis/im/v1/messages/{id}/reply
              /matrix/_matrix/client/v3/...        sync, send, join
              /signal/api/v1/events|rpc   signal-cli's HTTP daemon: SSE
                                       "receive" events with ids and
                                       Last-Event-ID, JSON-RPC "send"
            It checks what the services check (tokens issued by its own
            token endpoints and not expired, the grant's signed assertion,
            content types, required fields, size limits, idempotency keys)
            and answers in their shapes, including errors and 429s.
Keys        RSA key pairs made with `openssl genrsa`, as JWK and as a
            self-signed certificate; sign() makes an RS256 JWT with
            `openssl dgst -sha256 -sign`.
teams_activity, teams_headers    an inbound activity and its signed
            Authorization header, as the Bot Connector sends them.
apps_channels(fa)   the gateway config of the four channels pointed at
            the fake; SECRETS their secret files.
"""

import base64
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import gwfakes as F  # noqa: E402
from clawtest import fakehttp  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402

TEAMS_APP = "8f1c3a52-6d2e-4c4a-9a6b-2f0b1e7d5c11"
TEAMS_PASSWORD = "teams-client-secret~0123456789"
TEAMS_ISS = "https://api.botframework.com"
TEAMS_BOT = "28:" + TEAMS_APP
GC_PROJECT = "614286524212"
GC_ISS = "chat@system.gserviceaccount.com"
GC_SA_EMAIL = "claw-bot@claw-test.iam.gserviceaccount.com"
GC_SCOPE = "https://www.googleapis.com/auth/chat.bot"
FS_APP = "cli_a1b2c3d4e5f60718"
FS_SECRET = "feishu-app-secret-0123456789abcd"
FS_VTOKEN = "rvaYgkR2Oo0wO0ir7ZDGWdlhAvdqKYnn"
FS_ENCRYPT = "feishu-encrypt-key-0123"
FS_BOT = "ou_bot000000000000000000000000000"
MX_USER = "@claw:matrix.test"
MX_TOKEN = "syt_Y2xhdw_matrixaccesstoken_0abc12"
SG_ACCOUNT = "+15550001000"


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64u_json(obj):
    return b64u(json.dumps(obj, separators=(",", ":")).encode())


class Keys:
    """An RSA key pair in a temporary directory."""

    def __init__(self, kid, bits=2048):
        self.kid = kid
        self.dir = tempfile.mkdtemp(prefix="clawkeys-")
        self.pem = os.path.join(self.dir, "key.pem")
        subprocess.check_call(["openssl", "genrsa", "-out", self.pem,
                               str(bits)], stderr=subprocess.DEVNULL)
        self.pub = os.path.join(self.dir, "pub.pem")
        subprocess.check_call(["openssl", "rsa", "-in", self.pem, "-pubout",
                               "-out", self.pub], stderr=subprocess.DEVNULL)
        mod = subprocess.check_output(
            ["openssl", "rsa", "-in", self.pem, "-noout", "-modulus"],
            stderr=subprocess.DEVNULL).decode().strip().split("=", 1)[1]
        self.n = b64u(bytes.fromhex(mod))
        self.cert = subprocess.check_output(
            ["openssl", "req", "-new", "-x509", "-key", self.pem, "-subj",
             "/CN=" + kid, "-days", "2"], stderr=subprocess.DEVNULL).decode()
        with open(self.pem) as f:
            self.private_pem = f.read()

    def jwk(self, **extra):
        k = {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid,
             "n": self.n, "e": "AQAB"}
        k.update(extra)
        return k

    def sign_bytes(self, data):
        return subprocess.check_output(
            ["openssl", "dgst", "-sha256", "-sign", self.pem], input=data)

    def verify_bytes(self, data, sig):
        with tempfile.NamedTemporaryFile() as f:
            f.write(sig)
            f.flush()
            r = subprocess.run(["openssl", "dgst", "-sha256", "-verify",
                                self.pub, "-signature", f.name], input=data,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            return r.returncode == 0

    def sign(self, claims, header=None):
        """An RS256 JWT (header defaults to alg, kid, typ)."""
        h = header if header is not None else {
            "alg": "RS256", "kid": self.kid, "typ": "JWT", "x5t": self.kid}
        signing = (b64u_json(h) + "." + b64u_json(claims)).encode()
        return signing.decode() + "." + b64u(self.sign_bytes(signing))


def hs256(claims, key, kid):
    """An HS256 token keyed with key (the classic algorithm confusion)."""
    import hmac
    h = {"alg": "HS256", "kid": kid, "typ": "JWT"}
    signing = (b64u_json(h) + "." + b64u_json(claims)).encode()
    return signing.decode() + "." + b64u(
        hmac.new(key.encode(), signing, hashlib.sha256).digest())


def unsigned(claims, kid):
    return b64u_json({"alg": "none", "kid": kid}) + "." + \
        b64u_json(claims) + "."


# ------------------------------------------------------------------ server
class FakeApps:
    def __init__(self):
        self.lock = threading.Condition()
        self.calls = []          # (app, method, path, headers, body)
        self.errors = []         # what the gateway did wrong
        self.ratelimit_next = {}  # app -> how many 429s
        self.fetches = {}        # document -> how many GETs
        self.fail_docs = set()   # documents answered 500
        # Teams
        self.teams_keys = [Keys("teams-k1")]
        self.teams_tokens = {}   # access token -> expiry (unix)
        self.teams_token_life = 3599
        self.teams_delivered = []  # (conversation id, reply-to id, text)
        # Google Chat
        self.google_keys = [Keys("gc-k1"), Keys("gc-k2")]
        self.sa = Keys("sa-key-1")   # the service account's key pair
        self.google_tokens = {}
        self.google_messages = {}    # (space, requestId) -> message
        self.google_delivered = []   # (space, thread, text)
        self.google_fail_after_accept = set()   # spaces: fail once
        # Feishu
        self.feishu_tokens = {}
        self.feishu_uuids = {}       # uuid -> message
        self.feishu_delivered = []   # (message id replied to, text)
        self.feishu_fail_after_accept = set()   # message ids: once
        self.feishu_limit_code = 99991400
        # Matrix
        self.mx_rooms = {}        # room id -> {"members", "joined"}
        self.mx_stream = []       # (room id, event) in order
        self.mx_invites = set()
        self.mx_syncs = []        # the since of every /sync
        self.mx_txns = {}         # txn id -> event id
        self.mx_delivered = []    # (room, content)
        self.mx_fail_after_accept = set()       # rooms: fail once
        # Signal (a signal-cli daemon's HTTP interface)
        self.sg_events = []       # (id, params) in order
        self.sg_connects = []     # the Last-Event-ID of every connection
        self.sg_delivered = []    # (recipient or group id, message)
        self.sg_failures = {}     # recipient -> results to answer next:
                                  # a type, or -3 (an I/O error)
        self.closing = False
        self.srv = fakehttp.serve(_Handler)
        self.srv.owner = self
        self.base = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.service_url = self.base + "/teams/connector/"

    def record(self, app, method, path, headers, body):
        with self.lock:
            self.calls.append((app, method, path, dict(headers), body))
            self.lock.notify_all()

    def sent(self, app, kind=None):
        with self.lock:
            return [c for c in self.calls if c[0] == app and
                    (kind is None or kind in c[2])]

    def count(self, doc):
        with self.lock:
            return self.fetches.get(doc, 0)

    def take_429(self, app):
        with self.lock:
            n = self.ratelimit_next.get(app, 0)
            if n:
                self.ratelimit_next[app] = n - 1
            return n > 0

    # ------------------------------------------------------------ Teams
    def teams_token(self, claims=None, key=None, header=None, **over):
        """A Bot Connector token for this app (claims overridable)."""
        now = int(time.time())
        c = {"iss": TEAMS_ISS, "aud": TEAMS_APP, "nbf": now - 5,
             "exp": now + 3600, "serviceUrl": self.service_url}
        c.update(over)
        if claims is not None:
            c = claims
        return (key or self.teams_keys[0]).sign(c, header)

    def google_token(self, key=None, **over):
        """A Chat bearer token: issuer Chat, audience the project."""
        now = int(time.time())
        c = {"iss": GC_ISS, "aud": GC_PROJECT, "iat": now, "exp": now + 3600}
        c.update(over)
        k = key or self.google_keys[0]
        return k.sign(c, {"alg": "RS256", "kid": k.kid, "typ": "JWT"})

    def google_replies(self, space, thread=None):
        with self.lock:
            return [t for s, th, t in self.google_delivered
                    if s == space and (thread is None or th == thread)]

    def secrets(self):
        """Every channel's secret files (the service account's key JSON
        on one line; its token_uri Google's: the gateway must use the
        configured token_url instead)."""
        sa = {"type": "service_account", "project_id": "claw-test",
              "private_key_id": self.sa.kid,
              "private_key": self.sa.private_pem,
              "client_email": GC_SA_EMAIL, "client_id": "1034",
              "auth_uri": "https://accounts.google.com/o/oauth2/auth",
              "token_uri": "https://oauth2.googleapis.com/token"}
        return dict(SECRETS, googlechat_service_account=json.dumps(sa))

    def feishu_replies(self, mid):
        with self.lock:
            return [t for m, t in self.feishu_delivered if m == mid]

    # ---------------------------------------------------------- Matrix
    def mx_room(self, room, members=2, joined=True):
        with self.lock:
            self.mx_rooms[room] = {"members": members, "joined": joined}

    def mx_message(self, room, text, sender="@ann:matrix.test",
                   msgtype="m.text", mentions=None, ts_ms=None, extra=None,
                   typ="m.room.message"):
        """Add an event to the room's timeline; its event id."""
        with self.lock:
            eid = "$ev%d_%s" % (len(self.mx_stream), secrets.token_hex(4))
            content = {"msgtype": msgtype, "body": text}
            if mentions is not None:
                content["m.mentions"] = {"user_ids": mentions}
            content.update(extra or {})
            if typ == "m.room.encrypted":
                content = {"algorithm": "m.megolm.v1.aes-sha2",
                           "ciphertext": "AwgAEnACgAkLmt6qF84IK++J7UDH2Za",
                           "device_id": "RJYKSTBOIE",
                           "sender_key": "IlRMeOPX2e0MurIyfWEucYBRVOEEUMr",
                           "session_id": "X3lUlvLELLYxeTx4yOVu6UDpasGEVO0J"}
            ev = {"type": typ, "event_id": eid, "sender": sender,
                  "origin_server_ts": ts_ms or int(time.time() * 1000),
                  "content": content, "unsigned": {"age": 10}}
            self.mx_stream.append((room, ev))
            self.lock.notify_all()
            return eid

    def mx_replies(self, room):
        with self.lock:
            return [c["body"] for r, c in self.mx_delivered if r == room]

    # ---------------------------------------------------------- Signal
    def sg_message(self, text, sender="+15550002000", group=None,
                   mention=False, ts_ms=None, extra=None, data=True):
        """A message for the bot arrives at the daemon: a receive event."""
        ts = ts_ms or int(time.time() * 1000) + len(self.sg_events)
        dm = {"timestamp": ts, "message": text, "expiresInSeconds": 0,
              "viewOnce": False, "mentions": [], "attachments": [],
              "contacts": []}
        if group:
            dm["groupInfo"] = {"groupId": group, "type": "DELIVER"}
        if mention:
            dm["mentions"] = [{"name": SG_ACCOUNT, "number": SG_ACCOUNT,
                               "uuid": "bot-uuid", "start": 0,
                               "length": 1}]
        dm.update(extra or {})
        env = {"source": sender, "sourceNumber": sender,
               "sourceUuid": "uuid-" + sender[1:], "sourceName": "Ann",
               "sourceDevice": 1, "timestamp": ts}
        if data:
            env["dataMessage"] = dm
        else:   # a receipt
            env["receiptMessage"] = {"when": ts, "isDelivery": True,
                                     "timestamps": [ts - 1]}
        with self.lock:
            self.sg_events.append((len(self.sg_events) + 1,
                                   {"envelope": env,
                                    "account": SG_ACCOUNT}))
            self.lock.notify_all()
        return ts

    def sg_replies(self, to):
        with self.lock:
            return [m for t, m in self.sg_delivered if t == to]

    def close(self):
        with self.lock:
            self.closing = True
            self.lock.notify_all()
        self.srv.shutdown()

    def teams_replies(self, conv):
        with self.lock:
            return [t for c, _, t in self.teams_delivered if c == conv]


_seq = [5000]


def teams_activity(fa, text, conv=None, user="29:1user", conv_type="personal",
                   mention=False, aid=None, ts=None, channel="msteams",
                   service_url=None, typ="message"):
    """A message activity as the Bot Connector posts it to the bot."""
    _seq[0] += 1
    conv = conv or "a:1conv%d" % _seq[0]
    a = {"type": typ, "id": aid or "1%012d" % _seq[0],
         "timestamp": ts or time.strftime("%Y-%m-%dT%H:%M:%S.123Z",
                                          time.gmtime()),
         "localTimestamp": "2024-01-01T10:00:00.000+02:00",
         "serviceUrl": service_url or fa.service_url, "channelId": channel,
         "from": {"id": user, "name": "Megan Bowen",
                  "aadObjectId": "0b1d2c3e-0000-4000-8000-000000000001"},
         "conversation": {"conversationType": conv_type, "id": conv,
                          "tenantId": "72f988bf-0000-4000-8000-0000000000aa"},
         "recipient": {"id": TEAMS_BOT, "name": "Claw"},
         "textFormat": "plain", "locale": "en-US",
         "text": text, "entities": [{"type": "clientInfo",
                                     "locale": "en-US", "country": "US",
                                     "platform": "Web"}],
         "channelData": {"tenant": {"id":
                                    "72f988bf-0000-4000-8000-0000000000aa"}}}
    if conv_type == "channel":
        a["conversation"]["isGroup"] = True
    if mention:
        a["text"] = "<at>Claw</at> " + text
        a["entities"].append({"type": "mention", "text": "<at>Claw</at>",
                              "mentioned": {"id": TEAMS_BOT,
                                            "name": "Claw"}})
    return a


def teams_headers(token):
    return {"Authorization": "Bearer " + token,
            "Content-Type": "application/json; charset=utf-8"}


class _Handler(F._Base):
    def fail(self, why, status, obj, headers=None):
        self.server.owner.errors.append(why)
        self.send(status, obj, headers=headers)

    def do_GET(self):
        self.route("GET")

    def do_POST(self):
        self.route("POST")

    def do_PUT(self):
        self.route("PUT")

    def route(self, method):
        fa = self.server.owner
        raw = self.body()
        path = urllib.parse.urlsplit(self.path).path
        if path.startswith("/teams/"):
            return self.teams(fa, method, path, raw)
        if path.startswith("/google/"):
            return self.google(fa, method, path, raw)
        if path.startswith("/feishu/"):
            return self.feishu(fa, method, path, raw)
        if path.startswith("/matrix/"):
            return self.matrix(fa, method, path, raw)
        if path.startswith("/signal/"):
            return self.signal(fa, method, path, raw)
        self.fail("unknown path " + path, 404, {"error": "not found"})

    def doc(self, fa, name, obj):
        with fa.lock:
            fa.fetches[name] = fa.fetches.get(name, 0) + 1
            failing = name in fa.fail_docs
        if failing:
            return self.send(500, {"error": "unavailable"})
        self.send(200, obj)

    # --------------------------------------------- Microsoft Bot Framework
    def teams(self, fa, method, path, raw):
        if path == "/teams/openid" and method == "GET":
            return self.doc(fa, "teams-openid", {
                "issuer": TEAMS_ISS,
                "authorization_endpoint": "https://invalid.botframework.com",
                "jwks_uri": fa.base + "/teams/keys",
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["private_key_jwt"]})
        if path == "/teams/keys" and method == "GET":
            return self.doc(fa, "teams-keys", {"keys": [
                k.jwk(endorsements=["msteams", "skype"])
                for k in fa.teams_keys]})
        if path == "/teams/token" and method == "POST":
            return self.teams_token(fa, raw)
        m = re.match(r"^/teams/connector/v3/conversations/([^/]+)/"
                     r"activities/([^/]+)$", path)
        if m and method == "POST":
            return self.teams_reply(fa, urllib.parse.unquote(m.group(1)),
                                    urllib.parse.unquote(m.group(2)), raw)
        self.fail("teams: unknown " + method + " " + path, 404,
                  {"error": {"code": "NotFound", "message": "not found"}})

    def teams_token(self, fa, raw):
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        ctype = self.headers.get("Content-Type") or ""
        if ctype != "application/x-www-form-urlencoded":
            return self.fail("teams token: content type", 400, {
                "error": "invalid_request",
                "error_description": "AADSTS900144: form expected"})
        if form.get("grant_type") != "client_credentials" or \
                form.get("scope") != "https://api.botframework.com/.default":
            return self.fail("teams token: grant/scope", 400, {
                "error": "invalid_scope", "error_description": "AADSTS70011"})
        if form.get("client_id") != TEAMS_APP or \
                form.get("client_secret") != TEAMS_PASSWORD:
            return self.send(401, {"error": "invalid_client",
                                   "error_description": "AADSTS7000215"})
        tok = "eyJ0eXAiOiJKV1Qi." + secrets.token_urlsafe(24)
        with fa.lock:
            fa.teams_tokens[tok] = time.time() + fa.teams_token_life
            fa.fetches["teams-token"] = fa.fetches.get("teams-token", 0) + 1
        self.send(200, {"token_type": "Bearer",
                        "expires_in": fa.teams_token_life,
                        "ext_expires_in": fa.teams_token_life,
                        "access_token": tok})

    def teams_reply(self, fa, conv, reply_to, raw):
        auth = self.headers.get("Authorization") or ""
        with fa.lock:
            exp = fa.teams_tokens.get(auth[7:]) if \
                auth.startswith("Bearer ") else None
        if not exp or exp < time.time():
            return self.send(401, {"message": "Authorization has been "
                                   "denied for this request."})
        try:
            body = json.loads(raw)
        except ValueError:
            return self.fail("teams: body", 400, {"error": {
                "code": "BadSyntax", "message": "Invalid JSON"}})
        fa.record("teams", "POST", self.path, self.headers, body)
        if body.get("type") != "message" or not body.get("text"):
            return self.fail("teams: activity", 400, {"error": {
                "code": "BadArgument", "message": "Activity text missing"}})
        if len(raw) > 28 * 1024:
            return self.fail("teams: too large", 413, {"error": {
                "code": "MessageSizeTooBig",
                "message": "Message size too large"}})
        if body.get("replyToId") != reply_to or \
                body.get("conversation", {}).get("id") != conv:
            return self.fail("teams: ids", 400, {"error": {
                "code": "BadArgument", "message": "ids differ"}})
        if fa.take_429("teams"):
            return self.send(429, {"error": {
                "code": "ServiceError", "message": "Too many requests"}},
                headers={"Retry-After": "1"})
        with fa.lock:
            fa.teams_delivered.append((conv, reply_to, body["text"]))
        self.send(200, {"id": "1%012d" % len(fa.calls)})


    # ---------------------------------------------------------- Google
    def google_err(self, status, st, msg):
        return {"error": {"code": status, "message": msg, "status": st}}

    def google(self, fa, method, path, raw):
        if path == "/google/certs" and method == "GET":
            return self.doc(fa, "google-certs", {
                k.kid: k.cert for k in fa.google_keys})
        if path == "/google/token" and method == "POST":
            return self.google_token(fa, raw)
        m = re.match(r"^/google/v1/(spaces/[\w-]+)/messages$", path)
        if m and method == "POST":
            return self.google_create(fa, m.group(1), raw)
        self.fail("google: unknown " + method + " " + path, 404,
                  self.google_err(404, "NOT_FOUND", "not found"))

    def google_token(self, fa, raw):
        """RFC 7523 JWT grant: the assertion signed by the account."""
        form = dict(urllib.parse.parse_qsl(raw.decode()))
        if form.get("grant_type") != \
                "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return self.fail("google token: grant_type", 400, {
                "error": "unsupported_grant_type"})
        parts = (form.get("assertion") or "").split(".")
        try:
            h = json.loads(base64.urlsafe_b64decode(parts[0] + "=="))
            c = json.loads(base64.urlsafe_b64decode(parts[1] + "=="))
            sig = base64.urlsafe_b64decode(parts[2] + "==")
        except (ValueError, IndexError):
            return self.fail("google token: assertion", 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT"})
        now = time.time()
        ok = (h.get("alg") == "RS256" and h.get("kid") == fa.sa.kid and
              fa.sa.verify_bytes((parts[0] + "." + parts[1]).encode(), sig)
              and c.get("iss") == GC_SA_EMAIL and c.get("scope") == GC_SCOPE
              and c.get("aud") == fa.base + "/google/token" and
              c.get("exp", 0) > now and c["exp"] - c.get("iat", 0) <= 3600
              and c.get("iat", now + 999) <= now + 60)
        if not ok:
            return self.fail("google token: assertion claims", 400, {
                "error": "invalid_grant",
                "error_description": "Invalid JWT Signature."})
        tok = "ya29." + secrets.token_urlsafe(24)
        with fa.lock:
            fa.google_tokens[tok] = now + 3599
            fa.fetches["google-token"] = fa.fetches.get("google-token",
                                                        0) + 1
        self.send(200, {"access_token": tok, "expires_in": 3599,
                        "token_type": "Bearer"})

    def google_create(self, fa, space, raw):
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            self.path).query))
        auth = self.headers.get("Authorization") or ""
        with fa.lock:
            exp = fa.google_tokens.get(auth[7:]) if \
                auth.startswith("Bearer ") else None
        if not exp or exp < time.time():
            return self.send(401, self.google_err(
                401, "UNAUTHENTICATED", "Request had invalid "
                "authentication credentials."))
        try:
            body = json.loads(raw)
        except ValueError:
            return self.fail("google: body", 400, self.google_err(
                400, "INVALID_ARGUMENT", "Invalid JSON payload"))
        fa.record("google", "POST", self.path, self.headers, body)
        thread = (body.get("thread") or {}).get("name")
        if not body.get("text") or len(raw) > 32000:
            return self.fail("google: text/size", 400, self.google_err(
                400, "INVALID_ARGUMENT", "Message too large or empty"))
        if thread and (not thread.startswith(space + "/threads/") or
                       q.get("messageReplyOption") !=
                       "REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"):
            return self.fail("google: thread", 400, self.google_err(
                400, "INVALID_ARGUMENT", "thread and reply option"))
        rid = q.get("requestId")
        with fa.lock:
            seen = fa.google_messages.get((space, rid)) if rid else None
        if seen:
            return self.send(200, seen)   # the message created before
        if fa.take_429("google"):
            return self.send(429, self.google_err(
                429, "RESOURCE_EXHAUSTED", "Resource has been exhausted "
                "(e.g. check quota)."))
        msg = {"name": "%s/messages/m%d" % (space, len(fa.calls)),
               "text": body["text"], "thread": {"name": thread or
                                                 space + "/threads/new"},
               "createTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z",
                                           time.gmtime())}
        with fa.lock:
            if rid:
                fa.google_messages[(space, rid)] = msg
            fa.google_delivered.append((space, thread, body["text"]))
            fail = space in fa.google_fail_after_accept
            fa.google_fail_after_accept.discard(space)
        if fail:   # created, but the answer is lost
            return self.send(503, self.google_err(
                503, "UNAVAILABLE", "The service is currently "
                "unavailable."))
        self.send(200, msg)

    # ---------------------------------------------------------- Feishu
    def feishu(self, fa, method, path, raw):
        if (self.headers.get("Content-Type") or "").split(";")[0] != \
                "application/json":
            return self.fail("feishu: content type", 400, {
                "code": 9499, "msg": "Bad Request: content type"})
        try:
            body = json.loads(raw)
        except ValueError:
            return self.fail("feishu: body", 400, {"code": 9499,
                                                   "msg": "Bad Request"})
        if path == "/feishu/open-apis/auth/v3/tenant_access_token/" \
                "internal" and method == "POST":
            if body.get("app_id") != FS_APP or \
                    body.get("app_secret") != FS_SECRET:
                return self.send(400, {"code": 10014,
                                       "msg": "app secret invalid"})
            tok = "t-" + secrets.token_hex(20)
            with fa.lock:
                fa.feishu_tokens[tok] = time.time() + 7200
                fa.fetches["feishu-token"] = fa.fetches.get(
                    "feishu-token", 0) + 1
            return self.send(200, {"code": 0, "msg": "ok",
                                   "tenant_access_token": tok,
                                   "expire": 7200})
        m = re.match(r"^/feishu/open-apis/im/v1/messages/(om_\w+)/reply$",
                     path)
        if not m or method != "POST":
            return self.fail("feishu: unknown " + path, 404, {
                "code": 404, "msg": "not found"})
        auth = self.headers.get("Authorization") or ""
        with fa.lock:
            exp = fa.feishu_tokens.get(auth[7:]) if \
                auth.startswith("Bearer ") else None
        if not exp or exp < time.time():
            return self.send(400, {"code": 99991663, "msg": "Invalid "
                                   "access token for authorization."})
        fa.record("feishu", method, path, self.headers, body)
        try:
            text = json.loads(body.get("content") or "")["text"]
        except (ValueError, KeyError, TypeError):
            text = None
        uuid = body.get("uuid")
        if body.get("msg_type") != "text" or not text or \
                len(raw) > 150 * 1024 or (uuid and len(uuid) > 50):
            return self.fail("feishu: message", 400, {
                "code": 230001, "msg": "Your request contains an invalid "
                "request parameter."})
        with fa.lock:
            seen = fa.feishu_uuids.get(uuid) if uuid else None
        if seen:   # the same uuid within the hour: the first message
            return self.send(200, {"code": 0, "msg": "success",
                                   "data": seen})
        if fa.take_429("feishu"):
            return self.send(400, {"code": fa.feishu_limit_code,
                                   "msg": "request trigger frequency "
                                   "limit"},
                             headers={"x-ogw-ratelimit-limit": "50",
                                      "x-ogw-ratelimit-reset": "1"})
        msg = {"message_id": "om_reply%d" % len(fa.calls),
               "root_id": m.group(1), "parent_id": m.group(1),
               "msg_type": "text", "body": {"content": body["content"]}}
        with fa.lock:
            if uuid:
                fa.feishu_uuids[uuid] = msg
            fa.feishu_delivered.append((m.group(1), text))
            fail = m.group(1) in fa.feishu_fail_after_accept
            fa.feishu_fail_after_accept.discard(m.group(1))
        if fail:
            return self.send(500, {"code": 1000, "msg": "internal error"})
        self.send(200, {"code": 0, "msg": "success", "data": msg})

    # ---------------------------------------------------------- Matrix
    def mx_err(self, status, code, msg, **extra):
        self.send(status, dict({"errcode": code, "error": msg}, **extra))

    def matrix(self, fa, method, path, raw):
        if self.headers.get("Authorization") != "Bearer " + MX_TOKEN:
            return self.mx_err(401, "M_UNKNOWN_TOKEN",
                               "Invalid access token passed.")
        pre = "/matrix/_matrix/client/v3/"
        if path == pre + "sync" and method == "GET":
            return self.matrix_sync(fa)
        m = re.match("^" + pre + r"join/([^/]+)$", path)
        if m and method == "POST":
            room = urllib.parse.unquote(m.group(1))
            with fa.lock:
                if room not in fa.mx_invites:
                    return self.fail("matrix: join uninvited", 403, {
                        "errcode": "M_FORBIDDEN", "error": "not invited"})
                fa.mx_invites.discard(room)
                fa.mx_rooms[room] = {"members": 2, "joined": True}
            fa.record("matrix", method, path, self.headers, {})
            return self.send(200, {"room_id": room})
        m = re.match("^" + pre + r"rooms/([^/]+)/send/m\.room\.message/"
                     r"([^/]+)$", path)
        if m and method == "PUT":
            return self.matrix_send(fa, urllib.parse.unquote(m.group(1)),
                                    m.group(2), raw)
        self.fail("matrix: unknown " + method + " " + path, 404, {
            "errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})

    def matrix_sync(self, fa):
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            self.path).query))
        since = q.get("since")
        try:
            filt = json.loads(q.get("filter", "{}"))
            timeout = int(q.get("timeout", "0"))
        except ValueError:
            return self.fail("matrix: sync params", 400, {
                "errcode": "M_INVALID_PARAM", "error": "filter/timeout"})
        limit = filt.get("room", {}).get("timeline", {}).get("limit", 10)
        with fa.lock:
            fa.mx_syncs.append(since)
        if fa.take_429("matrix-sync"):
            return self.mx_err(429, "M_LIMIT_EXCEEDED", "Too Many Requests",
                               retry_after_ms=200)
        start = int(since[1:]) if since and since.startswith("s") else 0
        deadline = time.time() + min(timeout / 1000.0, 1.0)
        with fa.lock:
            while since and len(fa.mx_stream) <= start and \
                    not fa.mx_invites and time.time() < deadline:
                fa.lock.wait(0.05)
            events = fa.mx_stream[start:] if since else fa.mx_stream
            pos = len(fa.mx_stream)
            join, limited = {}, {}
            for room, ev in events:
                info = fa.mx_rooms.get(room)
                if not info or not info["joined"]:
                    continue
                r = join.setdefault(room, {
                    "timeline": {"events": [], "limited": False,
                                 "prev_batch": "p%d" % start},
                    "summary": {"m.joined_member_count": info["members"],
                                "m.invited_member_count": 0},
                    "state": {"events": []}, "ephemeral": {"events": []},
                    "account_data": {"events": []},
                    "unread_notifications": {"highlight_count": 0,
                                             "notification_count": 1}})
                r["timeline"]["events"].append(ev)
            for room, r in join.items():   # the timeline's limit
                evs = r["timeline"]["events"]
                if len(evs) > limit:
                    r["timeline"]["events"] = evs[-limit:] if limit else []
                    r["timeline"]["limited"] = True
            invite = {room: {"invite_state": {"events": [{
                "type": "m.room.member", "state_key": MX_USER,
                "sender": "@ann:matrix.test",
                "content": {"membership": "invite"}}]}}
                for room in fa.mx_invites}
        self.send(200, {"next_batch": "s%d" % pos,
                        "rooms": {"join": join, "invite": invite,
                                  "leave": {}},
                        "presence": {"events": []},
                        "account_data": {"events": []},
                        "to_device": {"events": []},
                        "device_one_time_keys_count": {}})

    def matrix_send(self, fa, room, txn, raw):
        try:
            content = json.loads(raw)
        except ValueError:
            return self.fail("matrix: body", 400, {
                "errcode": "M_NOT_JSON", "error": "Content not JSON."})
        fa.record("matrix", "PUT", self.path, self.headers, content)
        if content.get("msgtype") not in ("m.text", "m.notice") or \
                not content.get("body") or len(raw) > 65000:
            return self.fail("matrix: content", 400, {
                "errcode": "M_BAD_JSON", "error": "bad content"})
        with fa.lock:
            info = fa.mx_rooms.get(room)
            if not info or not info["joined"]:
                return self.fail("matrix: not in room", 403, {
                    "errcode": "M_FORBIDDEN",
                    "error": "User not in room"})
            seen = fa.mx_txns.get(txn)
        if seen:   # the same transaction: the event sent before
            return self.send(200, {"event_id": seen})
        if fa.take_429("matrix"):
            return self.mx_err(429, "M_LIMIT_EXCEEDED", "Too Many Requests",
                               retry_after_ms=300)
        with fa.lock:
            eid = "$out%d" % len(fa.calls)
            fa.mx_txns[txn] = eid
            fa.mx_delivered.append((room, content))
            fail = room in fa.mx_fail_after_accept
            fa.mx_fail_after_accept.discard(room)
        if fail:
            return self.mx_err(502, "M_UNKNOWN", "Bad gateway")
        self.send(200, {"event_id": eid})

    # ---------------------------------------------------------- Signal
    def signal(self, fa, method, path, raw):
        if path == "/signal/api/v1/events" and method == "GET":
            return self.signal_events(fa)
        if path == "/signal/api/v1/rpc" and method == "POST":
            return self.signal_rpc(fa, raw)
        self.fail("signal: unknown " + method + " " + path, 404, None)

    def signal_events(self, fa):
        """Server-sent events: "receive" events with ids, the ones after
        Last-Event-ID first (all kept ones for an unknown id)."""
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
            self.path).query))
        if q.get("account") != SG_ACCOUNT:
            return self.send(400, None)
        last = self.headers.get("Last-Event-ID")
        with fa.lock:
            fa.sg_connects.append(last)
            ids = [i for i, _ in fa.sg_events]
        pos = 0
        if last is not None and last.isdigit() and int(last) in ids:
            pos = ids.index(int(last)) + 1
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            while True:
                with fa.lock:
                    if fa.closing:
                        return
                    if pos >= len(fa.sg_events):
                        fa.lock.wait(0.3)
                    batch = fa.sg_events[pos:]
                    pos = len(fa.sg_events)
                out = b":\n" if not batch else b"".join(
                    b"id: %d\nevent: receive\ndata: %s\n\n" % (
                        i, json.dumps(p).encode()) for i, p in batch)
                self.wfile.write(out)
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            return

    def signal_rpc(self, fa, raw):
        if not (self.headers.get("Content-Type") or "").startswith(
                "application/json"):
            return self.fail("signal: content type", 415, None)
        try:
            req = json.loads(raw)
        except ValueError:
            return self.fail("signal: body", 200, {
                "jsonrpc": "2.0", "id": None, "error": {
                    "code": -32700, "message": "parse error"}})
        p = req.get("params") or {}
        fa.record("signal", "POST", self.path, self.headers, req)
        rid = req.get("id")
        if req.get("jsonrpc") != "2.0" or req.get("method") != "send" or \
                rid is None or p.get("account") != SG_ACCOUNT or \
                not p.get("message") or \
                bool(p.get("recipient")) == bool(p.get("groupId")):
            return self.fail("signal: request", 200, {
                "jsonrpc": "2.0", "id": rid, "error": {
                    "code": -32602, "message": "invalid params"}})
        to = p.get("groupId") or (p["recipient"][0] if isinstance(
            p["recipient"], list) else p["recipient"])
        if not to.startswith("+") and not p.get("groupId"):
            return self.send(200, {"jsonrpc": "2.0", "id": rid, "error": {
                "code": -1, "message": "Invalid recipient"}})
        with fa.lock:
            queue = fa.sg_failures.get(to) or []
            fail = queue.pop(0) if queue else None
        if fail == -3:
            return self.send(200, {"jsonrpc": "2.0", "id": rid, "error": {
                "code": -3, "message": "Failed to send message: "
                "Connection timed out"}})
        ts = int(time.time() * 1000)
        result = {"recipientAddress": {"uuid": "uuid-" + to.lstrip("+"),
                                       "number": to},
                  "type": fail or "SUCCESS"}
        if not fail:
            with fa.lock:
                fa.sg_delivered.append((to, p["message"]))
        self.send(200, {"jsonrpc": "2.0", "id": rid, "result": {
            "timestamp": ts, "results": [result]}})


def aes_encrypt(plain, key=FS_ENCRYPT):
    """Feishu's encryption: base64(iv + AES-256-CBC(sha256(key)))."""
    iv = os.urandom(16)
    ct = subprocess.check_output(
        ["openssl", "enc", "-aes-256-cbc", "-K",
         hashlib.sha256(key.encode()).hexdigest(), "-iv", iv.hex()],
        input=plain)
    return base64.b64encode(iv + ct).decode()


_fseq = [300]


def feishu_event(text, chat="oc_p2p0001", chat_type="p2p", sender="ou_user1",
                 mid=None, mention=False, ts_ms=None, token=FS_VTOKEN,
                 app=FS_APP, msg_type="text", content=None,
                 sender_type="user", event_type="im.message.receive_v1"):
    """An im.message.receive_v1 event (schema 2.0)."""
    _fseq[0] += 1
    ms = str(ts_ms or int(time.time() * 1000))
    mentions = []
    if mention:
        text = "@_user_1 " + text
        mentions = [{"key": "@_user_1", "id": {
            "union_id": "on_bot", "user_id": None, "open_id": FS_BOT},
            "name": "Claw", "tenant_key": "736588c9260f175d"}]
    return {"schema": "2.0", "header": {
        "event_id": "5e3702a84e847582be8db7fb7328%04d" % _fseq[0],
        "event_type": event_type, "create_time": ms, "token": token,
        "app_id": app, "tenant_key": "736588c9260f175d"},
        "event": {"sender": {"sender_id": {"union_id": "on_x",
                                           "user_id": "e33ggbyz",
                                           "open_id": sender},
                             "sender_type": sender_type,
                             "tenant_key": "736588c9260f175d"},
                  "message": {"message_id": mid or "om_%032d" % _fseq[0],
                              "create_time": ms, "chat_id": chat,
                              "chat_type": chat_type,
                              "message_type": msg_type,
                              "content": content or json.dumps(
                                  {"text": text}),
                              "mentions": mentions}}}


def feishu_request(obj, key=FS_ENCRYPT, encrypt=True, sign=True,
                   sign_key=None, ts=None):
    """The body and headers of an event push: encrypted and signed as
    Feishu does with an encrypt key (or plain)."""
    plain = json.dumps(obj).encode()
    body = json.dumps({"encrypt": aes_encrypt(plain, key)}).encode() \
        if encrypt else plain
    h = {"Content-Type": "application/json; charset=utf-8"}
    if sign:
        t = str(ts or int(time.time()))
        nonce = secrets.token_hex(8)
        h.update({"X-Lark-Request-Timestamp": t,
                  "X-Lark-Request-Nonce": nonce,
                  "X-Lark-Signature": hashlib.sha256(
                      (t + nonce + (sign_key or key)).encode() +
                      body).hexdigest()})
    return body, h


_gseq = [100]


def google_event(text, space="spaces/AAAAdm1", dm=True, thread=None,
                 mention=False, ts=None, msg=None, sender="users/1001",
                 sender_type="HUMAN", typ="MESSAGE"):
    """An interaction event as Chat posts it to an HTTP app."""
    _gseq[0] += 1
    now = ts or time.strftime("%Y-%m-%dT%H:%M:%S.123456Z", time.gmtime())
    thread = thread or "%s/threads/t%d" % (space, _gseq[0])
    m = {"name": msg or "%s/messages/M%d.M%d" % (space, _gseq[0], _gseq[0]),
         "sender": {"name": sender, "displayName": "Chuck Norris",
                    "email": "chuck@example.com", "type": sender_type},
         "createTime": now, "text": text, "thread": {"name": thread},
         "space": {"name": space}}
    if mention:
        m["text"] = "@Claw " + text
        m["argumentText"] = " " + text
        m["annotations"] = [{"type": "USER_MENTION", "startIndex": 0,
                             "length": 5, "userMention": {
                                 "user": {"name": "users/999",
                                          "displayName": "Claw",
                                          "type": "BOT"},
                                 "type": "MENTION"}}]
    ev = {"type": typ, "eventTime": now,
          "space": {"name": space, "type": "DM" if dm else "ROOM",
                    "spaceType": "DIRECT_MESSAGE" if dm else "SPACE",
                    "singleUserBotDm": dm},
          "message": m, "user": m["sender"],
          "common": {"userLocale": "en", "hostApp": "CHAT"}}
    return ev


def google_headers(token):
    return {"Authorization": "Bearer " + token,
            "Content-Type": "application/json",
            "User-Agent": "Google-Dynamite"}


# ----------------------------------------------------------------- config
def apps_channels(fa, only=None):
    chans = {
        "teams": {"app_id": TEAMS_APP,
                  "openid_metadata_url": fa.base + "/teams/openid",
                  "token_url": fa.base + "/teams/token",
                  "service_url_prefixes": ["http://127.0.0.1:"]},
        "googlechat": {"project_number": GC_PROJECT,
                       "certs_url": fa.base + "/google/certs",
                       "token_url": fa.base + "/google/token",
                       "api_base": fa.base + "/google"},
        "feishu": {"app_id": FS_APP, "bot_open_id": FS_BOT,
                   "api_base": fa.base + "/feishu"},
        "matrix": {"api_base": fa.base + "/matrix", "user_id": MX_USER},
        "signal": {"api_base": fa.base + "/signal", "account": SG_ACCOUNT},
    }
    if only:
        chans = {k: v for k, v in chans.items() if k in only}
    return chans


SECRETS = dict(F.SECRETS, teams_app_password=TEAMS_PASSWORD,
               feishu_app_secret=FS_SECRET,
               feishu_verification_token=FS_VTOKEN,
               feishu_encrypt_key=FS_ENCRYPT,
               matrix_access_token=MX_TOKEN)
