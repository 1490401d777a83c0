"""outside - "the internet" of the end-to-end tests: a network namespace
of the test's own, joined to the host by a veth pair, where fakes of the
services a tenant talks to listen (stdlib only).

Tenant gateways sit on the node agent's egress network, where Docker lets
traffic out to any non-Docker interface (masqueraded) but not to other
containers (inter-container traffic is off on that network, by design). A
namespace behind a veth is therefore exactly what the internet looks like
to them, and nothing listens on the host's own addresses.

    out = Outside()                        # netns + veth, two addresses
    api = ChannelAPI(out, out.ip)          # Telegram Bot API + Slack Web API
    mcp = MCPServer(out, out.ip, 8091)     # MCP over Streamable HTTP
    out.close()                            # servers down, namespace gone

Servers are threads of the test process: each listening socket is created
by a thread that first enters the namespace (setns), so it belongs there,
while the test reads what the fakes recorded in memory.
"""

import ctypes
import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest import fakehttp  # noqa: E402

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL("libc.so.6", use_errno=True)

TG_TOKEN = "123456:AAe2e-telegram-token"
TG_SECRET = "tg-webhook-secret-e2e"
SLACK_BOT = "xoxb-e2e-bot-token"
SLACK_SIGNING = "e2e-slack-signing-secret-0123456789"


def _ip(*args, netns=None):
    cmd = ["ip"] + (["-n", netns] if netns else []) + list(args)
    subprocess.run(cmd, check=True, capture_output=True)


