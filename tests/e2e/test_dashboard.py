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
is shown); the fleet overview, the live events, the log viewer following a
log, a rollout followed to completed, the usage the node reported, plan
quotas, and (answered by the browser test itself with the contract's JSON)
a rollout paused, resumed and aborted, hours of usage, and the chat panel
(its relay is not in this tree yet); the agent setup of a second tenant
(channels, persona, model, tools; docs/dashboard.md "Agent setup"), whose
stored resources check_setup then reads through the API. The control
plane runs with a base domain so tenants have webhook URLs. The node is played by this test
through the agent API (tests/integration/cli/fakenode.py; LogNode below
also serves the log requests it is handed and reports usage). This test then checks through the API that what
the browser did really happened. Screenshots (tenants, plans, bounds,
tenant, deployed, resolved, nodes, overview, events, logs, rollouts,
rollout, rollout-real, usage, usage-fleet, usage-reported, chat,
plans-quotas, audit, audit-checkpoint, tokens, setup-422, channels,
persona, model, tools) are left in
$CLAW_BUILD_DIR/e2e-shots/.

Needs: apt-get install chromium; (cd tests/e2e && npm ci). Without them the
test is skipped (exit 77, reported as not run) naming what is missing.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from clawtest.cp import default_image_args, with_pg

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SHOTS = ("tenants", "plans", "bounds", "tenant", "deployed", "resolved",
         "nodes", "overview", "events", "logs", "rollouts", "rollout",
         "rollout-real",
         "usage", "usage-fleet", "usage-reported", "chat", "plans-quotas",
         "audit", "audit-checkpoint", "tokens",
         "setup-422", "channels", "persona", "model", "tools",
         "tool-servers")


class LogNode(FakeNode):
    """A FakeNode that also serves the log requests its assignments hand
    it, as the agent does: two lines of the container's log, then (when
    followed) a line every 0.3 s until the control plane answers 410 (the
    viewer went away). It reports USAGE for each tenant once, when the
    tenant first turns healthy, and each channel its gateway config
    enables as a webhook channel the platform has reached (what a
    gateway's /readyz says, relayed in the node's status)."""

    followed_until_gone = threading.Event()
    USAGE = {"turns": 7, "messages_in": 7, "messages_out": 7,
             "tool_calls": 2, "tool_errors": 0,
             "providers": {"openai": {"requests": 7, "errors": 0,
                                      "input_tokens": 1200,
                                      "output_tokens": 300}}}
    usage_sent = set()

    def report(self, slug, phase, reason=None):
        t = self.tenant(slug)
        chans = ((t or {}).get("gateway", {}).get("config") or {}).get(
            "channels", {})
        super().report(slug, phase, reason, channels={
            k: {"state": "webhook", "last_event": "2026-12-06T12:00:00Z"}
            for k in chans}, tool_servers=[
            {"name": ts["name"], "state": "ready", "restarts": 0}
            for ts in (t or {}).get("tool_servers", [])])
        if phase != "healthy" or t is None or slug in self.usage_sent:
            return
        self.usage_sent.add(slug)
        body = dict(self.USAGE, tenant=slug, deployment=t["deployment"],
                    at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
        r = self.api.post("/v1/agent/usage", {"reports": [body]})
        assert r.status == 200 and r.json()["accepted"] == 1, r

    def assignments(self, wait=0):
        j = super().assignments(wait)
        for req in j.get("logs", []):
            threading.Thread(target=self.serve_log, args=(req,),
                             daemon=True).start()
        return j

    def serve_log(self, req):
        path = "/v1/agent/logs/" + req["id"]
        # line 2 is markup: the viewer must show it as text
        first = "line 1 from the %s of %s\nline 2 <img id=xss src=x>\n" % (
            req["role"], req["tenant"])
        if not req["follow"]:
            self.api.post(path + "?end=1", first)
            return
        r = self.api.post(path, first)
        for i in range(200):
            if r.status != 204:
                break
            time.sleep(0.3)
            r = self.api.post(path, "followed line %d\n" % i)
        if r.status == 410:
            LogNode.followed_until_gone.set()


def browser_steps(case, script, cp, *args, timeout=600):
    """Run tests/e2e/SCRIPT (a session.mjs script) against control plane
    cp signed in with its admin token, screenshots in
    $CLAW_BUILD_DIR/e2e-shots; its output shown, its exit status 0."""
    shots = os.path.join(os.environ.get("CLAW_BUILD_DIR", "/tmp"),
                         "e2e-shots")
    os.makedirs(shots, exist_ok=True)
    r = subprocess.run(["node", os.path.join(HERE, script), cp.url,
                        os.path.join(cp.data_dir, "admin.token"), shots] +
                       list(args), cwd=HERE, capture_output=True, text=True,
                       timeout=timeout)
    sys.stdout.write(r.stdout)
    sys.stderr.write(r.stderr)
    case.assertEqual(r.returncode, 0, "browser steps failed (see above "
                     "and the failure screenshot in %s)" % shots)


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
            "--workspace-allow-local", "true",
            # a public address, so the tenant has webhook URLs
            "--base-domain", "claw.test"])
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
        cls.node = LogNode(cls.cp.url, jt["token"], "e2e-node")
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
        # the quotas set in the browser; the refused one not stored
        quota = [p for p in admin.get("/v1/plans").json()["items"]
                 if p["name"].startswith("quota-")]
        self.assertEqual([(p["name"].split("-")[1], p["quota"])
                          for p in quota],
                         [("ok", {"turns_per_day": 50,
                                  "tokens_per_month": 100000})])
        t = e2e[0]
        self.assertEqual((t["plan"], t["egress_allow"], t["self_pause"],
                          t["node_labels"], t["api_base_allow"]),
                         (plans[0]["name"],
                          ["api.example.com:443", "*.mcp.example.com:443"],
                          True, {"zone": ["a", "b"]},
                          ["https://chat.example.com"]))
        for shot in SHOTS:
            self.assertTrue(os.path.getsize(os.path.join(
                shots, shot + ".png")) > 0, shot)
        # the followed log stopped when the viewer's Stop closed the stream
        self.assertTrue(LogNode.followed_until_gone.wait(30))
        secrets = admin.get("/v1/tenants/%s/secrets" % e2e[0]["id"]).json()
        self.assertEqual([s["name"] for s in secrets["items"]],
                         ["OPENAI_API_KEY"])
        # one query per action: the node's secret.release rows would
        # push the early ones off a page
        for a in ("tenant.create", "tenant.update", "secret.put", "deploy",
                  "tenant.suspend", "tenant.resume", "rollout.tenant.deploy"):
            rows = admin.get("/v1/audit?tenant=%s&action=%s" % (
                e2e[0]["id"], a)).json()["items"]
            self.assertTrue(rows, a)
        deps = admin.get("/v1/tenants/%s/deployments" %
                         e2e[0]["id"]).json()["items"]
        # deploy, redeploy with a workspace, the rollout's
        self.assertEqual([d["phase"] for d in deps], ["healthy"] * 3)
        self.assertIn(self.ws_commit, [
            ((d["spec"] or {}).get("workspace") or {}).get("commit")
            for d in deps])
        self.assertTrue(admin.get("/v1/audit/verify").json()["ok"])
        self.check_setup(admin)
        self.assertNotIn("never-shown", self.cp.daemon.log_text())

    def check_setup(self, admin):
        """What the agent setup tabs did is stored: the Telegram channel
        with its credentials as secrets, two persona versions (the second
        the edit), the model with its key as a secret, one sandboxed tool; the
        refused inputs stored nothing."""
        setup = [t for t in admin.get("/v1/tenants").json()["items"]
                 if t["slug"].startswith("setup-")]
        self.assertEqual(len(setup), 1, setup)
        base = "/v1/tenants/%s" % setup[0]["id"]
        chans = admin.get(base + "/channels").json()["items"]
        self.assertEqual([(c["kind"], c["version"], c["settings"])
                          for c in chans],
                         [("telegram", 1, {"mode": "webhook"})])
        names = {s["name"] for s in
                 admin.get(base + "/secrets").json()["items"]}
        self.assertEqual(names, {"telegram_bot_token",
                                 "telegram_webhook_secret",
                                 "model_api_key"})
        vers = admin.get(base + "/persona/versions").json()["items"]
        self.assertEqual([v["version"] for v in vers], [2, 1])
        soul = admin.get(base + "/persona").json()["body"]["soul"]
        self.assertIn("Be kind and brief.", soul)
        model = admin.get(base + "/model").json()
        self.assertEqual((model["version"], model["body"]["base_url"],
                          model["body"]["api_key_secret"]),
                         (1, "https://api.example.com/v1", "model_api_key"))
        tools = admin.get(base + "/tools").json()
        self.assertEqual((tools["version"], tools["body"]["servers"]),
                         (3, [{"name": "files",
                               "image": "registry.test/claw/mcp/fs:1"}]))
        for a in ("channel.put", "persona.put", "model.put", "tools.put"):
            rows = admin.get("/v1/audit?tenant=%s&action=%s" % (
                setup[0]["id"], a)).json()["items"]
            self.assertTrue(rows, a)


if __name__ == "__main__":
    why = missing()
    if why:
        print("skipped: the dashboard e2e test needs %s" % why)
        sys.exit(77)
    unittest.main(verbosity=2)
