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
   fleet allows them; a deploy with a branch or tag answers 202 at once
   with the deployment "resolving", a worker pins the commit (pending,
   placed; a deployment.phase event and a deploy.resolve audit row of the
   requester) or fails it with a fixed sentence that names no path,
   address or port; a host that never answers costs the deadline only,
   resolutions stay bounded (503 beyond four), a newer deploy supersedes
   one still resolving, and one left resolving by a stopped replica is
   failed by the sweep.
8. Placement is the operator's: a tenant token's node_labels must lie
   within the tenant's node_labels bound (none by default; 403
   node_labels_not_allowed); admins and operators place freely.
9. Channel base URLs (gateway_config channels.*.api_base, any *_base or
   *_url field) make the gateway call a host directly, outside its egress
   proxy: a tenant token may set only the fleet default's or one its
   api_base_allow lists (403 api_base_not_allowed naming the field).
10. A plan's disk_mb reaches the node (plan.disk_mb of the assignment);
   a disk under the node agent's 16 MiB is refused.
"""

import itertools
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from clawtest.cp import ControlPlane, binary, with_pg
from clawtest.pg import PgCluster
from clawtest.proc import wait_for
from clawtest.repo import init_repo
from common import stop_clean_with_pg

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
        cls.pg, cls.cp = with_pg(cls.__name__.lower(), cls.extra_args(),
                                 name=cls.__name__)
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
            stop_clean_with_pg(cls.cp, cls.pg)
        finally:
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

    def operator(self):
        """A client with a fresh operator token."""
        _, tok = self.cp.new_token("operator")
        return self.cp.client(tok)

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
        gw = cls.write("gw.json", '{"egress_allow": ["llm.test:443"], '
                       '"channels": {"telegram": {"api_base": '
                       '"https://tg.fleet.test"}}}')
        # the channels these tests configure need these secrets: fleet
        # defaults cover every tenant (a deploy without them is 422
        # missing_secrets, test_rollouts.py)
        tok = cls.write("tg", "123:fleet-token\n")
        names = ("telegram_bot_token", "telegram_webhook_secret",
                 "twilio_auth_token", "mattermost_webhook_token",
                 "mattermost_bot_token")
        return ["--image-allow", POLICY,
                "--default-gateway-config", gw, "--default-secret",
                ",".join("%s=%s" % (n, tok) for n in names)]

    # ---- plans

    def test_plans_crud_roles_and_audit(self):
        opc = self.operator()
        r = self.admin.post("/v1/plans", {"name": "small", "cpus_milli": 500,
                                          "memory_mb": 256, "pids": 128,
                                          "disk_mb": 1024})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers["Location"], "/v1/plans/small")
        self.assertEqual(r.json()["tenants"], 0)
        for name, cpus, status, code in (
                ("small", 10, 409, "plan_name_taken"),
                ("default", 10, 409, "plan_builtin"),
                ("huge", 256001, 422, "invalid_field"),
                ("Bad_Name", 10, 422, "invalid_field")):
            self.refused(self.admin.post("/v1/plans", {
                "name": name, "cpus_milli": cpus, "memory_mb": 16,
                "pids": 8}), status, code)
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

    def test_image_policy_binds_tool_servers(self):
        # a sandboxed tool server's image (the tools resource, composed
        # into the deployment) is held to the same policy; its secrets
        # must exist when the deploy is made
        s, tc = self.tenant()
        self.assertEqual(self.admin.put("/v1/tenants/%s/secrets/fs_key" % s,
                                        {"value": "k"}).status, 201)
        url = "/v1/tenants/%s/deploy" % s

        def tools(image):
            return self.admin.put("/v1/tenants/%s/tools" % s, {"servers": [
                {"name": "fs", "image": image, "command": ["serve"],
                 "secrets": {"FS_KEY": "fs_key"}}]})
        # refused when set (and again at deploy, should the policy have
        # changed since: deploy.c spec_within)
        self.refused(tools("evil.example/mcp/fs:1"), 403,
                     "image_not_allowed")
        self.assertEqual(tools("registry.test/claw/mcp/fs:1").status, 200)
        r = tc.post(url, OK)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(self.admin.delete(
            "/v1/tenants/%s/secrets/fs_key" % s).status, 204)
        r = tc.post(url, OK)
        self.refused(r, 422, "missing_secrets")
        self.assertIn("fs_key", r.json()["error"]["message"])
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

    # ---- placement

    def test_node_labels_within_the_bound(self):
        s, tc = self.tenant()
        url = "/v1/tenants/%s/deploy" % s
        opc = self.operator()
        # no bound: a tenant token names no labels (an empty object is none)
        r = tc.post(url, dict(OK, node_labels={"zone": "a"}))
        self.refused(r, 403, "node_labels_not_allowed")
        self.assertIn("placement is the operator's",
                      r.json()["error"]["message"])
        self.assertEqual(tc.post(url, dict(OK, node_labels={})).status, 202)
        self.assertEqual(self.audit(s, "deploy.denied")[0]["details"]
                         ["code"], "node_labels_not_allowed")
        # an operator sets the bound; the tenant's token cannot
        self.assertEqual(tc.patch("/v1/tenants/" + s, {
            "node_labels": {"zone": "a"}}).status, 403)
        for bad in ([], {"zone": 1}, {"zone": []}, {"": "a"}):
            self.refused(opc.patch("/v1/tenants/" + s,
                                   {"node_labels": bad}), 422,
                         "invalid_field")
        r = opc.patch("/v1/tenants/" + s, {"node_labels": {
            "zone": ["a", "b"], "gpu": "yes"}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["node_labels"],
                         {"zone": ["a", "b"], "gpu": "yes"})
        self.assertEqual(tc.get("/v1/tenants/" + s).json()["node_labels"],
                         {"zone": ["a", "b"], "gpu": "yes"})
        tid = r.json()["id"]
        self.assertTrue([e for e in self.admin.get(
            "/v1/audit?action=tenant.update&tenant=" + tid).json()["items"]
            if "node_labels" in e["details"]["bounds"]])
        for good in ({"zone": "b"}, {"zone": "a", "gpu": "yes"}):
            self.assertEqual(tc.post(url, dict(OK, node_labels=good))
                             .status, 202, good)
        for bad, named in (({"zone": "c"}, "zone"), ({"gpu": "no"}, "gpu"),
                           ({"zone": "a", "rack": "r1"}, None),
                           ({"Zone": "a"}, None)):
            r = tc.post(url, dict(OK, node_labels=bad))
            self.refused(r, 403, "node_labels_not_allowed")
            msg = r.json()["error"]["message"]
            if named:
                self.assertIn("node_labels." + named, msg)
            else:  # a label outside the bound is not echoed
                self.assertNotIn("rack", msg)
                self.assertNotIn("Zone", msg)
        # admins and operators place where they like
        for c in (self.admin, opc):
            self.assertEqual(c.post(url, dict(OK, node_labels={
                "rack": "r9"})).status, 202)
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    # ---- channel base URLs

    def test_channel_base_urls(self):
        s, tc = self.tenant()
        url = "/v1/tenants/%s/deploy" % s
        opc = self.operator()
        # the irc channel's secret, so its deploys reach the bound check
        self.assertEqual(self.admin.put(
            "/v1/tenants/%s/secrets/irc_sasl_password" % s,
            {"value": "pw"}).status, 201)

        def gw(channel, **fields):
            return dict(OK, gateway_config={"channels": {channel: fields}})
        # the review's bypass: the gateway calls these hosts directly
        for body, field in (
                (gw("telegram", api_base="http://169.254.169.254"),
                 "channels.telegram.api_base"),
                (gw("slack", api_base="http://127.0.0.1:5432"),
                 "channels.slack.api_base"),
                (gw("mattermost", api_base="https://mm.acme.test"),
                 "channels.mattermost.api_base"),
                (gw("discord", gateway_url="wss://evil.example"),
                 "channels.discord.gateway_url"),
                # IRC's server is dialled directly too (host:port)
                (gw("irc", server="10.0.0.5:6697", nick="claw"),
                 "channels.irc.server"),
                # the fleet default's value, but at another channel
                (gw("slack", api_base="https://tg.fleet.test"),
                 "channels.slack.api_base"),
                (dict(OK, gateway_config={"proxy_url": "http://x.test"}),
                 "proxy_url")):
            r = tc.post(url, body)
            self.refused(r, 403, "api_base_not_allowed")
            self.assertIn("gateway_config." + field,
                          r.json()["error"]["message"])
        # a value sent as a key is never echoed
        r = tc.post(url, dict(OK, gateway_config={"channels": {
            "sk-leak-me": {"api_base": "http://x.test"}}}))
        self.refused(r, 403, "api_base_not_allowed")
        self.assertNotIn("sk-leak-me", r.json()["error"]["message"])
        self.assertNotIn("sk-leak-me", str(self.audit(s, "deploy.denied")))
        self.assertTrue(all(e["details"]["code"] in (
            "api_base_not_allowed",) for e in self.audit(s, "deploy.denied")))
        self.assertEqual(self.deployments(s), [])
        # the fleet default's own value, and Twilio's webhook_url (its
        # address of the gateway) pass
        for body in (gw("telegram", api_base="https://tg.fleet.test/"),
                     gw("twilio", webhook_url="https://acme.test/tw")):
            self.assertEqual(tc.post(url, body).status, 202, body)
        # an operator allows one server for this tenant
        self.refused(opc.patch("/v1/tenants/" + s, {
            "api_base_allow": ["ftp://mm.acme.test"]}), 422, "invalid_field")
        allow = ["https://mm.acme.test", "ircs://irc.acme.test:6697"]
        r = opc.patch("/v1/tenants/" + s, {"api_base_allow": allow})
        self.assertEqual((r.status, r.json()["api_base_allow"]),
                         (200, allow), r)
        self.assertEqual(tc.post(url, gw(
            "mattermost", api_base="https://mm.acme.test")).status, 202)
        self.assertEqual(tc.post(url, gw(
            "irc", server="irc.acme.test:6697", nick="claw")).status, 202)
        self.refused(tc.post(url, gw(
            "irc", server="irc.acme.test:6667", nick="claw")),
            403, "api_base_not_allowed")
        self.refused(tc.post(url, gw(
            "mattermost", api_base="https://mm.acme.test.evil.example")),
            403, "api_base_not_allowed")
        # admins and operators are not bound
        for c in (self.admin, opc):
            self.assertEqual(c.post(url, gw(
                "telegram", api_base="http://tg-fake.test:8081")).status,
                202)
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    # ---- disk

    def test_plan_disk_reaches_the_node(self):
        self.refused(self.admin.post("/v1/plans", {
            "name": "disk-tiny", "cpus_milli": 100, "memory_mb": 64,
            "pids": 64, "disk_mb": 15}), 422, "invalid_field")
        r = self.admin.post("/v1/plans", {"name": "disk1g",
                                          "cpus_milli": 100,
                                          "memory_mb": 64, "pids": 64,
                                          "disk_mb": 1024})
        self.assertEqual(r.status, 201, r)
        s, tc = self.tenant(plan="disk1g")
        r = tc.post("/v1/tenants/%s/deploy" % s, OK)
        self.assertEqual(r.status, 202, r)
        dep = r.json()["id"]
        t = wait_for(lambda: (lambda t: t if t and t["deployment"] == dep
                              else None)(self.node.tenant(s)), 30,
                     what="the assignment")
        self.assertEqual(t["plan"]["disk_mb"], 1024)
        self.assertEqual(t["plan"]["memory_mb"], 64)
        self.refused(tc.post("/v1/tenants/%s/deploy" % s, dict(
            OK, plan={"disk_mb": 8})), 422, "invalid_field")
        # no disk in the plan: none in the assignment
        s2, tc2 = self.tenant()
        dep = tc2.post("/v1/tenants/%s/deploy" % s2, OK).json()["id"]
        t = wait_for(lambda: (lambda t: t if t and t["deployment"] == dep
                              else None)(self.node.tenant(s2)), 30,
                     what="the assignment")
        self.assertNotIn("disk_mb", t["plan"])
        self.admin.delete("/v1/tenants/%s/deployment" % s)
        self.admin.delete("/v1/tenants/%s/deployment" % s2)

    # ---- suspension

    def state(self, s):
        return self.placement(s)["state"]

    def test_operator_suspension_is_a_lock(self):
        s, tc = self.tenant()
        opc = self.operator()
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


def make_repo(parent):
    """A git repository with one commit on main under parent: (path, the
    commit)."""
    repo = os.path.join(parent, "ws-" + slug("r"))
    os.makedirs(repo)
    return repo, init_repo(repo)[1]


class HeldRepo:
    """A repository whose .git/config is a named pipe: libgit2 opening it
    blocks in open() until release() lets every open through (an empty
    config), so a test holds a resolution in "resolving" for as long as it
    needs, without any timing."""

    def __init__(self, parent):
        self.path, self.commit = make_repo(parent)
        self.fifo = os.path.join(self.path, ".git", "config")
        os.unlink(self.fifo)
        os.mkfifo(self.fifo)
        self.stop = threading.Event()
        self.thread = None

    def release(self):
        def feed():
            while not self.stop.is_set():
                fd = os.open(self.fifo, os.O_WRONLY)  # waits for a reader
                os.close(fd)  # EOF: an empty config
        self.thread = threading.Thread(target=feed, daemon=True)
        self.thread.start()

    def close(self):
        self.stop.set()
        if self.thread:
            # a reader of our own lets a feeder waiting in open() go
            fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK)
            self.thread.join(5)
            os.close(fd)


class WorkspaceRefusedTest(unittest.TestCase):
    """The review's probes against the default rules (no local paths, no
    addresses): refused before anything is looked up, and the answer says
    nothing about what exists."""

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg("wsrefused", name="ws-refused")

    @classmethod
    def tearDownClass(cls):
        stop_clean_with_pg(cls.cp, cls.pg)

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
    test can play the hosts). A deploy with a branch answers at once,
    "resolving"; a worker pins the commit or fails the deployment with a
    fixed sentence; a silent host costs the deadline only; resolutions are
    bounded."""

    @classmethod
    def extra_args(cls):
        return ["--workspace-allow-local", "true", "--workspace-hosts",
                "127.0.0.1", "--workspace-timeout-ms", "1000"]

    def deploy_ws(self, s, repo, ref="main", c=None):
        return (c or self.admin).post("/v1/tenants/%s/deploy" % s, dict(
            OK, workspace={"repo": repo, "ref": ref}))

    def dep(self, s, dep_id):
        r = self.admin.get("/v1/tenants/%s/deployments/%s" % (s, dep_id))
        self.assertEqual(r.status, 200, r)
        return r.json()

    def settled(self, s, r):
        """The deployment r answered (202, resolving) once it left
        resolving."""
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["phase"], "resolving", r)
        self.assertNotIn("commit", r.json()["spec"]["workspace"])
        return wait_for(lambda: (lambda d: d if d["phase"] != "resolving"
                                 else None)(self.dep(s, r.json()["id"])),
                        30, what="the workspace resolved")

    def make_repo(self):
        return make_repo(self.tmp.name)

    def test_resolution(self):
        s, tc = self.tenant()
        repo, head = self.make_repo()
        r = self.deploy_ws(s, repo, c=tc)
        d = self.settled(s, r)
        self.assertIn(d["phase"], ("pending", "pulling", "healthy"), d)
        self.assertEqual(d["spec"]["workspace"]["commit"], head)
        self.assertEqual(d["spec"]["runtime_config"]["workspace"],
                         {"repo": repo, "commit": head})
        # placed: the node is given the pinned commit
        t = wait_for(lambda: (lambda t: t if t and t["deployment"] == d["id"]
                              else None)(self.node.tenant(s)), 30,
                     what="the assignment")
        self.assertEqual(t["runtime"]["config"]["workspace"]["commit"], head)
        # audited as the requester (its token, its request id)
        deploy_row = [e for e in self.audit(s, "deploy")
                      if e["details"]["deployment"] == d["id"]][0]
        resolve_row = [e for e in self.audit(s, "deploy.resolve")
                       if e["details"]["deployment"] == d["id"]][0]
        self.assertEqual(resolve_row["details"]["commit"], head)
        self.assertEqual(resolve_row["details"]["phase"], "pending")
        for k in ("actor_id", "actor_role", "request_id", "source_addr"):
            self.assertEqual(resolve_row[k], deploy_row[k], k)
        self.assertEqual(resolve_row["actor_role"], "tenant")
        # the phase moves are events
        ev = self.events(s)
        self.assertIn(("deployment.created", d["id"], "resolving"), ev)
        self.assertIn(("deployment.phase", d["id"], "pending"), ev)
        # a full commit id is pinned at once, no resolving phase
        r = self.deploy_ws(s, repo, head)
        self.assertEqual((r.status, r.json()["phase"]), (202, "pending"), r)
        self.assertEqual(r.json()["spec"]["workspace"]["commit"], head)
        # no such branch: failed, with the fixed sentence
        d = self.settled(s, self.deploy_ws(s, repo, "no-such-branch"))
        self.assertEqual(d["phase"], "failed")
        self.assertEqual(d["reason"], "workspace: the repository has no "
                         "branch or tag 'no-such-branch'")
        self.assertTrue([e for e in self.audit(s, "deploy.resolve")
                         if e["details"]["deployment"] == d["id"] and
                         e["details"]["phase"] == "failed"])
        self.assertIn(("deployment.phase", d["id"], "failed"),
                      self.events(s))
        # nothing there, a closed port: a sentence that names nothing
        port = closed_port()
        for bad in ("/etc", os.path.join(self.tmp.name, "none"),
                    "https://127.0.0.1:%d/r.git" % port):
            d = self.settled(s, self.deploy_ws(s, bad))
            self.assertEqual(d["phase"], "failed", bad)
            for leak in (bad, "/etc", "127.0.0.1", str(port), "refused",
                         "could not find"):
                self.assertNotIn(leak, d["reason"], bad)
        r = self.deploy_ws(s, "https://127.0.0.2:%d/r.git" % port)
        self.assertEqual((r.status, r.error_code()),
                         (403, "workspace_not_allowed"))
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    def events(self, s):
        """(type, deployment, phase) of the tenant's events so far (the
        stream replayed from the start, read for a second)."""
        req = urllib.request.Request(
            self.cp.url + "/v1/events?tenant=%s&since=0" % s,
            headers={"Authorization": "Bearer " + self.cp.admin_token})
        out = []
        until = time.monotonic() + 1.0
        try:
            with urllib.request.urlopen(req, timeout=1.5) as f:
                while time.monotonic() < until:
                    line = f.readline()
                    if not line:
                        break
                    if line.startswith(b"data: "):
                        e = json.loads(line[6:])
                        data = e.get("data") or {}
                        out.append((e["type"], data.get("deployment"),
                                    data.get("phase")))
        except OSError:
            pass  # the stream stays open: read until the timeout
        return out

    def test_silent_host_bounded_and_superseded(self):
        s, _ = self.tenant()
        repo, head = self.make_repo()
        # a host that never answers: 202 at once, failed after the
        # deadline; four resolutions at most (the fifth finds no slot)
        silent = SilentServer()
        try:
            url = "https://127.0.0.1:%d/r.git" % silent.port
            first = [self.deploy_ws(s, url) for _ in range(4)]
            for r in first:
                self.assertEqual((r.status, r.json()["phase"]),
                                 (202, "resolving"), r)
            r = self.deploy_ws(s, url)
            self.assertEqual((r.status, r.error_code()),
                             (503, "unavailable"), r)
            # each newer deploy superseded the older ones still resolving
            ds = [self.settled(s, r) for r in first]
            self.assertEqual([d["phase"] for d in ds[:3]],
                             ["superseded"] * 3)
            self.assertEqual(ds[3]["phase"], "failed")
            self.assertIn("in time", ds[3]["reason"])
            # past their deadline the deployments are failed, but the
            # workers still hang on the host and hold their slots
            self.assertEqual(self.deploy_ws(s, url).status, 503)
        finally:
            silent.close()
        # once the host hangs up the workers end and resolving works again
        wait_for(lambda: (lambda r: r if r.status == 202 else None)(
            self.deploy_ws(s, repo)), 30, what="workers free again")
        # a deploy made while one resolves supersedes it
        silent = SilentServer()
        try:
            url = "https://127.0.0.1:%d/r.git" % silent.port
            r1 = self.deploy_ws(s, url)
            self.assertEqual(r1.status, 202, r1)
            r2 = self.admin.post("/v1/tenants/%s/deploy" % s, OK)
            self.assertEqual((r2.status, r2.json()["phase"]),
                             (202, "pending"), r2)
            d1 = self.dep(s, r1.json()["id"])
            self.assertEqual(d1["phase"], "superseded")
            time.sleep(1.5)  # past the deadline: it stays superseded
            self.assertEqual(self.dep(s, r1.json()["id"])["phase"],
                             "superseded")
            self.assertEqual(self.placement(s)["deployment_id"],
                             r2.json()["id"])
        finally:
            silent.close()
        self.admin.delete("/v1/tenants/%s/deployment" % s)

    def test_sweep_fails_orphans(self):
        """A deployment left resolving by a replica that stopped (its
        resolver gone) is failed by the sweep once the deadline and a
        grace passed."""
        s, _ = self.tenant()
        tenant_id = self.admin.get("/v1/tenants/" + s).json()["id"]
        dep = "dep_" + os.urandom(16).hex()
        self.pg.psql("INSERT INTO deployments (id, tenant_id, spec, phase, "
                    "updated_at) VALUES ('%s', '%s', '{}', 'resolving', "
                    "now() - interval '1 hour')" % (dep, tenant_id),
                     dbname=type(self).__name__.lower())
        d = wait_for(lambda: (lambda d: d if d["phase"] != "resolving"
                              else None)(self.dep(s, dep)), 30,
                     what="the sweep")
        self.assertEqual(d["phase"], "failed")
        self.assertIn("stopped before the repository answered", d["reason"])
        rows = self.audit(s, "deploy.resolve")
        self.assertTrue([e for e in rows if e["actor_role"] == "system"
                         and e["details"]["deployment"] == dep])


