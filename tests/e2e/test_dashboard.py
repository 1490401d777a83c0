"""End to end: the dashboard in a real browser (Debian's chromium, driven by
playwright-core from tests/e2e/node_modules) against a real
claw-controlplane serving web/, with a real PostgreSQL (clawtest).

The browser steps are in dashboard.mjs: sign in with a pasted token, create
a tenant and see it listed, set a secret whose value never shows, deploy it
with one click and watch its progress to healthy, suspend and resume it,
see the node, see the audit rows and verify the chain. The node is played
by this test through the agent API (tests/integration/cli/fakenode.py). This
test then checks through the API that what the browser did really
happened. Screenshots are left in $CLAW_BUILD_DIR/e2e-shots/.

Needs: apt-get install chromium; (cd tests/e2e && npm ci). Without them the
test is skipped (exit 77, reported as not run) naming what is missing.
"""

import os
import shutil
import subprocess
import sys
import unittest

from clawtest.cp import default_image_args, with_pg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def missing():
    if not os.access(CHROMIUM, os.X_OK):
        return "chromium (apt-get install chromium)"
    if not shutil.which("node"):
        return "node (apt-get install nodejs)"
    if not os.path.isdir(os.path.join(HERE, "node_modules",
                                      "playwright-core")):
        return "playwright-core (cd tests/e2e && npm ci)"
    return None


class DashboardE2E(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg("e2e", default_image_args(
            "localhost/claw-gw:e2e", "localhost/claw-rt:e2e"))
        jt = cls.cp.client().post("/v1/nodes/join-tokens", {}).json()
        cls.node = FakeNode(cls.cp.url, jt["token"], "e2e-node")
        cls.autopilot = cls.node.autopilot()

    @classmethod
    def tearDownClass(cls):
        cls.autopilot.set()
        cls.cp.stop()
        cls.pg.stop()

    def test_sign_in_create_tenant_audit(self):
        shots = os.path.join(os.environ.get("CLAW_BUILD_DIR", "/tmp"),
                             "e2e-shots")
        os.makedirs(shots, exist_ok=True)
        token_file = os.path.join(self.cp.data_dir, "admin.token")
        r = subprocess.run(["node", os.path.join(HERE, "dashboard.mjs"),
                            self.cp.url, token_file, shots],
                           cwd=HERE, capture_output=True, text=True,
                           timeout=300)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        self.assertEqual(r.returncode, 0, "browser steps failed (see "
                         "above and %s/failure.png)" % shots)
        # What the browser did is in the store: one e2e tenant, one secret,
        # and their audit rows in an intact chain.
        admin = self.cp.client()
        items = admin.get("/v1/tenants").json()["items"]
        e2e = [t for t in items if t["slug"].startswith("e2e-")]
        self.assertEqual(len(e2e), 1, items)
        self.assertEqual(e2e[0]["name"], "E2E Corp")
        secrets = admin.get("/v1/tenants/%s/secrets" % e2e[0]["id"]).json()
        self.assertEqual([s["name"] for s in secrets["items"]],
                         ["OPENAI_API_KEY"])
        actions = [a["action"] for a in admin.get(
            "/v1/audit?tenant=%s" % e2e[0]["id"]).json()["items"]]
        for a in ("tenant.create", "secret.put", "deploy",
                  "tenant.suspend", "tenant.resume"):
            self.assertIn(a, actions)
        deps = admin.get("/v1/tenants/%s/deployments" %
                         e2e[0]["id"]).json()["items"]
        self.assertEqual([d["phase"] for d in deps], ["healthy"])
        self.assertTrue(admin.get("/v1/audit/verify").json()["ok"])
        self.assertNotIn("never-shown", self.cp.daemon.log_text())


if __name__ == "__main__":
    why = missing()
    if why:
        print("skipped: the dashboard e2e test needs %s" % why)
        sys.exit(77)
    unittest.main(verbosity=2)
