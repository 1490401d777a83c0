"""The chat relay against a scripted edge (label pg, no Docker): the
control plane (PostgreSQL) with a base domain, a fake node of the agent
API (cli/fakenode.py) that advertises the edge address of a local HTTP
server standing in for its Caddy and the tenant's gateway. The real
stack is tests/integration/e2e/test_chat_relay_e2e.py; this one proves
what the real gateway cannot be made to do on cue:

- what the relay sends: the tenant's public host as Host, its
  openai_api_token as the bearer token, the request id, the body as it
  came;
- a stream relayed chunk by chunk: the second chunk is held back by the
  fake until the test has read the first one through the relay (a relay
  that buffered the whole answer would never deliver it);
- a stream broken off after its 200 ends with a chat_upstream event;
- the gateway's refusals in the API's error shape: 400 bad_request, 404
  and 422 invalid_field, 413 body_too_large, 429 rate_limited with its
  Retry-After, 401 and 5xx as 502 chat_upstream, streamed or not;
- the control plane exits clean (no sanitizer report, no leak).
"""

import http.client
import json
import os
import secrets
import sys
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "cli")))
from clawtest.cp import ControlPlane  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from fakenode import FakeNode  # noqa: E402

BASE = "relay.test"
TOKEN = "sk-relay-" + secrets.token_hex(8)


def chunk(text):
    return ("data: " + json.dumps({
        "object": "chat.completion.chunk", "choices": [
            {"index": 0, "delta": {"content": text}}]}) + "\n\n").encode()