class WorkspaceHeldTest(BoundsBase):
    """Resolutions held open (HeldRepo): the deployment is visibly
    "resolving" meanwhile, and the bounds are checked again when the
    worker is done, on the tenant's locked row."""

    @classmethod
    def extra_args(cls):
        return ["--workspace-allow-local", "true",
                "--workspace-timeout-ms", "60000"]

    def settled(self, s, dep_id):
        return wait_for(lambda: (lambda d: d if d["phase"] != "resolving"
                                 else None)(self.admin.get(
                                     "/v1/tenants/%s/deployments/%s" %
                                     (s, dep_id)).json()),
                        60, what="the workspace resolved")

    def test_lock_set_while_resolving(self):
        s, tc = self.tenant()
        opc = self.operator()
        held = HeldRepo(self.tmp.name)
        self.addCleanup(held.close)
        first = self.admin.post("/v1/tenants/%s/deploy" % s, OK).json()
        wait_for(lambda: self.deployments(s)[-1]["phase"] == "healthy", 30,
                 what="the first deployment healthy")
        r = tc.post("/v1/tenants/%s/deploy" % s, dict(
            OK, workspace={"repo": held.path, "ref": "main"}))
        self.assertEqual((r.status, r.json()["phase"]), (202, "resolving"))
        dep = r.json()["id"]
        # held: still resolving, not placed, what ran keeps running
        got = self.admin.get("/v1/tenants/%s/deployments/%s" % (s, dep))
        self.assertEqual(got.json()["phase"], "resolving")
        self.assertEqual(self.placement(s)["deployment_id"], first["id"])
        # an operator suspends the tenant meanwhile: a lock
        r = opc.post("/v1/tenants/%s/suspend" % s)
        self.assertEqual(r.status, 200, r)
        held.release()
        d = self.settled(s, dep)
        self.assertEqual(d["phase"], "failed")
        self.assertTrue(d["reason"].startswith("refused (operator_locked)"),
                        d["reason"])
        self.assertNotIn("commit", d["spec"]["workspace"])
        self.assertEqual(self.placement(s)["deployment_id"], first["id"])
        self.assertEqual(self.placement(s)["state"], "suspended")
        denied = [e for e in self.audit(s, "deploy.denied")
                  if e["details"].get("deployment") == dep]
        self.assertEqual(denied[0]["details"]["code"], "operator_locked")
        self.assertEqual(denied[0]["actor_role"], "tenant")
        # lifted: the same held repository (released now) resolves
        self.assertEqual(opc.post("/v1/tenants/%s/resume" % s).status, 200)
        r = tc.post("/v1/tenants/%s/deploy" % s, dict(
            OK, workspace={"repo": held.path, "ref": "main"}))
        d = self.settled(s, r.json()["id"])
        self.assertNotEqual(d["phase"], "failed", d)
        self.assertEqual(d["spec"]["workspace"]["commit"], held.commit)
        self.admin.delete("/v1/tenants/%s/deployment" % s)


