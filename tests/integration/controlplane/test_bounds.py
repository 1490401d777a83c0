"""Integration (red team): what a tenant token may do is what the operator
allows (issue 10, items 1-3). Every attack is tried as a tenant token, and
where it matters as an admin; each is refused with a stable code naming the
bound, audited, and leaves nothing changed.

1. Plans: admins define them (/v1/plans; operators read, tenants read their
   own), admins and operators put tenants on them; a tenant token deploying
   over its plan gets 403 plan_exceeded (each value), within it 202; an
   empty plan deploys the tenant's plan; admins may go beyond a plan.
2. The image policy (--image-allow): a foreign registry, a look-alike host,
   a repository prefix trick (claw-evil vs claw) and a path with ".." are
   403 image_not_allowed for tenant and admin tokens alike, for deploys
   and for rollbacks.
3. Egress bounds: a tenant token's gateway_config.egress_allow must lie
   within the bound an admin set (plus the fleet default config's); the
   metadata address, another port, a wider wildcard are 403
   egress_not_allowed. Admins are not bound.
4. Suspension by an operator is a lock: the tenant's own token cannot
   resume, start, stop, deploy, roll back or undeploy (403
   operator_locked, audited); the lock survives undeploy and deploy; only
   admin and operator tokens lift it. A tenant pauses itself only when
   self_pause allows it (403 self_pause_not_allowed otherwise).
5. Registry credentials (--registry-auth, and the legacy registry-user pair
   bound to --registry-server) go only with pulls from the host they were
   configured for: with the policy open, a deploy naming evil.example gets
   no registry_auth in its assignment, neither does one whose two images
   are on different hosts, nor a tenant's own credential for another
   server; the password is never in the log.
6. Bad bounds options stop the daemon at start, naming the option.
7. Git workspaces (item 4): local paths, file://, http, git, addresses and
   localhost are refused (403 workspace_not_allowed, audited) unless the
   fleet allows them; what is allowed but fails answers a fixed sentence
   that names no path, address or port; a host that never answers costs
   the request the deadline only, and the resolver threads stay bounded.
"""

import itertools
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

from clawtest.cp import ControlPlane, binary
from clawtest.pg import PgCluster
from clawtest.proc import wait_for

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

OK = {"gateway_image": "registry.test/claw/gw:1",
      "runtime_image": "registry.test/claw/rt:1"}
POLICY = "registry.test/claw, 127.0.0.1:5000"
FLEET_PW = "fleet-pw-" + os.urandom(8).hex()
LEGACY_PW = "legacy-pw-" + os.urandom(8).hex()
DEFAULT_EGRESS = ["llm.test:443"]
_n = itertools.count(1)


def slug(prefix="b"):
    return "%s%d" % (prefix, next(_n))


class BoundsBase(unittest.TestCase):
    """One PgCluster; each class starts its control plane with EXTRA."""

    EXTRA = []

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.pg = PgCluster().start()
        try:
            cls.cp = ControlPlane(
                database_url=cls.pg.create_database(cls.__name__.lower()),
                extra_args=cls.extra_args(), name=cls.__name__).start()
        except BaseException:
            cls.pg.stop()
            raise
        cls.admin = cls.cp.client()
        cls.stops = []
        r = cls.admin.post("/v1/nodes/join-tokens", {})
        assert r.status == 201, r
        cls.node = FakeNode(cls.cp.url, r.json()["token"],
                            "n-" + cls.__name__.lower())
        cls.stops.append(cls.node.autopilot())

    @classmethod
    def tearDownClass(cls):
        for s in cls.stops:
            s.set()
        time.sleep(0.5)
        try:
            cls.cp.stop_clean()
        finally:
            cls.pg.stop()
            cls.tmp.cleanup()

    @classmethod
    def extra_args(cls):
        return list(cls.EXTRA)

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o600)
        return path

    def tenant(self, **bounds):
        s = slug()
        r = self.admin.post("/v1/tenants", dict({"slug": s, "name": s},
                                                **bounds))
        self.assertEqual(r.status, 201, r)
        _, tok = self.cp.new_token("tenant", tenant=s)
        return s, self.cp.client(tok)

    def refused(self, r, status, code):
        self.assertEqual((r.status, r.error_code()), (status, code), r)

    def audit(self, s, action):
        items = self.admin.get("/v1/audit?limit=500").json()["items"]
        return [e for e in items
                if e["target"] == "tenants/" + s and e["action"] == action]

    def placement(self, s):
        r = self.admin.get("/v1/tenants/%s/placement" % s)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def deployments(self, s):
        return self.admin.get("/v1/tenants/%s/deployments" %
                              s).json()["items"]


