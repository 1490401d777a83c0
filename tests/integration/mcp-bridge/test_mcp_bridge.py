"""Integration tests of claw-mcp-bridge (tools/mcp-bridge).

The bridge runs @modelcontextprotocol/server-everything over stdio (node, from
tests/node/node_modules; `npm ci` there when it is missing) and serves it as
MCP Streamable HTTP on 127.0.0.1. Proved here: the bearer token (401 without
or with a wrong one), initialize/tools/list/tools/call as SSE streams, the
session id (required after initialize, 404 once ended by DELETE), a server
notification on the GET stream, a server-to-client request (sampling)
answered by the client and its answer reaching the server, claw-runtime's
`mcp list`/`mcp call` through the bridge, and a killed server: /readyz 503,
then restarted. Readiness is MCP-level: a server that reads stdin and never
answers initialize keeps /readyz at 503, is timed out ("timed out waiting
for initialize", in /readyz and the log) and restarted.

The HTTP layer (tools/mcp-bridge/http.c, libevent): an over-long body is 413
body_too_large in the shared error shape, an unknown path 404, a wrong method
405 with Allow, X-Request-Id echoed or made, the connection limit closes the
connection past it, a stop ends the open streams cleanly, what waits for a
server that never reads its stdin is bounded (503 past 16 MiB) while HTTP
goes on, and a non-sanitizer build's bridge is one static binary.
"""
import http.client
import json
import os
import shutil
import re
import signal
import socket
import subprocess
import sys
import tempfile
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
from clawtest.http import free_port  # noqa: E402
from clawtest.proc import wait_for as until  # noqa: E402

BUILD = os.environ.get("CLAW_BUILD_DIR", "build")
SRC = os.environ.get("CLAW_SOURCE_DIR", ".")
BRIDGE = os.path.join(BUILD, "tools", "mcp-bridge", "claw-mcp-bridge")
RUNTIME = os.path.join(BUILD, "runtime", "claw-runtime")
NODE_DIR = os.path.join(SRC, "tests", "node")
EVERYTHING = os.path.join(NODE_DIR, "node_modules", "@modelcontextprotocol",
                          "server-everything", "dist", "index.js")
TOKEN = "tok-" + "x" * 40
NOISY = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                     "noisy_server.py")


def sse_messages(resp):
    """Yield the JSON messages of an SSE response as they arrive."""
    data = []
    while True:
        line = resp.readline()
        if not line:
            return
        line = line.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].lstrip())
        elif line == "" and data:
            yield json.loads("\n".join(data))
            data = []


def http_status(port, path):
    """The status of GET path on 127.0.0.1:port, or None."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        return r.status
    except OSError:
        return None


class Bridge:
    def __init__(self, tmp, cmd=None, extra=(), ready=True):
        self.port = free_port()
        self.token_file = os.path.join(tmp, "token")
        with open(self.token_file, "w") as f:
            f.write(TOKEN)
        os.chmod(self.token_file, 0o600)
        self.log = open(os.path.join(tmp, "bridge.log"), "w+")
        self.proc = subprocess.Popen(
            [BRIDGE, "--listen", "127.0.0.1:%d" % self.port,
             "--token-file", self.token_file, "--log-level", "debug",
             "--restart-backoff-ms", "2000"] + list(extra) +
            ["--"] + (cmd or ["node", EVERYTHING, "stdio"]),
            stdout=self.log, stderr=subprocess.STDOUT)
        if ready:
            until(lambda: self.status("/readyz") == 200, what="the bridge")

    def conn(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)

    def status(self, path):
        return http_status(self.port, path)

    def request(self, method, body=None, token=TOKEN, session=None,
                path="/mcp"):
        h = {"Accept": "application/json, text/event-stream",
             "Content-Type": "application/json"}
        if token is not None:
            h["Authorization"] = "Bearer " + token
        if session:
            h["Mcp-Session-Id"] = session
        c = self.conn()
        c.request(method, path,
                  body=json.dumps(body) if body is not None else None,
                  headers=h)
        return c.getresponse()

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.seek(0)
        return rc, self.log.read()


def raw_exchange(port, data, timeout=30):
    """Send data on a new connection; return what comes back before the
    server closes it (b"" when it closes without a word)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    out = b""
    try:
        s.sendall(data)
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out and b"Connection: close" not in out:
                break  # the head of a kept-alive answer is enough
    except OSError:
        pass  # reset by the server
    finally:
        s.close()
    return out


