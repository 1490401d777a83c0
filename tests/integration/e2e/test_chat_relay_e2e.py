"""The chat relay end to end (issue 12, points 5 and 7: clawctl chat and
the dashboard's Try it panel): GET /v1/tenants/{t}/chat/models and POST
/v1/tenants/{t}/chat/completions, streamed and not, through a real
control plane (PostgreSQL), a real node agent with its real Caddy edge,
and the project's own gateway and runtime images with the scripted LLM
(edgestack.py), on a real Docker engine.

Proves: the relay answers with the gateway's own answer (the scripted
LLM's "echo: TEXT"); a stream arrives as the gateway's chunks and ends
with [DONE]; admin, operator and the tenant's own token may, another
tenant's token gets 404, an auditor 403, no token 401; 409 not_running,
chat_no_openai, chat_no_token and chat_no_edge (no base domain; a node
without an edge address) before any call; 502 chat_upstream when
the edge is not reached; the tenant's openai_api_token is in no reply,
no audit row and no line of the control plane's log, and each call is
one secret.release audit row with the target tenants/SLUG/chat and no
message content.
"""

import http.client
import json
import os
import secrets
import sys
import unittest
from urllib.parse import urlparse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "cli")))
from edgestack import CHAT_TOKEN, EdgeStack  # noqa: E402
from fakenode import FakeNode  # noqa: E402


def chat_body(text, stream=False):
    return {"model": "claw", "user": "relay-" + secrets.token_hex(3),
            "stream": stream,
            "messages": [{"role": "user", "content": text}]}


class ChatRelayEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = EdgeStack(drain_ms=300)
        try:
            cls.slug = cls.st.tenant()
            cp = cls.st.fleet.cp
            cls.tokens = {"admin": cp.admin_token,
                          "operator": cp.new_token("operator")[1],
                          "auditor": cp.new_token("auditor")[1],
                          "own": cp.new_token("tenant", tenant=cls.slug)[1]}
            other = "other-" + secrets.token_hex(3)
            cls.st.fleet.tenant(other)
            cls.tokens["other"] = cp.new_token("tenant", tenant=other)[1]
        except BaseException:
            cls.st.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cp = cls.st.fleet.cp
        try:
            rc = cp.daemon.stop()
            log = cp.daemon.log_text()
        finally:
            cls.st.close()
        # the relay's threads and buffers: the control plane exits clean
        # (ASan/UBSan report nothing)
        assert rc == 0 and "Sanitizer" not in log and \
            "runtime error:" not in log, log[-4000:]

    def client(self, who):
        return self.st.fleet.client(self.tokens[who])

    def path(self, slug, what):
        return "/v1/tenants/%s/chat/%s" % (slug, what)

    def refused(self, r, status, code):
        self.assertEqual(r.status, status, r.text)
        self.assertEqual(r.json()["error"]["code"], code, r.text)
        self.assertNotIn(CHAT_TOKEN, r.text)

    def stream(self, who, slug, body):
        """POST a streamed chat: (status, content type, [data lines])
        read line by line as they come."""
        u = urlparse(self.st.fleet.cp.url)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        conn.request("POST", self.path(slug, "completions"),
                     json.dumps(body),
                     {"Authorization": "Bearer " + self.tokens[who],
                      "Content-Type": "application/json"})
        resp = conn.getresponse()
        data = []
        try:
            if resp.status != 200:
                return resp.status, resp.getheader("Content-Type"), \
                    [resp.read().decode()]
            while True:
                line = resp.fp.readline()
                if not line:
                    break
                line = line.decode().rstrip("\r\n")
                if line.startswith("data: "):
                    data.append(line[6:])
            return resp.status, resp.getheader("Content-Type"), data
        finally:
            conn.close()

    # ------------------------------------------------------ the allowed
    def test_models(self):
        r = self.client("admin").get(self.path(self.slug, "models"))
        self.assertEqual(r.status, 200, r.text)
        j = r.json()
        self.assertEqual(j["object"], "list")
        self.assertTrue(j["data"] and all("id" in m for m in j["data"]))

    def test_completion_each_allowed_role(self):
        for who in ("admin", "operator", "own"):
            text = "hello from " + who
            r = self.client(who).post(self.path(self.slug, "completions"),
                                      chat_body(text))
            self.assertEqual(r.status, 200, "%s: %s" % (who, r.text))
            self.assertEqual(r.json()["choices"][0]["message"]["content"],
                             "echo: " + text)

    def test_streamed_completion(self):
        status, ctype, data = self.stream("operator", self.slug,
                                          chat_body("streamed", True))
        self.assertEqual(status, 200, data)
        self.assertTrue(ctype.startswith("text/event-stream"), ctype)
        self.assertEqual(data[-1], "[DONE]")
        chunks = [json.loads(d) for d in data[:-1]]
        self.assertTrue(chunks)
        self.assertTrue(all(c["object"] == "chat.completion.chunk"
                            for c in chunks))
        text = "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in chunks if c["choices"])
        self.assertEqual(text, "echo: streamed")

    # ------------------------------------------------------ the denials
    def test_denials(self):
        for path, body in ((self.path(self.slug, "models"), None),
                           (self.path(self.slug, "completions"),
                            chat_body("nope"))):
            method = "POST" if body else "GET"
            r = self.client("other").request(method, path, body)
            self.refused(r, 404, "tenant_not_found")
            r = self.client("auditor").request(method, path, body)
            self.refused(r, 403, "forbidden")
            r = self.st.fleet.client("").request(method, path, body)
            self.assertEqual(r.status, 401, r.text)
        status, _, data = self.stream("other", self.slug,
                                      chat_body("nope", True))
        self.assertEqual(status, 404, data)
        # a body that is not a JSON object is refused before any call
        r = self.client("admin").request(
            "POST", self.path(self.slug, "completions"), "[1]",
            {"Content-Type": "application/json"})
        self.assertEqual(r.status, 400, r.text)

    # ------------------------------------------------------ the 409s
    def test_not_running(self):
        slug = "idle-" + secrets.token_hex(3)
        self.st.fleet.tenant(slug)
        self.refused(self.client("admin").get(self.path(slug, "models")),
                     409, "not_running")

    def deploy_quickly(self, slug, openai, token):
        """Deploy slug (not waiting for health) with or without the
        openai channel and its token; until it is placed on the node."""
        st = self.st
        st.fleet.tenant(slug)
        names = [("llm_api_key", st.llm_key)]
        if token:
            names.append(("openai_api_token", CHAT_TOKEN))
        for name, value in names:
            r = st.fleet.admin.put("/v1/tenants/%s/secrets/%s" %
                                   (slug, name), {"value": value})
            self.assertEqual(r.status, 201, r.text)
        body = st.body(slug)
        if not openai:
            body["gateway_config"]["channels"] = {
                "openai": {"enabled": False}}
            body["secrets"]["gateway"] = []
        st.fleet.deploy(slug, body)
        st.fleet.wait(lambda: st.fleet.placement(slug).get("node_name"),
                      60, "%s placed" % slug)

    def test_no_openai_channel(self):
        slug = "mute-" + secrets.token_hex(3)
        self.deploy_quickly(slug, openai=False, token=False)
        self.refused(self.client("admin").post(
            self.path(slug, "completions"), chat_body("hi")),
            409, "chat_no_openai")

    def test_no_token(self):
        slug = "keyless-" + secrets.token_hex(3)
        self.deploy_quickly(slug, openai=True, token=True)
        # a value that would break the header (or add one) is refused,
        # never sent
        r = self.st.fleet.admin.put(
            "/v1/tenants/%s/secrets/openai_api_token" % slug,
            {"value": "sk-two\r\nX-Injected: 1"})
        self.assertEqual(r.status, 200, r.text)
        r = self.client("admin").get(self.path(slug, "models"))
        self.refused(r, 409, "chat_no_token")
        self.assertIn("not one line", r.json()["error"]["message"])
        self.assertNotIn("X-Injected", r.text)
        r = self.st.fleet.admin.delete(
            "/v1/tenants/%s/secrets/openai_api_token" % slug)
        self.assertIn(r.status, (200, 204), r.text)
        self.refused(self.client("operator").get(self.path(slug, "models")),
                     409, "chat_no_token")

    def test_no_base_domain(self):
        # a control plane without --base-domain: tenants have no public
        # host, so the edge cannot route the relay's call
        from clawtest.cp import ControlPlane
        cp = ControlPlane(database_url=self.st.pg.create_database(
            "chatnoedge" + secrets.token_hex(3))).start()
        try:
            c = cp.client()
            self.assertEqual(c.post("/v1/tenants", {"slug": "plain",
                                                    "name": "plain"}).status,
                             201)
            self.refused(c.get("/v1/tenants/plain/chat/models"), 409,
                         "chat_no_edge")
        finally:
            cp.stop()

    def test_node_without_edge(self):
        # a node that advertises no edge address (no --edge-advertise):
        # the relay has no way to its edge
        st = self.st
        node = FakeNode(st.fleet.cp.url, st.fleet.join_token(),
                        "noedge-" + secrets.token_hex(3))
        stop = node.autopilot()
        slug = "far-" + secrets.token_hex(3)
        st.fleet.admin.post("/v1/nodes/%s/cordon" % st.node.name)
        try:
            self.deploy_quickly(slug, openai=True, token=True)
            self.assertEqual(st.fleet.placement(slug)["node_name"],
                             node.name)
            self.refused(self.client("admin").get(self.path(slug, "models")),
                         409, "chat_no_edge")
        finally:
            st.fleet.admin.post("/v1/nodes/%s/uncordon" % st.node.name)
            st.fleet.admin.post("/v1/nodes/%s/cordon" % node.name)
            st.fleet.admin.delete("/v1/tenants/" + slug)
            stop.set()

    # ------------------------------------------------------ the secret
    def test_token_never_echoed_logged_or_audited(self):
        text = "secret-free-" + secrets.token_hex(4)
        r = self.client("admin").post(self.path(self.slug, "completions"),
                                      chat_body(text))
        self.assertEqual(r.status, 200, r.text)
        self.assertNotIn(CHAT_TOKEN, r.text)
        rows = self.st.fleet.admin.get(
            "/v1/audit?tenant=%s&limit=500" % self.slug)
        self.assertEqual(rows.status, 200, rows.text)
        self.assertNotIn(CHAT_TOKEN, rows.text)
        self.assertNotIn(text, rows.text)
        chat_rows = [a for a in rows.json()["items"]
                     if a.get("target") == "tenants/%s/chat" % self.slug]
        self.assertTrue(chat_rows)
        self.assertTrue(all(a["action"] == "secret.release"
                            for a in chat_rows))
        self.assertNotIn(CHAT_TOKEN, self.st.fleet.cp.daemon.log_text())

    # ------------------------------------------------------ upstream
    def test_zz_edge_not_reached(self):
        # last (its name): the node's Caddy is gone for the rest
        self.st.node.caddy.kill()
        r = self.client("admin").post(self.path(self.slug, "completions"),
                                      chat_body("anyone?"))
        self.refused(r, 502, "chat_upstream")
        status, _, data = self.stream("admin", self.slug,
                                      chat_body("anyone?", True))
        self.assertEqual(status, 502, data)
        self.assertEqual(json.loads(data[0])["error"]["code"],
                         "chat_upstream")


if __name__ == "__main__":
    unittest.main()
