"""mcp_http_server.py - a small MCP server over Streamable HTTP on
127.0.0.1 that follows the specification (2025-06-18 / 2025-11-25), for
the runtime's tests. Every request is recorded.

- POST /mcp with Accept "application/json, text/event-stream"; initialize
  gives an Mcp-Session-Id that later requests must carry (400 without it,
  404 for an unknown one) along with MCP-Protocol-Version; notifications
  and responses get 202.
- tools/list pages through nextCursor (two pages).
- tools: echo (a JSON answer), picture (an SSE answer that first sends the
  client a ping request, then image and resource content), resumable (an
  SSE stream with ids and "retry" that breaks before the answer; GET with
  Last-Event-ID resumes it), slow (answers after 3 s; used for time-outs).
- GET without Last-Event-ID: 405 (no standalone stream), or with
  offer_get=True a stream that opens with a priming event (an id and
  retry, no data), sends notifications/tools/list_changed half a second
  later, carries what push_get() queues, and closes after get_hold
  seconds. DELETE ends the session.
- elicitation: the tool "ask" sends elicitation/create (the schema of
  ASK_SCHEMA) on its own POST stream, "ask_get" on the standalone GET
  stream; each waits up to 30 s for the client's answer (a POST of the
  response) and returns it as text ("answer: {...}"). The answers are in
  answers (request id -> result or error).
"""
import json
import os
import queue
import sys
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest import fakehttp  # noqa: E402

VERSIONS = ["2025-11-25", "2025-06-18"]

TOOLS_P1 = [{"name": "echo", "description": "Echo the text back",
             "inputSchema": {"type": "object",
                             "properties": {"text": {"type": "string"}},
                             "required": ["text"]}}]
TOOLS_P2 = [{"name": "picture", "description": "A picture and a file",
             "inputSchema": {"type": "object"}},
            {"name": "resumable", "description": "Answers on a resumed "
             "stream", "inputSchema": {"type": "object"}},
            {"name": "slow", "description": "Takes 3 s",
             "inputSchema": {"type": "object"}},
            {"name": "ask", "description": "Asks the user (POST stream)",
             "inputSchema": {"type": "object"}},
            {"name": "ask_get", "description": "Asks the user (GET "
             "stream)", "inputSchema": {"type": "object"}}]

ASK_SCHEMA = {"type": "object",
              "properties": {
                  "city": {"type": "string", "title": "City",
                           "minLength": 2},
                  "nights": {"type": "integer", "minimum": 1,
                             "maximum": 30, "default": 2},
                  "breakfast": {"type": "boolean", "default": False}},
              "required": ["city"]}