class Outside:
    """A network namespace with the addresses IP (.2) and IP2 (.3) of a
    /29 out of 10.250.0.0/16; the host side of the veth is .1."""

    def __init__(self):
        tag = secrets.token_hex(3)
        self.name = "claw-e2e-" + tag
        self.host_if = "ce%sh" % tag
        self.ns_if = "ce%sn" % tag
        used = subprocess.run(["ip", "-4", "-o", "addr"], check=True,
                              capture_output=True, text=True).stdout
        for _ in range(64):
            n = secrets.randbelow(256 * 32)
            base = "10.250.%d.%d" % (n // 32, (n % 32) * 8)
            prefix = base.rsplit(".", 1)[0] + "."
            last = int(base.rsplit(".", 1)[1])
            if (" %s%d/" % (prefix, last + 1)) not in used:
                break
        self.host_ip = "%s%d" % (prefix, last + 1)
        self.ip = "%s%d" % (prefix, last + 2)
        self.ip2 = "%s%d" % (prefix, last + 3)
        self.servers = []
        _ip("netns", "add", self.name)
        try:
            _ip("link", "add", self.host_if, "type", "veth", "peer", "name",
                self.ns_if, "netns", self.name)
            _ip("addr", "add", self.host_ip + "/29", "dev", self.host_if)
            _ip("link", "set", self.host_if, "up")
            for a in (self.ip, self.ip2):
                _ip("addr", "add", a + "/29", "dev", self.ns_if,
                    netns=self.name)
            _ip("link", "set", self.ns_if, "up", netns=self.name)
            _ip("link", "set", "lo", "up", netns=self.name)
        except Exception:
            self.close()
            raise

    def inside(self, fn):
        """Run fn() on a thread that has entered the namespace; return its
        result (sockets it creates live in the namespace)."""
        box = {}

        def run():
            try:
                fd = os.open("/var/run/netns/" + self.name, os.O_RDONLY)
                try:
                    if _libc.setns(fd, CLONE_NEWNET) != 0:
                        raise OSError(ctypes.get_errno(), "setns")
                finally:
                    os.close(fd)
                box["v"] = fn()
            except Exception as e:  # handed to the caller
                box["e"] = e
        t = threading.Thread(target=run)
        t.start()
        t.join()
        if "e" in box:
            raise box["e"]
        return box["v"]

    def serve(self, addr, port, handler):
        srv = self.inside(lambda: _Server((addr, port), handler))
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.servers.append(srv)
        return srv

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()
        self.servers = []
        subprocess.run(["ip", "netns", "del", self.name],
                       capture_output=True)
        subprocess.run(["ip", "link", "del", self.host_if],
                       capture_output=True)


class _Server(fakehttp.Server):
    def handle_error(self, request, client_address):
        # A client killed mid-request (a container stopped by a test)
        # resets its connection: expected, not worth a traceback.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Base(fakehttp.Handler):
    protocol_version = "HTTP/1.1"
    send = fakehttp.Handler.send_json


class _Recorder:
    def __init__(self):
        self.cond = threading.Condition()
        self.calls = []
        self.times = []  # time.monotonic() of each call, by index
        self.errors = []

    def record(self, item):
        with self.cond:
            self.calls.append(item)
            self.times.append(time.monotonic())
            self.cond.notify_all()

    def timed(self, pred):
        """[(monotonic time, call)] of the calls pred accepts."""
        with self.cond:
            return [(t, c) for t, c in zip(self.times, self.calls)
                    if pred(c)]

    def wait(self, pred, timeout=60, what="a call"):
        """The calls once pred(calls) is truthy."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.calls):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("timed out waiting for %s; calls %r,"
                                         " errors %r" % (what, self.calls,
                                                         self.errors))
                self.cond.wait(min(left, 0.5))
            return list(self.calls)


class ChannelAPI(_Recorder):
    """Telegram Bot API (/telegram/bot<token>/sendMessage|sendChatAction)
    and Slack Web API (/slack/api/chat.postMessage) as the gateway calls
    them; checks the token and the required fields as the services do,
    answers in their shapes, records (channel, chat, text)."""

    def __init__(self, out, addr, port=8092):
        super().__init__()
        rec = self

        class Handler(_Base):
            def do_POST(self):
                raw = self.body()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                m = re.match(r"^/telegram/bot([^/]+)/(\w+)$", self.path)
                if m:
                    return rec.telegram(self, m.group(1), m.group(2), body)
                if self.path == "/slack/api/chat.postMessage":
                    return rec.slack(self, body)
                rec.errors.append("unknown path " + self.path)
                self.send(404, {"error": "not found"})

        self.srv = out.serve(addr, port, Handler)
        self.base = "http://%s:%d" % (addr, port)

    def telegram(self, h, token, method, body):
        if token != TG_TOKEN:
            self.errors.append("telegram: bad token")
            return h.send(401, {"ok": False, "error_code": 401,
                                "description": "Unauthorized"})
        if method == "sendChatAction":
            return h.send(200, {"ok": True, "result": True})
        if method != "sendMessage" or not isinstance(body, dict) or \
                not isinstance(body.get("chat_id"), int) or \
                not body.get("text"):
            self.errors.append("telegram: bad %s %r" % (method, body))
            return h.send(400, {"ok": False, "error_code": 400,
                                "description": "Bad Request"})
        self.record(("telegram", body["chat_id"], body["text"]))
        h.send(200, {"ok": True, "result": {
            "message_id": len(self.calls), "date": int(time.time()),
            "chat": {"id": body["chat_id"], "type": "private"},
            "text": body["text"]}})

    def slack(self, h, body):
        if h.headers.get("Authorization") != "Bearer " + SLACK_BOT:
            self.errors.append("slack: bad auth")
            return h.send(200, {"ok": False, "error": "not_authed"})
        if not isinstance(body, dict) or not body.get("channel") or \
                not body.get("text"):
            self.errors.append("slack: bad body %r" % (body,))
            return h.send(200, {"ok": False, "error": "no_text"})
        self.record(("slack", body["channel"], body["text"]))
        h.send(200, {"ok": True, "channel": body["channel"],
                     "ts": "%.6f" % time.time(),
                     "message": {"type": "message", "text": body["text"]}})

    def texts(self, channel, chat):
        with self.cond:
            return [c[2] for c in self.calls
                    if c[0] == channel and c[1] == chat]

    def wait_text(self, channel, chat, pred, timeout=60):
        """The first text sent to chat that satisfies pred."""
        calls = self.wait(lambda cs: any(
            c[0] == channel and c[1] == chat and pred(c[2]) for c in cs),
            timeout, "a %s message to %s" % (channel, chat))
        return [c[2] for c in calls if c[0] == channel and c[1] == chat
                and pred(c[2])][0]


class MCPServer(_Recorder):
    """A small MCP server over Streamable HTTP (POST /mcp, JSON answers,
    Mcp-Session-Id): one tool, "add" {a, b} -> the sum as text. Records
    each JSON-RPC method it was asked."""

    VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")

    def __init__(self, out, addr, port=8091):
        super().__init__()
        rec = self
        self.sessions = set()

        class Handler(_Base):
            def do_GET(self):
                self.send(405, None, {"Allow": "POST, DELETE"})

            def do_DELETE(self):
                rec.sessions.discard(self.headers.get("Mcp-Session-Id"))
                self.send(200)

            def do_POST(self):
                try:
                    msg = json.loads(self.body())
                except ValueError:
                    return self.send(400, {"jsonrpc": "2.0", "id": None,
                                           "error": {"code": -32700,
                                                     "message": "parse"}})
                rec.record(msg.get("method"))
                rec.answer(self, msg)

        self.srv = out.serve(addr, port, Handler)
        self.url = "http://%s:%d/mcp" % (addr, port)

    def answer(self, h, msg):
        method, mid = msg.get("method"), msg.get("id")
        if method == "initialize":
            want = msg.get("params", {}).get("protocolVersion")
            ver = want if want in self.VERSIONS else self.VERSIONS[0]
            sid = uuid.uuid4().hex
            self.sessions.add(sid)
            return h.send(200, {"jsonrpc": "2.0", "id": mid, "result": {
                "protocolVersion": ver, "capabilities": {"tools": {}},
                "serverInfo": {"name": "e2e-mcp", "version": "1.0"}}},
                {"Mcp-Session-Id": sid})
        if h.headers.get("Mcp-Session-Id") not in self.sessions:
            return h.send(404, {"jsonrpc": "2.0", "id": mid, "error": {
                "code": -32001, "message": "unknown session"}})
        if mid is None:  # a notification
            return h.send(202)
        if method == "tools/list":
            return h.send(200, {"jsonrpc": "2.0", "id": mid, "result": {
                "tools": [{"name": "add", "description": "Add two numbers",
                           "inputSchema": {
                               "type": "object",
                               "properties": {"a": {"type": "number"},
                                              "b": {"type": "number"}},
                               "required": ["a", "b"]}}]}})
        if method == "tools/call":
            args = msg.get("params", {}).get("arguments", {})
            total = args.get("a", 0) + args.get("b", 0)
            return h.send(200, {"jsonrpc": "2.0", "id": mid, "result": {
                "content": [{"type": "text", "text": "sum=%g" % total}],
                "isError": False}})
        if method == "ping":
            return h.send(200, {"jsonrpc": "2.0", "id": mid, "result": {}})
        h.send(200, {"jsonrpc": "2.0", "id": mid, "error": {
            "code": -32601, "message": "method not found"}})