class WorkspaceStopTest(unittest.TestCase):
    """The daemon stops at once while a resolution is held (the wait ends,
    nothing touches the database after), and the deployment it left
    resolving is failed by the sweep of the next start once the deadline
    and a grace passed."""

    def test_stop_while_resolving(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        pg = PgCluster().start()
        self.addCleanup(pg.stop)
        url = pg.create_database("wsstop")
        data = os.path.join(tmp.name, "data")
        args = ["--workspace-allow-local", "true",
                "--workspace-timeout-ms", "1000"]
        cp = ControlPlane(database_url=url, data_dir=data,
                          extra_args=args, name="ws-stop").start()
        held = HeldRepo(tmp.name)
        self.addCleanup(held.close)
        admin = cp.client()
        s = slug("st")
        admin.post("/v1/tenants", {"slug": s, "name": s})
        r = admin.post("/v1/tenants/%s/deploy" % s, dict(
            OK, workspace={"repo": held.path, "ref": "main"}))
        self.assertEqual((r.status, r.json()["phase"]), (202, "resolving"))
        dep = r.json()["id"]
        # SIGTERM while the worker is blocked in libgit2: a clean exit 0,
        # no sanitizer report (stop_clean raises otherwise)
        cp.stop_clean()
        cp = ControlPlane(database_url=url, data_dir=data,
                          extra_args=args, name="ws-stop-2").start()
        self.addCleanup(cp.stop)
        admin = cp.client()
        d = wait_for(lambda: (lambda d: d if d["phase"] != "resolving"
                              else None)(admin.get(
                                  "/v1/tenants/%s/deployments/%s" %
                                  (s, dep)).json()), 60,
                     what="the orphan failed by the sweep")
        self.assertEqual(d["phase"], "failed")
        self.assertIn("stopped before the repository answered", d["reason"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