def sanitizer_build():
    """Whether BUILD is a sanitizer or fuzzer build (then dynamic)."""
    try:
        with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
            cache = f.read()
    except OSError:
        return False
    return bool(re.search(r"^CLAW_(SANITIZE|FUZZ):BOOL=(ON|1|TRUE)$",
                          cache, re.M))


def child_pids(pid):
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True,
                         text=True).stdout.split()
    return [int(p) for p in out]


class BridgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        warnings.simplefilter("ignore", ResourceWarning)
        if not os.path.exists(EVERYTHING):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"],
                           cwd=NODE_DIR, check=True)
        cls.tmp = tempfile.mkdtemp(prefix="mcp-bridge-")
        cls.b = Bridge(cls.tmp)

    @classmethod
    def tearDownClass(cls):
        rc, log = cls.b.stop()
        if rc != 0:
            print(log)
        shutil.rmtree(cls.tmp, ignore_errors=True)
        assert rc == 0, "the bridge exited %d" % rc
        assert TOKEN not in log, "the token was logged"

    def rpc(self, id_, method, params=None, session=None, caps=None):
        msg = {"jsonrpc": "2.0", "id": id_, "method": method,
               "params": params or {}}
        return self.b.request("POST", msg, session=session)

    def initialize(self, caps=None):
        r = self.rpc(1, "initialize", {
            "protocolVersion": "2025-06-18",
            "capabilities": caps or {},
            "clientInfo": {"name": "test", "version": "1"}})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.getheader("Content-Type"), "text/event-stream")
        sid = r.getheader("Mcp-Session-Id")
        self.assertTrue(sid)
        msgs = list(sse_messages(r))
        self.assertEqual(msgs[-1]["id"], 1)
        self.assertIn("serverInfo", msgs[-1]["result"])
        n = self.b.request("POST", {"jsonrpc": "2.0",
                                    "method": "notifications/initialized"},
                           session=sid)
        self.assertEqual(n.status, 202)
        n.read()
        return sid

    def call(self, sid, id_, name, args):
        r = self.rpc(id_, "tools/call", {"name": name, "arguments": args},
                     session=sid)
        self.assertEqual(r.status, 200)
        return r

    def test_1_token(self):
        for tok in (None, "wrong", TOKEN + "x", ""):
            r = self.b.request("POST", {"jsonrpc": "2.0", "id": 1,
                                        "method": "ping"}, token=tok)
            self.assertEqual(r.status, 401, tok)
            body = json.loads(r.read())
            self.assertEqual(body["error"]["code"], "unauthorized")
        r = self.b.request("GET", token=None)
        self.assertEqual(r.status, 401)
        r.read()

    def test_2_session_tools(self):
        sid = self.initialize()
        # a request without the session id, or with a wrong one
        r = self.rpc(2, "tools/list")
        self.assertEqual(r.status, 400)
        r.read()
        r = self.rpc(2, "tools/list", session="nope")
        self.assertEqual(r.status, 404)
        r.read()
        r = self.rpc(2, "tools/list", session=sid)
        msgs = list(sse_messages(r))
        names = [t["name"] for t in msgs[-1]["result"]["tools"]]
        self.assertIn("echo", names)
        msgs = list(sse_messages(self.call(sid, 3, "echo",
                                           {"message": "hi there"})))
        self.assertIn("hi there", json.dumps(msgs[-1]["result"]))
        # DELETE ends the session
        r = self.b.request("DELETE", session=sid)
        self.assertEqual(r.status, 204)
        r.read()
        r = self.rpc(4, "tools/list", session=sid)
        self.assertEqual(r.status, 404)
        r.read()

    def test_3_get_stream_notification(self):
        sid = self.initialize()
        g = self.b.request("GET", session=sid)
        self.assertEqual(g.status, 200)
        # a second GET stream is refused
        g2 = self.b.request("GET", session=sid)
        self.assertEqual(g2.status, 409)
        g2.read()
        list(sse_messages(self.call(sid, 5, "toggle-simulated-logging", {})))
        # the later log messages (every 5 s) come on the GET stream
        # (list_changed notifications may come first)
        m = next(m for m in sse_messages(g)
                 if m.get("method") != "notifications/tools/list_changed")
        self.assertEqual(m["method"], "notifications/message")
        list(sse_messages(self.call(sid, 6, "toggle-simulated-logging", {})))
        g.close()

    def test_4_sampling_both_ways(self):
        sid = self.initialize({"sampling": {}})
        r = self.call(sid, 7, "trigger-sampling-request",
                      {"prompt": "say hi", "maxTokens": 10})
        it = sse_messages(r)
        # notifications (tools/list_changed) may come first
        req = next(m for m in it if "id" in m)
        self.assertEqual(req["method"], "sampling/createMessage")
        ans = self.b.request("POST", {
            "jsonrpc": "2.0", "id": req["id"], "result": {
                "role": "assistant", "model": "scripted",
                "content": {"type": "text", "text": "sampled-answer-42"}}},
            session=sid)
        self.assertEqual(ans.status, 202)
        ans.read()
        msgs = list(it)
        self.assertEqual(msgs[-1]["id"], 7)
        self.assertIn("sampled-answer-42", json.dumps(msgs[-1]["result"]))

    def test_5_runtime_cli(self):
        if not os.path.exists(RUNTIME):
            self.skipTest("claw-runtime is not built")
        url = "http://127.0.0.1:%d/mcp" % self.b.port
        hdr = "Authorization: Bearer " + TOKEN
        out = subprocess.run([RUNTIME, "mcp", "list", "--url", url,
                              "--header", hdr], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("echo", out.stdout)
        out = subprocess.run([RUNTIME, "mcp", "call", "echo",
                              '{"message":"via-cli"}', "--url", url,
                              "--header", hdr], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("via-cli", out.stdout)
        out = subprocess.run([RUNTIME, "mcp", "list", "--url", url,
                              "--header", "Authorization: Bearer wrong"],
                             capture_output=True, text=True, timeout=60)
        self.assertNotEqual(out.returncode, 0)

    def test_6_crash_restart(self):
        sid = self.initialize()
        kids = child_pids(self.b.proc.pid)
        self.assertTrue(kids)
        for k in kids:
            os.kill(k, signal.SIGKILL)
        until(lambda: self.b.status("/readyz") == 503, what="readyz 503")
        until(lambda: self.b.status("/readyz") == 200, what="a restart")
        self.assertNotEqual(child_pids(self.b.proc.pid), kids)
        # the old session ended with the old server
        r = self.rpc(8, "tools/list", session=sid)
        self.assertEqual(r.status, 404)
        r.read()
        sid = self.initialize()
        msgs = list(sse_messages(self.call(sid, 9, "echo",
                                           {"message": "again"})))
        self.assertIn("again", json.dumps(msgs[-1]["result"]))

    def test_7_http_errors(self):
        """The error shape of lib's httpd, from the libevent server."""
        def check(r, status, code):
            self.assertEqual(r.status, status)
            self.assertEqual(r.getheader("Content-Type"), "application/json")
            body = json.loads(r.read())
            self.assertEqual(body["error"]["code"], code)
            self.assertTrue(body["error"]["message"])
            self.assertEqual(body["error"]["request_id"],
                             r.getheader("X-Request-Id"))
            return body
        # a body over 1 MiB: 413 body_too_large, and the bridge goes on
        c = self.b.conn()
        c.request("POST", "/mcp", body=b"x" * ((1 << 20) + 1), headers={
            "Authorization": "Bearer " + TOKEN,
            "Content-Type": "application/json"})
        body = check(c.getresponse(), 413, "body_too_large")
        self.assertIn("1048576 bytes", body["error"]["message"])
        c.close()
        # past twice that, libevent refuses it at the head (its own page)
        out = raw_exchange(self.b.port, b"POST /mcp HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 3145728\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:80])
        # a wrong method: 405 with Allow; an unknown path: 404
        c = self.b.conn()
        c.request("PUT", "/mcp", body=b"{}")
        r = c.getresponse()
        self.assertEqual(r.getheader("Allow"), "POST, GET, DELETE")
        check(r, 405, "method_not_allowed")
        c.request("GET", "/nope")
        check(c.getresponse(), 404, "not_found")
        # X-Request-Id: the client's when well-formed, else a new one
        c.request("GET", "/healthz", headers={"X-Request-Id": "abc.DEF-1_2"})
        r = c.getresponse()
        r.read()
        self.assertEqual(r.getheader("X-Request-Id"), "abc.DEF-1_2")
        c.request("GET", "/healthz", headers={"X-Request-Id": "bad id!"})
        r = c.getresponse()
        r.read()
        self.assertRegex(r.getheader("X-Request-Id"), r"^[0-9a-f]{32}$")
        c.close()
        # a request head over 16 KiB is refused
        out = raw_exchange(self.b.port, b"GET /healthz HTTP/1.1\r\nHost: x"
                           b"\r\nX-Pad: " + b"p" * 20000 + b"\r\n\r\n")
        self.assertFalse(out.startswith(b"HTTP/1.1 200"), out[:80])
        self.assertEqual(self.b.status("/healthz"), 200)

    def test_8_client_leaves_stream(self):
        """A client that leaves an open SSE stream: the bridge sees the
        close (the GET slot is free again) and serves on."""
        sid = self.initialize()
        g = self.b.request("GET", session=sid)
        self.assertEqual(g.status, 200)
        g.close()  # gone without a DELETE
        # the GET slot frees once the bridge saw the close
        def reopened():
            r = self.b.request("GET", session=sid)
            if r.status == 409:
                r.read()
                return None
            return r
        g = until(reopened, what="the GET stream's slot freed")
        self.assertEqual(g.status, 200)
        g.close()
        msgs = list(sse_messages(self.call(sid, 10, "echo",
                                           {"message": "still"})))
        self.assertIn("still", json.dumps(msgs[-1]["result"]))


class StaticBinaryTest(unittest.TestCase):
    """Issue 14: the bridge is one static binary, mounted into images of
    any distro, in every build but the sanitizer and fuzzer ones."""

    def test_static(self):
        if sanitizer_build():
            self.skipTest("%s is a sanitizer build: the bridge is dynamic "
                          "there (ASan cannot link statically)" % BUILD)
        out = subprocess.run(["file", "-L", BRIDGE], capture_output=True,
                             text=True).stdout
        self.assertIn("statically linked", out)
        out = subprocess.run(["ldd", BRIDGE], capture_output=True,
                             text=True)
        self.assertIn("not a dynamic executable", out.stdout + out.stderr)
        self.assertNotIn("=>", out.stdout)

    def test_runs_in_an_empty_root(self):
        """In a root holding nothing but the bridge, a static busybox (the
        "server") and the token: no library, no loader, no /etc, no /dev."""
        if sanitizer_build():
            self.skipTest("%s is a sanitizer build: its bridge needs its "
                          "libraries" % BUILD)
        busybox = shutil.which("busybox")
        if os.geteuid() != 0 or not busybox or "statically linked" not in \
                subprocess.run(["file", "-L", busybox], capture_output=True,
                               text=True).stdout:
            self.skipTest("needs root (chroot) and a static busybox "
                          "(busybox-static)")
        warnings.simplefilter("ignore", ResourceWarning)
        root = tempfile.mkdtemp(prefix="mcp-bridge-root-")
        shutil.copy(BRIDGE, os.path.join(root, "bridge"))
        shutil.copy(busybox, os.path.join(root, "busybox"))
        with open(os.path.join(root, "token"), "w") as f:
            f.write(TOKEN)
        os.chmod(os.path.join(root, "token"), 0o600)
        port = free_port()
        # answers the bridge's own initialize, then reads on
        server = ('read l; echo \'{"jsonrpc":"2.0","id":'
                  '"claw-mcp-bridge-init-1","result":{}}\'; '
                  'while read l; do :; done')
        log = open(os.path.join(root, "log"), "w+")
        p = subprocess.Popen(
            ["chroot", root, "/bridge", "--listen", "127.0.0.1:%d" % port,
             "--token-file", "/token", "--", "/busybox", "sh", "-c", server],
            stdout=log, stderr=subprocess.STDOUT)
        try:
            until(lambda: http_status(port, "/readyz") == 200,
                  what="ready in the empty root")
        finally:
            p.send_signal(signal.SIGTERM)
            rc = p.wait(15)
            log.seek(0)
            out = log.read()
            log.close()
            shutil.rmtree(root, ignore_errors=True)
        self.assertEqual(rc, 0, out)


class ConnectionLimitTest(unittest.TestCase):
    """--max-connections: a connection past the limit is closed at once;
    one closing makes room again."""

    def test_limit(self):
        warnings.simplefilter("ignore", ResourceWarning)
        tmp = tempfile.mkdtemp(prefix="mcp-bridge-conns-")
        b = Bridge(tmp, cmd=[sys.executable, NOISY],
                   extra=["--max-connections", "3"])
        held = []
        hello = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        try:
            def one_more():
                # kept alive after its answer: it holds a slot (a slot of
                # an earlier probe may not be freed yet: retried)
                c = b.conn()
                try:
                    c.request("GET", "/healthz")
                    r = c.getresponse()
                    r.read()
                except OSError:
                    c.close()
                    return False
                held.append(c)
                return r.status == 200
            for _ in range(3):
                until(one_more, what="a connection under the limit")
            # the fourth is closed without an answer
            self.assertEqual(raw_exchange(b.port, hello), b"")
            # one closes: a new one is served again
            held.pop().close()
            until(lambda: raw_exchange(b.port, hello).startswith(
                b"HTTP/1.1 200"), what="room after a close")
        finally:
            for c in held:
                c.close()
            rc, log = b.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, log)
        self.assertIn("connection limit (3) reached", log)


class StopTest(unittest.TestCase):
    """SIGTERM with streams open: the open request gets a JSON-RPC error,
    both streams end cleanly, the bridge exits 0 (ASan: nothing leaked)."""

    def test_stop_ends_open_streams(self):
        warnings.simplefilter("ignore", ResourceWarning)
        tmp = tempfile.mkdtemp(prefix="mcp-bridge-stop-")
        # reads its stdin, never answers: the request stays open
        b = Bridge(tmp, cmd=[sys.executable, "-c",
                             "import sys\nfor _ in sys.stdin: pass"],
                   ready=False)
        try:
            until(lambda: b.status("/healthz") == 200, what="the bridge")
            r = b.request("POST", {"jsonrpc": "2.0", "id": "s1",
                                   "method": "initialize", "params": {}})
            self.assertEqual(r.status, 200)
            sid = r.getheader("Mcp-Session-Id")
            g = b.request("GET", session=sid)
            self.assertEqual(g.status, 200)
            b.proc.send_signal(signal.SIGTERM)
            msgs = list(sse_messages(r))
            self.assertEqual(msgs[-1]["id"], "s1")
            self.assertEqual(msgs[-1]["error"]["message"],
                             "the bridge is stopping")
            self.assertEqual(list(sse_messages(g)), [])
            b.proc.wait(30)  # on its own: stop() would signal it again
        finally:
            rc, log = b.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, log)


class StuckServerTest(unittest.TestCase):
    """A server that never reads its stdin: what waits for it is bounded
    (16 MiB, then 503 unavailable) and HTTP goes on meanwhile."""

    def test_stdin_backlog_bounded(self):
        warnings.simplefilter("ignore", ResourceWarning)
        tmp = tempfile.mkdtemp(prefix="mcp-bridge-stuck-")
        b = Bridge(tmp, cmd=[sys.executable, "-c",
                             "import time\ntime.sleep(600)"], ready=False)
        try:
            until(lambda: b.status("/healthz") == 200, what="the bridge")
            r = b.request("POST", {"jsonrpc": "2.0", "id": 1,
                                   "method": "initialize", "params": {}})
            sid = r.getheader("Mcp-Session-Id")
            r.close()
            note = {"jsonrpc": "2.0", "method": "notifications/x",
                    "params": {"pad": "p" * 1000000}}
            seen = []
            for _ in range(20):
                n = b.request("POST", note, session=sid)
                body = n.read()
                seen.append(n.status)
                if n.status != 202:
                    break
            self.assertEqual(seen[-1], 503, seen)
            self.assertIn(b"not reading its input", body)
            self.assertGreaterEqual(seen.count(202), 15)
            self.assertEqual(b.status("/healthz"), 200)
        finally:
            rc, log = b.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, log)


