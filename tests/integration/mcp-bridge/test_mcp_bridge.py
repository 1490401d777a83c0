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
"""
import http.client
import json
import os
import shutil
import signal
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
        try:
            c = self.conn(5)
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            c.close()
            return r.status
        except OSError:
            return None

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


class NoisyServerTest(unittest.TestCase):
    """Non-JSON and over-long lines are dropped and counted; the session
    goes on."""

    def test_noise_dropped(self):
        warnings.simplefilter("ignore", ResourceWarning)
        tmp = tempfile.mkdtemp(prefix="mcp-bridge-noisy-")
        server = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                              "noisy_server.py")
        b = Bridge(tmp, cmd=[sys.executable, server],
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
