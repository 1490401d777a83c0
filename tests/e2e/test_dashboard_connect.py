"""End to end: the dashboard's OAuth "Connect" of a tenant's remote MCP
server (issue 13: "the operator clicks connect in the dashboard"), in
Debian's chromium (connect.mjs) against a real claw-controlplane on a real
PostgreSQL serving web/, a fake node (tests/integration/cli/fakenode.py)
and the runtime tests' local OAuth server (protected resource metadata,
authorization server metadata, client registration, an authorization
endpoint that approves without a user, the token endpoint). The tenant's
tools resource names the server with oauth and a deploy composes it; in
the browser the Tools tab's Connect opens the authorization in a window
of its own, which ends on the control plane's callback; the tab says it
is connected. Then, through the API: the grant is the tenant's secret
remote_grant, and the token endpoint was called with PKCE's verifier.

Needs chromium, node and tests/e2e/node_modules (as test_dashboard.py);
skipped (exit 77) without them."""

import importlib.util
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "cli"))
from clawtest.cp import ControlPlane  # noqa: E402
from clawtest.http import free_port  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from fakenode import FakeNode  # noqa: E402
from test_dashboard import browser_steps, missing  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "rt_oauth_fake", os.path.join(HERE, "..", "integration", "runtime",
                                  "test_oauth.py"))
_rt = importlib.util.module_from_spec(_spec)
sys.path.insert(0, os.path.join(HERE, "..", "integration", "runtime"))
_spec.loader.exec_module(_rt)

SLUG = "dash-oauth"


class DashboardConnect(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        port = free_port()
        cls.cp = ControlPlane(database_url=cls.pg.create_database(
            "dashoauth"), extra_args=[
            "--listen", "127.0.0.1:%d" % port,
            "--public-url", "http://127.0.0.1:%d/" % port,
            "--oauth-allow-http-loopback", "true",
            "--heartbeat-ms", "500"]).start()
        cls.srv = _rt.Server()
        admin = cls.cp.client()
        jt = admin.post("/v1/nodes/join-tokens", {}).json()
        cls.node = FakeNode(cls.cp.url, jt["token"], "dash-oauth-node")
        cls.autopilot = cls.node.autopilot(interval=0.1)
        assert admin.post("/v1/tenants", {"slug": SLUG,
                                          "name": "D"}).status == 201
        r = admin.put("/v1/tenants/%s/tools" % SLUG, {"servers": [
            {"name": "remote", "url": cls.srv.url + "/mcp",
             "oauth": {"token_secret": "remote_grant"}}]})
        assert r.status == 200, r
        assert admin.post("/v1/tenants/%s/deploy" % SLUG, {
            "gateway_image": "registry.test/gw:1",
            "runtime_image": "registry.test/rt:1"}).status == 202
        wait_for(lambda: admin.get("/v1/tenants/%s/placement" % SLUG)
                 .json().get("phase") == "healthy", timeout=60,
                 what="tenant deployed")

    @classmethod
    def tearDownClass(cls):
        cls.autopilot.set()
        cls.srv.close()
        try:
            cls.cp.stop_clean()
        finally:
            cls.pg.stop()

    def test_connect_in_the_browser(self):
        browser_steps(self, "connect.mjs", self.cp, SLUG, "remote",
                      timeout=300)
        names = [s["name"] for s in self.cp.client().get(
            "/v1/tenants/%s/secrets" % SLUG).json()["items"]]
        self.assertIn("remote_grant", names)
        tok = self.srv.posts("/token")
        self.assertTrue(tok and tok[-1].get("code_verifier"), tok)


if __name__ == "__main__":
    why = missing()
    if why:
        print("skipped: needs " + why)
        sys.exit(77)
    unittest.main()