class NoisyServerTest(unittest.TestCase):
    """Non-JSON and over-long lines are dropped and counted; the session
    goes on."""

    def test_noise_dropped(self):
        warnings.simplefilter("ignore", ResourceWarning)
        tmp = tempfile.mkdtemp(prefix="mcp-bridge-noisy-")
        b = Bridge(tmp, cmd=[sys.executable, NOISY],
                   extra=["--max-line", "1024"])
        try:
            r = b.request("POST", {"jsonrpc": "2.0", "id": "a",
                                   "method": "initialize", "params": {}})
            sid = r.getheader("Mcp-Session-Id")
            msgs = list(sse_messages(r))
            self.assertEqual(msgs, [{"jsonrpc": "2.0", "id": "a",
                                     "result": {"echo": "initialize"}}])
            r = b.request("POST", {"jsonrpc": "2.0", "id": 2,
                                   "method": "tools/list"}, session=sid)
            self.assertEqual(list(sse_messages(r))[-1]["result"],
                             {"echo": "tools/list"})
            c = b.conn()
            c.request("GET", "/readyz")
            ready = json.loads(c.getresponse().read())
            # 3: the bridge's own initialize (its readiness probe) got
            # the noise too
            self.assertEqual(ready["not_json"], 3)
            self.assertEqual(ready["too_long"], 3)
            # a server that exits: the open request gets a JSON-RPC error
            r = b.request("POST", {"jsonrpc": "2.0", "id": 3,
                                   "method": "exit"}, session=sid)
            last = list(sse_messages(r))[-1]
            self.assertEqual(last["id"], 3)
            self.assertEqual(last["error"]["code"], -32603)
            until(lambda: b.status("/readyz") == 200, what="a restart")
        finally:
            rc, log = b.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, log)
        self.assertIn("exited with status 3", log)