class FakeEdge(BaseHTTPRequestHandler):
    """The node's edge and the tenant's gateway in one: answers by the
    first message's content."""
    protocol_version = "HTTP/1.1"
    seen = []                   # (method, path, headers, body)
    release = threading.Event()  # lets the held stream go on

    def log_message(self, *a):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        FakeEdge.seen.append(("GET", self.path, dict(self.headers), b""))
        self.reply(200, json.dumps({"object": "list", "data": [
            {"id": "claw", "object": "model"}]}).encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        FakeEdge.seen.append(("POST", self.path, dict(self.headers), body))
        what = json.loads(body)["messages"][0]["content"]
        if what.startswith("status "):
            status = int(what.split()[1])
            self.reply(status, json.dumps({"error": {
                "message": "fake says %d" % status, "type": "x",
                "code": "y"}}).encode(),
                [("Retry-After", "7")] if status == 429 else [])
            return
        if what in ("hold", "break"):
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            if what == "break":  # ends before its length: broken
                self.send_header("Content-Length", "100000")
            else:  # the body ends when the connection does
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(chunk("first"))
            self.wfile.flush()
            if what == "break":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            FakeEdge.release.wait(60)
            rest = chunk("second") + b"data: [DONE]\n\n"
            self.wfile.write(rest)
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.reply(200, json.dumps({"object": "chat.completion", "choices": [
            {"index": 0, "message": {"role": "assistant",
                                     "content": "echo: " + what}}]})
                   .encode())


class ChatRelayFake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        cls.edge = ThreadingHTTPServer(("127.0.0.1", 0), FakeEdge)
        cls.edge.daemon_threads = True
        threading.Thread(target=cls.edge.serve_forever, daemon=True).start()
        cls.cp = ControlPlane(database_url=cls.pg.create_database(
            "chatfake"), extra_args=["--base-domain", BASE,
                                     "--heartbeat-ms", "500"]).start()
        cls.admin = cls.cp.client()
        r = cls.admin.post("/v1/nodes/join-tokens", {"ttl_s": 600})
        cls.node = FakeNode(cls.cp.url, r.json()["token"], "fake-edge",
                            edge_address="127.0.0.1:%d" %
                            cls.edge.server_address[1])
        cls.stop = cls.node.autopilot()
        cls.slug = "fake"
        assert cls.admin.post("/v1/tenants", {"slug": cls.slug,
                                              "name": "F"}).status == 201
        r = cls.admin.put("/v1/tenants/fake/secrets/openai_api_token",
                          {"value": TOKEN + "\n"})
        assert r.status == 201, r
        r = cls.admin.post("/v1/tenants/fake/deploy", {
            "gateway_image": "registry.test/gw:1",
            "runtime_image": "registry.test/rt:1",
            "gateway_config": {"tenant": "fake",
                               "channels": {"openai": {}}}})
        assert r.status == 202, r
        for _ in range(300):
            if cls.admin.get("/v1/tenants/fake/placement").json().get(
                    "node_name") == "fake-edge":
                break
            threading.Event().wait(0.1)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stop.set()
            cls.cp.stop_clean()
        finally:
            cls.edge.shutdown()
            cls.pg.stop()

    def post(self, text, stream=False):
        return self.admin.post("/v1/tenants/fake/chat/completions", {
            "model": "claw", "stream": stream,
            "messages": [{"role": "user", "content": text}]})

    def open_stream(self, text):
        u = urlparse(self.cp.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        conn.request("POST", "/v1/tenants/fake/chat/completions",
                     json.dumps({"model": "claw", "stream": True,
                                 "messages": [{"role": "user",
                                               "content": text}]}),
                     {"Authorization": "Bearer " + self.cp.admin_token,
                      "Content-Type": "application/json"})
        return conn, conn.getresponse()

    @staticmethod
    def next_data(resp):
        while True:
            line = resp.fp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\r\n")
            if line.startswith("data: "):
                return line[6:]

    def test_what_the_relay_sends(self):
        FakeEdge.seen.clear()
        r = self.admin.get("/v1/tenants/fake/chat/models")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["data"][0]["id"], "claw")
        r = self.post("hi")
        self.assertEqual(r.status, 200, r.text)
        self.assertEqual(r.json()["choices"][0]["message"]["content"],
                         "echo: hi")
        (m1, p1, h1, _), (m2, p2, h2, b2) = FakeEdge.seen
        self.assertEqual((m1, p1, m2, p2), ("GET", "/v1/models", "POST",
                                            "/v1/chat/completions"))
        for h in (h1, h2):
            self.assertEqual(h["Host"], "fake." + BASE)
            # the stored value's trailing newline is not part of it
            self.assertEqual(h["Authorization"], "Bearer " + TOKEN)
        self.assertEqual(h2["X-Request-Id"], r.headers["X-Request-Id"])
        self.assertEqual(json.loads(b2)["messages"][0]["content"], "hi")
        self.assertNotIn(TOKEN, r.text)
        self.assertNotIn(TOKEN, self.admin.get(
            "/v1/audit?tenant=fake&limit=1000").text)

    def test_stream_is_relayed_chunk_by_chunk(self):
        FakeEdge.release.clear()
        conn, resp = self.open_stream("hold")
        try:
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.getheader("Content-Type")
                            .startswith("text/event-stream"))
            # the fake holds its second chunk until this one is read
            first = json.loads(self.next_data(resp))
            self.assertEqual(first["choices"][0]["delta"]["content"],
                             "first")
            FakeEdge.release.set()
            second = json.loads(self.next_data(resp))
            self.assertEqual(second["choices"][0]["delta"]["content"],
                             "second")
            self.assertEqual(self.next_data(resp), "[DONE]")
        finally:
            FakeEdge.release.set()
            conn.close()

    def test_stream_broken_off(self):
        conn, resp = self.open_stream("break")
        try:
            self.assertEqual(resp.status, 200)
            self.assertIn("first", self.next_data(resp))
            last = json.loads(self.next_data(resp))
            self.assertEqual(last["error"]["code"], "chat_upstream")
            self.assertIsNone(self.next_data(resp))
        finally:
            conn.close()

    def test_gateway_refusals_in_the_api_shape(self):
        want = {400: (400, "bad_request"), 404: (422, "invalid_field"),
                422: (422, "invalid_field"), 413: (413, "body_too_large"),
                429: (429, "rate_limited"), 401: (502, "chat_upstream"),
                500: (502, "chat_upstream"), 503: (502, "chat_upstream")}
        for upstream, (status, code) in want.items():
            for stream in (False, True):
                r = self.post("status %d" % upstream, stream)
                what = "%d stream=%s: %s" % (upstream, stream, r.text)
                self.assertEqual(r.status, status, what)
                e = r.json()["error"]
                self.assertEqual(e["code"], code, what)
                self.assertEqual(e["request_id"], r.headers["X-Request-Id"])
                if upstream not in (401,):
                    self.assertIn("fake says %d" % upstream, e["message"])
                if upstream == 429:
                    self.assertEqual(r.headers["Retry-After"], "7")

    def test_bodies_refused_before_any_call(self):
        FakeEdge.seen.clear()
        for body, ctype in (("[1]", "application/json"),
                            ("{", "application/json"),
                            ("", "application/json"),
                            ('{"a":1}', "text/plain")):
            r = self.admin.request("POST",
                                   "/v1/tenants/fake/chat/completions",
                                   body, {"Content-Type": ctype})
            self.assertIn(r.status, (400, 415, 422), r.text)
        self.assertEqual(FakeEdge.seen, [])


if __name__ == "__main__":
    unittest.main()
