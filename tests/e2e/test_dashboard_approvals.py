"""End to end: the dashboard's Approvals view (approvals.mjs) in Debian's
chromium against a real claw-controlplane serving web/ on a real
PostgreSQL, with a fake node (tests/integration/cli/fakenode.py) whose
FakeApprovals plays the tenant's runtime: the pending request listed with
its redacted arguments, approved with a reason through the prompt, gone
from the list, the second decision refused (409). Then, through the API:
the decision reached the runtime as the admin's and the audit row holds
the reason. Screenshot: $CLAW_BUILD_DIR/e2e-shots/approvals.png.

Needs chromium, node and tests/e2e/node_modules (as test_dashboard.py);
skipped (exit 77) without them."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "cli"))
from clawtest.cp import with_pg  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from fakenode import FakeApprovals, FakeNode  # noqa: E402
from test_dashboard import browser_steps, missing  # noqa: E402

SLUG = "dash-apr"
AID = "apr_dash0000000000000000001"


class DashboardApprovals(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg("dashapr", ["--heartbeat-ms", "500"])
        admin = cls.cp.client()
        jt = admin.post("/v1/nodes/join-tokens", {}).json()
        cls.node = FakeNode(cls.cp.url, jt["token"], "dash-apr-node")
        cls.runtimes = FakeApprovals()
        cls.node.rpc_handler = cls.runtimes
        cls.autopilot = cls.node.autopilot(interval=0.1)
        assert admin.post("/v1/tenants", {"slug": SLUG,
                                          "name": "D"}).status == 201
        assert admin.post("/v1/tenants/%s/deploy" % SLUG, {
            "gateway_image": "registry.test/gw:1",
            "runtime_image": "registry.test/rt:1"}).status == 202
        wait_for(lambda: admin.get("/v1/tenants/%s/placement" % SLUG)
                 .json().get("node_name") == "dash-apr-node", timeout=60,
                 what="tenant placed")
        cls.runtimes.add(SLUG, AID)

    @classmethod
    def tearDownClass(cls):
        cls.autopilot.set()
        try:
            cls.cp.stop_clean()
        finally:
            cls.pg.stop()

    def test_approve_in_the_browser(self):
        browser_steps(self, "approvals.mjs", self.cp, SLUG, AID,
                      timeout=300)
        rec = self.runtimes.recs[SLUG][AID]
        self.assertEqual(rec["state"], "approved")
        self.assertTrue(rec["decided_by"].startswith("admin tok_"), rec)
        rows = self.cp.client().get(
            "/v1/audit?action=approval.decide&limit=10").json()["items"]
        self.assertIn("checked by e2e",
                      [(a["details"] or {}).get("reason") for a in rows])


if __name__ == "__main__":
    why = missing()
    if why:
        print("skipped: needs " + why)
        sys.exit(77)
    unittest.main()