class SilentServerTest(unittest.TestCase):
    """A server that reads its stdin and never answers: never ready."""

    def test_never_answers_initialize(self):
        warnings.simplefilter("ignore", ResourceWarning)
        tmp = tempfile.mkdtemp(prefix="mcp-bridge-silent-")
        # and starts a process of its own (its pid in pids), killed with
        # it (its group)
        pids = os.path.join(tmp, "pids")
        b = Bridge(tmp, cmd=["sh", "-c", "sleep 600 & echo $! >> %s; "
                             "exec %s -c '%s'" % (
                                 pids, sys.executable,
                                 "import sys\nfor _ in sys.stdin: pass")],
                   extra=["--init-timeout-ms", "500"], ready=False)

        def alive(pid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False

        def reason():
            c = b.conn(5)
            try:
                c.request("GET", "/readyz")
                r = c.getresponse()
                body = json.loads(r.read())
            except OSError:
                return None
            finally:
                c.close()
            self.assertEqual(r.status, 503, body)  # never 200
            msg = body["error"]["message"]
            return msg if "timed out waiting for initialize" in msg \
                else None
        try:
            until(reason, 60, interval=0.2,
              what="the initialize time-out in /readyz")
            # restarted after the time-out, still never ready
            until(lambda: b.log.seek(0) or
                  b.log.read().count("started the server") >= 2,
                  60, what="a restart")
            reason()  # 503 still
            # the first child's own process went with it
            with open(pids) as f:
                first = int(f.readline())
            until(lambda: not alive(first), 30,
                  what="the first child's sleep gone")
        finally:
            rc, log = b.stop()
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rc, 0, log)
        self.assertIn("timed out waiting for initialize (500 ms)", log)


if __name__ == "__main__":
    unittest.main(verbosity=2)