class PolicyTest(BoundsBase):
    """A fleet with an image policy and a default gateway config."""

    @classmethod
    def extra_args(cls):
        gw = cls.write("gw.json", '{"egress_allow": ["llm.test:443"]}')
        return ["--image-allow", POLICY,
                "--default-gateway-config", gw]

    # ---- plans

    def test_plans_crud_roles_and_audit(self):
        _, op = self.cp.new_token("operator")
        opc = self.cp.client(op)
        r = self.admin.post("/v1/plans", {"name": "small", "cpus_milli": 500,
                                          "memory_mb": 256, "pids": 128,
                                          "disk_mb": 1024})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers["Location"], "/v1/plans/small")
        self.assertEqual(r.json()["tenants"], 0)
        self.refused(self.admin.post("/v1/plans", {
            "name": "small", "cpus_milli": 10, "memory_mb": 16,
            "pids": 8}), 409, "plan_name_taken")
        self.refused(self.admin.post("/v1/plans", {
            "name": "default", "cpus_milli": 10, "memory_mb": 16,
            "pids": 8}), 409, "plan_builtin")
        self.refused(self.admin.post("/v1/plans", {
            "name": "huge", "cpus_milli": 256001, "memory_mb": 16,
            "pids": 8}), 422, "invalid_field")
        self.refused(self.admin.post("/v1/plans", {
            "name": "Bad_Name", "cpus_milli": 10, "memory_mb": 16,
            "pids": 8}), 422, "invalid_field")
        self.refused(self.admin.post("/v1/plans", {"name": "x"}), 422,
                     "missing_field")
        names = [p["name"] for p in self.admin.get("/v1/plans")
                 .json()["items"]]
        self.assertEqual(names[0], "default")
        self.assertIn("small", names)
        d = self.admin.get("/v1/plans/default").json()
        self.assertEqual((d["cpus_milli"], d["memory_mb"], d["pids"],
                          d["builtin"]), (500, 256, 256, True))
        # operators read and assign plans; only admins define them
        self.assertEqual(opc.get("/v1/plans").status, 200)
        self.assertEqual(opc.get("/v1/plans/small").status, 200)
        for r in (opc.post("/v1/plans", {"name": "op", "cpus_milli": 10,
                                         "memory_mb": 16, "pids": 8}),
                  opc.patch("/v1/plans/small", {"pids": 8}),
                  opc.delete("/v1/plans/small")):
            self.assertEqual(r.status, 403, r)
        s, tc = self.tenant()
        r = opc.patch("/v1/tenants/" + s, {"plan": "small"})
        self.assertEqual((r.status, r.json()["plan"]), (200, "small"), r)
        self.refused(opc.patch("/v1/tenants/" + s, {"name": "renamed"}),
                     403, "forbidden")
        self.refused(self.admin.patch("/v1/tenants/" + s, {"plan": "nope"}),
                     404, "plan_not_found")
        # a tenant token reads its own plan, no other, and sets nothing
        self.assertEqual(tc.get("/v1/plans/small").json()["pids"], 128)
        self.refused(tc.get("/v1/plans/default"), 404, "plan_not_found")
        self.assertEqual(tc.get("/v1/plans").status, 403)
        for body in ({"plan": "default"}, {"egress_allow": ["*"]},
                     {"self_pause": True}):
            self.assertEqual(tc.patch("/v1/tenants/" + s, body).status, 403)
        t = tc.get("/v1/tenants/" + s).json()
        self.assertEqual((t["plan"], t["egress_allow"], t["self_pause"],
                          t["suspended_by"]), ("small", [], False, None))
        # a plan in use stays; the built-in one cannot change
        self.refused(self.admin.delete("/v1/plans/small"), 409,
                     "plan_in_use")
        self.refused(self.admin.patch("/v1/plans/default", {"pids": 8}),
                     409, "plan_builtin")
        self.refused(self.admin.delete("/v1/plans/default"), 409,
                     "plan_builtin")
        r = self.admin.patch("/v1/plans/small", {"pids": 64})
        self.assertEqual((r.status, r.json()["pids"], r.json()["tenants"]),
                         (200, 64, 1), r)
        self.refused(self.admin.patch("/v1/plans/small", {"name": "big"}),
                     422, "unknown_field")
        self.assertEqual(self.admin.patch("/v1/tenants/" + s, {
            "plan": "default"}).json()["plan"], "default")
        self.assertEqual(self.admin.delete("/v1/plans/small").status, 204)
        self.refused(self.admin.get("/v1/plans/small"), 404,
                     "plan_not_found")
        items = self.admin.get("/v1/audit?limit=500").json()["items"]
        acts = [e["action"] for e in items if e["target"] == "plans/small"]
        for a in ("plan.create", "plan.update", "plan.delete"):
            self.assertIn(a, acts)

    def test_tenant_token_stays_within_its_plan(self):
        self.admin.post("/v1/plans", {"name": "tiny", "cpus_milli": 250,
                                      "memory_mb": 128, "pids": 64})
        s, tc = self.tenant(plan="tiny")
        url = "/v1/tenants/%s/deploy" % s
        # the review's attack, then each value alone
        for plan, field in (({"cpus_milli": 256000, "memory_mb": 1048576,
                              "pids": 65536}, "cpus_milli"),
                            ({"cpus_milli": 251}, "cpus_milli"),
                            ({"memory_mb": 129}, "memory_mb"),
                            ({"pids": 65}, "pids")):
            r = tc.post(url, dict(OK, plan=plan))
            self.refused(r, 403, "plan_exceeded")
            self.assertIn(field, r.json()["error"]["message"])
            self.assertIn("tiny", r.json()["error"]["message"])
        self.assertEqual(self.deployments(s), [])
        denied = self.audit(s, "deploy.denied")
        self.assertGreaterEqual(len(denied), 4)
        self.assertEqual(denied[0]["details"]["code"], "plan_exceeded")
        # within the plan, and the plan's values when none are given
        r = tc.post(url, dict(OK, plan={"cpus_milli": 100}))
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["spec"]["plan"]["memory_mb"], 128)
        r = tc.post(url, OK)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["spec"]["plan"],
                         {"cpus_milli": 250, "memory_mb": 128, "pids": 64,
                          "disk_mb": 0})
        # an admin may go beyond a tenant's plan
        r = self.admin.post(url, dict(OK, plan={"memory_mb": 4096}))
        self.assertEqual(r.status, 202, r)
        # a plan lowered later bounds a rollback by the tenant too
        wait_for(lambda: self.deployments(s)[0]["phase"] == "healthy", 30,
                 what="the admin's deployment healthy")
        r = tc.post(url, OK)
        self.assertEqual(r.status, 202, r)
        wait_for(lambda: self.deployments(s)[0]["phase"] == "healthy", 30,
                 what="the tenant's deployment healthy")
        self.refused(tc.post("/v1/tenants/%s/rollback" % s), 403,
                     "plan_exceeded")  # the admin's 4096 MiB one
        self.assertTrue(self.audit(s, "rollback.denied"))
        self.assertEqual(self.admin.post("/v1/tenants/%s/rollback" %
                                         s).status, 202)
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    # ---- images

    def test_image_policy_binds_every_role(self):
        s, tc = self.tenant()
        url = "/v1/tenants/%s/deploy" % s
        for bad in ("evil.example/x:1", "registry.test/claw-evil/gw:1",
                    "registry.test.evil.example/claw/gw:1",
                    "registry.test:444/claw/gw:1", "registry.test/other:1",
                    "nginx:1", "registry.test/claw/../x:1"):
            for c in (tc, self.admin):
                r = c.post(url, dict(OK, runtime_image=bad))
                self.refused(r, 403, "image_not_allowed")
                r = c.post(url, dict(OK, gateway_image=bad))
                self.refused(r, 403, "image_not_allowed")
        self.assertEqual(self.deployments(s), [])
        self.assertTrue(all(e["details"]["code"] == "image_not_allowed"
                            for e in self.audit(s, "deploy.denied")))
        for good in (OK, {"gateway_image": "127.0.0.1:5000/any/gw:2",
                          "runtime_image": "registry.test/claw/sub/rt@"
                          "sha256:" + "ab" * 32}):
            self.assertEqual(tc.post(url, good).status, 202)
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    # ---- egress

    def test_egress_within_the_bound(self):
        s, tc = self.tenant()
        url = "/v1/tenants/%s/deploy" % s

        def gw(*egress):
            return dict(OK, gateway_config={"egress_allow": list(egress)})
        # no bound yet: only the fleet default's entries
        self.refused(tc.post(url, gw("evil.example:443")), 403,
                     "egress_not_allowed")
        self.assertEqual(tc.post(url, gw(*DEFAULT_EGRESS)).status, 202)
        r = self.admin.patch("/v1/tenants/" + s, {"egress_allow": [
            "api.openai.com:443", "*.mcp.example.com:443"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(tc.post(url, gw("api.openai.com:443",
                                         "x.mcp.example.com:443",
                                         "*.a.mcp.example.com:443",
                                         "llm.test:443")).status, 202)
        for bad in ("169.254.169.254:80", "127.0.0.1:5432",
                    "api.openai.com:80", "*.example.com:443",
                    "mcp.example.com:443", "api.openai.com.evil:443", "*"):
            r = tc.post(url, gw("api.openai.com:443", bad))
            self.refused(r, 403, "egress_not_allowed")
            self.assertIn(bad, r.json()["error"]["message"])
        self.refused(tc.post(url, dict(OK, gateway_config={
            "egress_allow": "api.openai.com:443"})), 403,
            "egress_not_allowed")
        self.assertEqual(self.admin.post(url, gw("anything.example:1"))
                         .status, 202)
        self.assertTrue(self.audit(s, "deploy.denied"))
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    # ---- suspension

    def state(self, s):
        return self.placement(s)["state"]

    def test_operator_suspension_is_a_lock(self):
        s, tc = self.tenant()
        _, op = self.cp.new_token("operator")
        opc = self.cp.client(op)
        self.assertEqual(self.admin.post("/v1/tenants/%s/deploy" % s,
                                         OK).status, 202)
        wait_for(lambda: self.deployments(s)[0]["phase"] == "healthy", 30,
                 what="deployment healthy")
        r = self.admin.post("/v1/tenants/%s/suspend" % s)
        self.assertEqual((r.status, r.json()["state"]), (200, "suspended"))
        self.assertEqual(tc.get("/v1/tenants/" + s).json()["suspended_by"],
                         "operator")
        for method, verb, body in (("POST", "resume", None),
                                   ("POST", "start", None),
                                   ("POST", "stop", None),
                                   ("POST", "suspend", None),
                                   ("POST", "deploy", OK),
                                   ("POST", "rollback", None),
                                   ("DELETE", "deployment", None)):
            r = tc.request(method, "/v1/tenants/%s/%s" % (s, verb), body)
            self.refused(r, 403, "operator_locked")
            self.assertEqual(self.state(s), "suspended", verb)
        self.assertTrue(self.audit(s, "tenant.resume.denied"))
        self.assertTrue(self.audit(s, "deploy.denied"))
        self.assertEqual(self.node.tenant(s)["state"], "suspended")
        # the lock outlives undeploy and deploy
        self.assertEqual(self.admin.delete("/v1/tenants/%s/deployment" %
                                           s).status, 204)
        self.assertEqual(self.admin.post("/v1/tenants/%s/deploy" % s,
                                         OK).status, 202)
        self.assertEqual(self.state(s), "suspended")
        self.refused(tc.post("/v1/tenants/%s/resume" % s), 403,
                     "operator_locked")
        # an operator lifts it
        r = opc.post("/v1/tenants/%s/resume" % s)
        self.assertEqual((r.status, r.json()["state"]), (200, "running"))
        self.assertIsNone(self.admin.get("/v1/tenants/" + s)
                          .json()["suspended_by"])
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    def test_self_pause_only_when_allowed(self):
        s, tc = self.tenant()
        self.assertEqual(tc.post("/v1/tenants/%s/deploy" % s, OK).status,
                         202)
        self.refused(tc.post("/v1/tenants/%s/suspend" % s), 403,
                     "self_pause_not_allowed")
        self.assertEqual(self.state(s), "running")
        self.assertTrue(self.audit(s, "tenant.suspend.denied"))
        r = self.admin.patch("/v1/tenants/" + s, {"self_pause": True})
        self.assertEqual((r.status, r.json()["self_pause"]), (200, True))
        r = tc.post("/v1/tenants/%s/suspend" % s)
        self.assertEqual((r.status, r.json()["state"]), (200, "suspended"))
        self.assertEqual(self.admin.get("/v1/tenants/" + s)
                         .json()["suspended_by"], "tenant")
        self.assertEqual(tc.post("/v1/tenants/%s/resume" % s).status, 200)
        self.assertEqual(self.state(s), "running")
        # an operator's suspend over the tenant's own pause is a lock
        self.assertEqual(tc.post("/v1/tenants/%s/suspend" % s).status, 200)
        self.assertEqual(self.admin.post("/v1/tenants/%s/suspend" %
                                         s).status, 200)
        self.refused(tc.post("/v1/tenants/%s/resume" % s), 403,
                     "operator_locked")
        self.assertEqual(self.admin.post("/v1/tenants/%s/resume" %
                                         s).status, 200)
        # self-pause withdrawn while paused: the tenant cannot leave it
        self.assertEqual(tc.post("/v1/tenants/%s/suspend" % s).status, 200)
        self.admin.patch("/v1/tenants/" + s, {"self_pause": False})
        for verb in ("resume", "start", "stop"):
            self.refused(tc.post("/v1/tenants/%s/%s" % (s, verb)), 403,
                         "self_pause_not_allowed")
        self.assertEqual(self.state(s), "suspended")
        self.admin.delete("/v1/tenants/%s/deployment" % s)


class CredentialsTest(BoundsBase):
    """The policy open: credentials are the only layer."""

    @classmethod
    def extra_args(cls):
        fleet = cls.write("fleet.pw", FLEET_PW + "\n")
        legacy = cls.write("legacy.pw", LEGACY_PW)
        return ["--registry-auth", "Registry.Test=fleetuser:" + fleet,
                "--registry-user", "legacyuser",
                "--registry-password-file", legacy,
                "--registry-server", "legacy.test:5000"]

    def assignment(self, s, dep):
        return wait_for(lambda: (lambda t: t if t and t["deployment"] == dep
                                 else None)(self.node.tenant(s)),
                        30, what="the assignment of " + s)

    def deploy(self, c, s, body):
        r = c.post("/v1/tenants/%s/deploy" % s, body)
        self.assertEqual(r.status, 202, r)
        return self.assignment(s, r.json()["id"])

    def test_credentials_go_only_to_their_host(self):
        s, tc = self.tenant()
        t = self.deploy(tc, s, OK)
        self.assertEqual(t["registry_auth"], {
            "username": "fleetuser", "password": FLEET_PW,
            "serveraddress": "registry.test"})
        t = self.deploy(tc, s, {"gateway_image": "legacy.test:5000/gw:1",
                                "runtime_image": "legacy.test:5000/rt:1"})
        self.assertEqual(t["registry_auth"]["serveraddress"],
                         "legacy.test:5000")
        self.assertEqual(t["registry_auth"]["password"], LEGACY_PW)
        # the review's attack: the policy is open, the image names another
        # host, and no credential goes with it
        for body in ({"gateway_image": "evil.example/x:1",
                      "runtime_image": "evil.example/x:1"},
                     {"gateway_image": "registry.test.evil.example/x:1",
                      "runtime_image": "registry.test.evil.example/x:1"},
                     {"gateway_image": "registry.test:5000/x:1",
                      "runtime_image": "registry.test:5000/x:1"},
                     {"gateway_image": "legacy.test/gw:1",
                      "runtime_image": "legacy.test/gw:1"},
                     dict(OK, runtime_image="evil.example/x:1"),
                     dict(OK, gateway_image="evil.example/x:1")):
            t = self.deploy(tc, s, body)
            self.assertNotIn("registry_auth", t, body)
        # a tenant's own credential goes only to the server it names
        self.admin.put("/v1/tenants/%s/secrets/REG_PW" % s,
                       {"value": "tenant-pw"})
        own = {"username": "me", "server": "https://evil.example/v2/",
               "password_secret": "REG_PW"}
        t = self.deploy(tc, s, dict(OK, registry=own))
        self.assertNotIn("registry_auth", t)
        t = self.deploy(tc, s, {"gateway_image": "evil.example/x:1",
                                "runtime_image": "evil.example/y:1",
                                "registry": own})
        self.assertEqual(t["registry_auth"], {
            "username": "me", "password": "tenant-pw",
            "serveraddress": "evil.example"})
        self.admin.delete("/v1/tenants/%s/deployment" % s)
        log = self.cp.daemon.log_text()
        for pw in (FLEET_PW, LEGACY_PW, "tenant-pw"):
            self.assertNotIn(pw, log)

    def test_bad_options_stop_the_daemon(self):
        pw = self.write("x.pw", "x")
        cases = [
            (["--image-allow", "registry.test/x:1"], "image-allow"),
            (["--image-allow", ","], "image-allow"),
            (["--image-allow", "registry.test",
              "--default-gateway-image", "evil.example/gw:1",
              "--default-runtime-image", "registry.test/rt:1"],
             "default-gateway-image"),
            (["--registry-auth", "registry.test=user"], "registry-auth"),
            (["--registry-auth", "registry.test=u:" + pw +
              ",REGISTRY.test=v:" + pw], "given twice"),
            (["--registry-auth", "registry.test=u:/nonexistent/pw"],
             "registry-auth"),
            (["--registry-user", "u", "--registry-password-file", pw],
             "registry-server"),
        ]
        for args, want in cases:
            data = tempfile.mkdtemp(dir=self.tmp.name)
            p = subprocess.run(
                [binary(), "--data-dir", data, "--listen", "127.0.0.1:0",
                 "--database-url", self.cp.database_url,
                 "--master-key-file",
                 os.path.join(self.cp.data_dir, "master.key"),
                 "--migrations-dir", os.path.join(
                     os.environ.get("CLAW_SOURCE_DIR", "."), "migrations")]
                + args, capture_output=True, text=True, timeout=60)
            self.assertNotEqual(p.returncode, 0, (args, p.stderr))
            self.assertIn(want, p.stderr, args)
            self.assertNotIn("listening", p.stdout, args)
            self.assertNotIn("Sanitizer", p.stderr, args)


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers, until
    closed."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.stop = True
        for c in self.conns:
            c.close()
        self.sock.close()


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class WorkspaceRefusedTest(unittest.TestCase):
    """The review's probes against the default rules (no local paths, no
    addresses): refused before anything is looked up, and the answer says
    nothing about what exists."""

    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        try:
            cls.cp = ControlPlane(
                database_url=cls.pg.create_database("wsrefused"),
                name="ws-refused").start()
        except BaseException:
            cls.pg.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.cp.stop_clean()
        finally:
            cls.pg.stop()

    def test_local_paths_and_addresses_refused(self):
        admin = self.cp.client()
        s = slug("w")
        admin.post("/v1/tenants", {"slug": s, "name": s})
        _, tok = self.cp.new_token("tenant", tenant=s)
        src = os.environ.get("CLAW_SOURCE_DIR", ".")
        port = closed_port()
        for c in (self.cp.client(tok), admin):
            for repo in ("/etc", src, "file:///etc", "./x",
                         "http://127.0.0.1:%d/r.git" % port,
                         "https://127.0.0.1:%d/r.git" % port,
                         "https://localhost:%d/r.git" % port,
                         "https://2130706433/r.git",
                         "git://127.0.0.1:%d/r.git" % port,
                         "ssh://127.0.0.1:%d/r.git" % port):
                r = c.post("/v1/tenants/%s/deploy" % s, dict(
                    OK, workspace={"repo": repo, "ref": "main"}))
                self.assertEqual((r.status, r.error_code()),
                                 (403, "workspace_not_allowed"), (repo, r))
                msg = r.json()["error"]["message"]
                for leak in (repo, "/etc", "127.0.0.1", str(port),
                             "refused", "could not find"):
                    self.assertNotIn(leak, msg, repo)
        items = admin.get("/v1/audit?limit=500").json()["items"]
        self.assertTrue([e for e in items if e["action"] == "deploy.denied"
                         and e["details"]["code"] ==
                         "workspace_not_allowed"])


class WorkspaceResolveTest(BoundsBase):
    """A fleet that allows local repositories and lists 127.0.0.1 (so the
    test can play the hosts): unreachable and silent hosts answer a fixed
    sentence; a silent one costs the request the deadline only; workers
    are bounded."""

    @classmethod
    def extra_args(cls):
        return ["--workspace-allow-local", "true", "--workspace-hosts",
                "127.0.0.1", "--workspace-timeout-ms", "1000"]

    def deploy_ws(self, s, repo, ref="main"):
        return self.admin.post("/v1/tenants/%s/deploy" % s, dict(
            OK, workspace={"repo": repo, "ref": ref}))

    def test_resolution(self):
        s, _ = self.tenant()
        repo = os.path.join(self.tmp.name, "ws")
        os.makedirs(repo)

        def git(*a):
            return subprocess.run(
                ["git", "-C", repo, "-c", "user.name=t", "-c",
                 "user.email=t@t"] + list(a), check=True,
                capture_output=True, text=True).stdout.strip()
        git("init", "-q", "-b", "main")
        with open(os.path.join(repo, "SOUL.md"), "w") as f:
            f.write("soul\n")
        git("add", "SOUL.md")
        git("commit", "-q", "-m", "one")
        head = git("rev-parse", "HEAD")
        r = self.deploy_ws(s, repo)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["spec"]["workspace"]["commit"], head)
        r = self.deploy_ws(s, repo, "no-such-branch")
        self.assertEqual((r.status, r.error_code()),
                         (422, "workspace_unresolved"))
        # nothing there, a closed port, a host not listed
        port = closed_port()
        for bad in ("/etc", os.path.join(self.tmp.name, "none"),
                    "https://127.0.0.1:%d/r.git" % port):
            r = self.deploy_ws(s, bad)
            self.assertEqual((r.status, r.error_code()),
                             (422, "workspace_unresolved"), (bad, r))
            msg = r.json()["error"]["message"]
            for leak in (bad, "/etc", "127.0.0.1", str(port), "refused",
                         "could not find"):
                self.assertNotIn(leak, msg, bad)
        r = self.deploy_ws(s, "https://127.0.0.2:%d/r.git" % port)
        self.assertEqual((r.status, r.error_code()),
                         (403, "workspace_not_allowed"))
        # a host that never answers: the deadline, then a fixed sentence;
        # its workers stay bounded (the fifth finds them all busy)
        silent = SilentServer()
        try:
            url = "https://127.0.0.1:%d/r.git" % silent.port
            for _ in range(4):
                r = self.deploy_ws(s, url)
                self.assertEqual((r.status, r.error_code()),
                                 (422, "workspace_unresolved"), r)
                self.assertIn("in time", r.json()["error"]["message"])
            r = self.deploy_ws(s, url)
            self.assertEqual((r.status, r.error_code()),
                             (503, "unavailable"), r)
        finally:
            silent.close()
        # once the host hangs up the workers end and resolving works again
        wait_for(lambda: self.deploy_ws(s, repo).status == 202, 30,
                 what="workers free again")
        self.admin.delete("/v1/tenants/%s/deployment" % s)


if __name__ == "__main__":
    unittest.main(verbosity=2)