class MCPHTTPServer:
    def __init__(self, offer_get=False, get_hold=1.5):
        self.offer_get = offer_get
        self.get_hold = get_hold
        self.records = []
        self.sessions = set()
        self.held = {}  # last event id -> message to send on resume
        self.get_queues = []
        self.answers = {}  # our request id -> the client's answer
        self.answered = threading.Condition()
        self.lock = threading.Lock()
        srv = self

        class Handler(fakehttp.Handler):
            def record(self, body):
                with srv.lock:
                    srv.records.append({"method": self.command,
                                        "headers": dict(self.headers),
                                        "body": body})

            def sse_start(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()

            def sse(self, obj, eid=None, retry=None):
                out = ""
                if retry is not None:
                    out += "retry: %d\n" % retry
                if eid:
                    out += "id: %s\n" % eid
                out += "data: %s\n\n" % json.dumps(obj)
                self.wfile.write(out.encode())
                self.wfile.flush()

            def check_session(self):
                sid = self.headers.get("Mcp-Session-Id")
                if not sid:
                    self.send_json(400, {"error": "missing session"})
                    return False
                if sid not in srv.sessions:
                    self.send_json(404, {"error": "unknown session"})
                    return False
                return True

            def do_DELETE(self):
                self.record(None)
                with srv.lock:
                    srv.sessions.discard(self.headers.get("Mcp-Session-Id"))
                self.send_json(200, None)

            def do_GET(self):
                self.record(None)
                last = self.headers.get("Last-Event-ID")
                if not last and srv.offer_get and self.check_session():
                    self.sse_start()
                    self.wfile.write(("id: %s\nretry: 200\ndata: \n\n"
                                      % uuid.uuid4().hex).encode())
                    self.wfile.flush()
                    q = queue.Queue()
                    with srv.lock:
                        srv.get_queues.append(q)
                    start, notified = time.time(), False
                    try:
                        while time.time() < start + srv.get_hold:
                            if not notified and time.time() > start + .5:
                                notified = True
                                self.sse({"jsonrpc": "2.0", "method":
                                          "notifications/tools/"
                                          "list_changed"},
                                         eid=uuid.uuid4().hex)
                            try:
                                self.sse(q.get(timeout=0.05),
                                         eid=uuid.uuid4().hex)
                            except queue.Empty:
                                pass
                    except OSError:
                        pass
                    finally:
                        with srv.lock:
                            srv.get_queues.remove(q)
                    return
                if not last or not self.check_session():
                    if not last:
                        self.send_json(405, None)
                    return
                with srv.lock:
                    msg = srv.held.pop(last, None)
                self.sse_start()
                if msg:
                    self.sse(msg, eid=last + "-2")

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                try:
                    msg = json.loads(self.rfile.read(n))
                except ValueError:
                    msg = None
                self.record(msg)
                acc = self.headers.get("Accept", "")
                if ("application/json" not in acc
                        or "text/event-stream" not in acc):
                    return self.send_json(406, {"error": "bad Accept"})
                if not isinstance(msg, dict):
                    return self.send_json(400, {"error": "bad body"})
                method = msg.get("method")
                if method == "initialize":
                    sid = uuid.uuid4().hex
                    with srv.lock:
                        srv.sessions.add(sid)
                    want = msg["params"]["protocolVersion"]
                    ver = want if want in VERSIONS else VERSIONS[-1]
                    return self.send_json(200, {
                        "jsonrpc": "2.0", "id": msg["id"],
                        "result": {"protocolVersion": ver,
                                   "capabilities": {"tools": {}},
                                   "serverInfo": {"name": "test-http",
                                                  "version": "1"}}},
                        {"Mcp-Session-Id": sid})
                if not self.check_session():
                    return
                if self.headers.get("MCP-Protocol-Version") not in VERSIONS:
                    return self.send_json(400, {"error": "bad version"})
                if method is None and "id" in msg:
                    with srv.answered:
                        srv.answers[msg["id"]] = msg
                        srv.answered.notify_all()
                    return self.send_json(202, None)
                if method is None or "id" not in msg:
                    return self.send_json(202, None)
                rid = msg["id"]
                if method == "tools/list":
                    cur = (msg.get("params") or {}).get("cursor")
                    res = ({"tools": TOOLS_P2} if cur == "p2" else
                           {"tools": TOOLS_P1, "nextCursor": "p2"})
                    return self.send_json(200, {"jsonrpc": "2.0", "id": rid,
                                                "result": res})
                if method == "ping":
                    return self.send_json(200, {"jsonrpc": "2.0", "id": rid,
                                                "result": {}})
                if method != "tools/call":
                    return self.send_json(200, {
                        "jsonrpc": "2.0", "id": rid,
                        "error": {"code": -32601, "message": "no method"}})
                name = msg["params"]["name"]
                args = msg["params"].get("arguments") or {}
                if name == "echo":
                    return self.send_json(200, {
                        "jsonrpc": "2.0", "id": rid,
                        "result": {"content": [{"type": "text",
                                                "text": "echo: " +
                                                str(args.get("text"))}]}})
                if name in ("ask", "ask_get"):
                    qid = "elicit-" + uuid.uuid4().hex[:8]
                    req = {"jsonrpc": "2.0", "id": qid,
                           "method": "elicitation/create",
                           "params": {"message": "Where to?",
                                      "requestedSchema": ASK_SCHEMA}}
                    self.sse_start()
                    if name == "ask":
                        self.sse(req, eid=uuid.uuid4().hex)
                    elif not srv.push_get(req):
                        self.sse({"jsonrpc": "2.0", "id": rid, "error": {
                            "code": -32603, "message": "no GET stream"}})
                        return
                    ans = srv.wait_answer(qid, 30)
                    text = "answer: " + json.dumps(
                        ans.get("result", ans.get("error"))
                        if ans else None, sort_keys=True)
                    try:
                        self.sse({"jsonrpc": "2.0", "id": rid, "result": {
                            "content": [{"type": "text", "text": text}]}})
                    except OSError:
                        pass
                    return
                if name == "slow":
                    time.sleep(3)
                    try:
                        self.send_json(200, {
                            "jsonrpc": "2.0", "id": rid,
                            "result": {"content": [{"type": "text",
                                                    "text": "late"}]}})
                    except OSError:
                        pass  # the client gave up, as the test wants
                    return
                result = {"jsonrpc": "2.0", "id": rid, "result": {
                    "content": [
                        {"type": "image", "data": "iVBORw0KGgo=",
                         "mimeType": "image/png"},
                        {"type": "resource", "resource": {
                            "uri": "file:///notes.txt",
                            "mimeType": "text/plain",
                            "text": "resource text"}}]}}
                self.sse_start()
                if name == "picture":
                    self.sse({"jsonrpc": "2.0", "id": "srv-ping-1",
                              "method": "ping"})
                    self.sse(result)
                    return
                # resumable: an event with an id, then the stream breaks
                eid = uuid.uuid4().hex
                with srv.lock:
                    srv.held[eid] = dict(result, result={"content": [
                        {"type": "text", "text": "resumed answer"}]})
                self.sse({"jsonrpc": "2.0", "method":
                          "notifications/message",
                          "params": {"level": "info", "data": "working"}},
                         eid=eid, retry=100)

        self.server = fakehttp.serve(Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/mcp" % self.port

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def push_get(self, msg):
        """Send msg on the open standalone GET stream; False when none."""
        with self.lock:
            if not self.get_queues:
                return False
            self.get_queues[-1].put(msg)
            return True

    def wait_answer(self, qid, timeout):
        with self.answered:
            self.answered.wait_for(lambda: qid in self.answers, timeout)
            return self.answers.get(qid)

    def bodies(self, method=None):
        with self.lock:
            return [r["body"] for r in self.records
                    if isinstance(r["body"], dict)
                    and (method is None or r["body"].get("method") == method)]


if __name__ == "__main__":
    s = MCPHTTPServer()
    print(s.url, flush=True)
    threading.Event().wait()
