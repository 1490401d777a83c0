"""End to end: the dashboard in a real browser (Debian's chromium, driven by
playwright-core from tests/e2e/node_modules) against a real
claw-controlplane serving web/, with a real PostgreSQL (clawtest).

The browser steps are in dashboard.mjs: sign in with a pasted token, create
a tenant and see it listed, define a plan on the Plans page, set the
tenant's bounds with its form (plan, egress, self-pause, node labels,
channel base URLs), set a secret whose value never shows, deploy it with
one click and watch its progress to healthy, suspend and resume it,
redeploy it with a git workspace (resolving shown, then the pinned commit),
see the node, see the audit rows and verify the chain (and how a failed checkpoint
is shown). The node is played by this test through the agent API
(tests/integration/cli/fakenode.py). This test then checks through the API
that what the browser did really happened. Screenshots (tenants, plans,
bounds, tenant, deployed, resolved, nodes, audit, audit-checkpoint, tokens) are left
in $CLAW_BUILD_DIR/e2e-shots/.

Needs: apt-get install chromium; (cd tests/e2e && npm ci). Without them the
test is skipped (exit 77, reported as not run) naming what is missing.
"""

import os
import shutil
import subprocess
import sys
import tempfile
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
            "localhost/claw-gw:e2e", "localhost/claw-rt:e2e") + [
            "--workspace-allow-local", "true"])
        cls.tmp = tempfile.TemporaryDirectory()
        cls.ws_repo = os.path.join(cls.tmp.name, "ws")
        os.makedirs(cls.ws_repo)

        def git(*a):
            return subprocess.run(
                ["git", "-C", cls.ws_repo, "-c", "user.name=t", "-c",
                 "user.email=t@t"] + list(a), check=True,
                capture_output=True, text=True).stdout.strip()
        git("init", "-q", "-b", "main")
        with open(os.path.join(cls.ws_repo, "SOUL.md"), "w") as f:
            f.write("soul\n")
        git("add", "SOUL.md")
        git("commit", "-q", "-m", "one")
        cls.ws_commit = git("rev-parse", "HEAD")
        jt = cls.cp.client().post("/v1/nodes/join-tokens", {}).json()
        cls.node = FakeNode(cls.cp.url, jt["token"], "e2e-node")
        cls.autopilot = cls.node.autopilot()

    @classmethod
    def tearDownClass(cls):
        cls.autopilot.set()
        cls.cp.stop()
        cls.pg.stop()
        cls.tmp.cleanup()

    def test_sign_in_create_tenant_audit(self):
        shots = os.path.join(os.environ.get("CLAW_BUILD_DIR", "/tmp"),
                             "e2e-shots")
        os.makedirs(shots, exist_ok=True)
        token_file = os.path.join(self.cp.data_dir, "admin.token")
        env = dict(os.environ, E2E_WS_REPO=self.ws_repo,
                   E2E_WS_COMMIT=self.ws_commit)
        r = subprocess.run(["node", os.path.join(HERE, "dashboard.mjs"),
                            self.cp.url, token_file, shots],
                           cwd=HERE, capture_output=True, text=True,
                           timeout=300, env=env)
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
        # the plan and the bounds set in the browser
        plans = [p for p in admin.get("/v1/plans").json()["items"]
                 if p["name"].startswith("e2e-plan-")]
        self.assertEqual([(p["cpus_milli"], p["memory_mb"], p["pids"],
                           p["disk_mb"]) for p in plans],
                         [(500, 256, 128, 1024)])
        t = e2e[0]
        self.assertEqual((t["plan"], t["egress_allow"], t["self_pause"],
                          t["node_labels"], t["api_base_allow"]),
                         (plans[0]["name"],
                          ["api.example.com:443", "*.mcp.example.com:443"],
                          True, {"zone": ["a", "b"]},
                          ["https://chat.example.com"]))
        for shot in ("plans", "bounds", "resolved", "audit-checkpoint"):
            self.assertTrue(os.path.getsize(os.path.join(
                shots, shot + ".png")) > 0, shot)
        secrets = admin.get("/v1/tenants/%s/secrets" % e2e[0]["id"]).json()
        self.assertEqual([s["name"] for s in secrets["items"]],
                         ["OPENAI_API_KEY"])
        actions = [a["action"] for a in admin.get(
            "/v1/audit?tenant=%s" % e2e[0]["id"]).json()["items"]]
        for a in ("tenant.create", "tenant.update", "secret.put", "deploy",
                  "tenant.suspend", "tenant.resume"):
            self.assertIn(a, actions)
        deps = admin.get("/v1/tenants/%s/deployments" %
                         e2e[0]["id"]).json()["items"]
        self.assertEqual([d["phase"] for d in deps], ["healthy", "healthy"])
        self.assertEqual(deps[0]["spec"]["workspace"]["commit"],
                         self.ws_commit)
        self.assertTrue(admin.get("/v1/audit/verify").json()["ok"])
        self.assertNotIn("never-shown", self.cp.daemon.log_text())


if __name__ == "__main__":
    why = missing()
    if why:
        print("skipped: the dashboard e2e test needs %s" % why)
        sys.exit(77)
    unittest.main(verbosity=2)
