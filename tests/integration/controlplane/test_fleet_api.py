"""Integration: the control plane's fleet API without Docker. Node agents
are played through the agent API (tests/integration/cli/fakenode.py), so
this runs wherever PostgreSQL does.

1. The scheduler spreads tenants over nodes (the least loaded first); a
   node's allocation is the sum of its placements' plans.
2. A status report that changes nothing writes nothing.
3. Every fleet change is audited: deploy, stop, start, suspend, resume,
   undeploy, cordon, uncordon, drain, revoke, node delete.
4. Who may do what: operators deploy but do not manage nodes; auditors
   and tenants get 403 on node routes; an auditor may not deploy.
5. Fleet-wide default tenant configs (--default-gateway-config,
   --default-runtime-config): an empty-body deploy puts them, with the
   tenant's slug as "tenant", in the node's desired state; a role the
   body configures keeps the body's config; a default file that is
   missing, not JSON or not an object stops the daemon at start with an
   error naming the file.
6. A slow fleet stretches the down sweep's grace (SlowFleetTest): a node
   late past the grace goes down while the others' heartbeats arrive on
   time, but not while they all arrive late (the control plane is slow,
   not the node); a node late past the stretched grace still goes down.
"""

import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

from clawtest.cp import ControlPlane, binary, default_image_args
from clawtest.proc import wait_for
from common import CpTestCase

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
_names = itertools.count(1)
DEFAULT_GW = {"egress_allow": ["llm.test:443"],
              "channels": {"openai": {}, "webchat": {}}}
DEFAULT_RT = {"proxy": "http://gateway:3128",
              "providers": [{"name": "main", "kind": "openai",
                             "base_url": "https://llm.test/v1",
                             "model": "m", "api_key_secret": "llm_api_key"}]}


class FleetApiTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stops = []
        cls.nodes = {}
        for name in ("fa", "fb"):
            r = cls.admin.post("/v1/nodes/join-tokens", {})
            assert r.status == 201, r
            node = FakeNode(cls.cp.url, r.json()["token"], name)
            cls.nodes[name] = node
            cls.stops.append(node.autopilot())

    @classmethod
    def tearDownClass(cls):
        for s in cls.stops:
            s.set()
        time.sleep(0.5)
        super().tearDownClass()

    def tenant(self):
        slug = "f%d" % next(_names)
        self.make_tenant(slug)
        return slug

    def deploy(self, slug, client=None, body=None):
        r = (client or self.admin).post("/v1/tenants/%s/deploy" % slug,
                                        body or IMG)
        self.assertEqual(r.status, 202, r)
        return r.json()["id"]

    def placement(self, slug):
        r = self.admin.get("/v1/tenants/%s/placement" % slug)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def actions(self, target):
        items = self.admin.get("/v1/audit?limit=500").json()["items"]
        return [e["action"] for e in items if e["target"] == target]

    def test_spreads_and_audits_every_change(self):
        a, b = self.tenant(), self.tenant()
        self.deploy(a)
        self.deploy(b)
        na = self.placement(a)["node_id"]
        nb = self.placement(b)["node_id"]
        self.assertTrue(na and nb)
        self.assertNotEqual(na, nb, "two tenants on one node of two")
        for verb, action in (("stop", "tenant.stop"),
                             ("start", "tenant.start"),
                             ("suspend", "tenant.suspend"),
                             ("resume", "tenant.resume")):
            r = self.admin.post("/v1/tenants/%s/%s" % (a, verb))
            self.assertIn(r.status, (200, 202), (verb, r))
            self.assertIn(action, self.actions("tenants/" + a))
        self.assertIn("deploy", self.actions("tenants/" + a))
        r = self.admin.delete("/v1/tenants/%s/deployment" % b)
        self.assertIn(r.status, (200, 202, 204), r)
        self.assertIn("tenant.undeploy", self.actions("tenants/" + b))
        self.admin.delete("/v1/tenants/%s/deployment" % a)

    def test_allocation_is_the_sum_of_the_placements_plans(self):
        """A node's allocation, the room the scheduler sees, is the sum
        of the plans of its placements that are not stopped, kept on each
        placement by triggers (migrations/0022_placement_plan.sql): a
        deploy, a stop, a redeploy with another plan and a start move the
        fleet's allocation by exactly that plan, and each placement's
        columns are its deployment's plan."""
        def total():
            alloc = [n["allocated"] for n in
                     self.admin.get("/v1/nodes").json()["items"]]
            return (sum(a["cpus_milli"] for a in alloc),
                    sum(a["memory_mb"] for a in alloc),
                    sum(a["tenants"] for a in alloc))

        def columns(slug):
            return self.sql(
                "SELECT p.plan_cpus_milli || ' ' || p.plan_memory_mb || "
                "' ' || (d.spec->'plan'->>'cpus_milli') || ' ' || "
                "(d.spec->'plan'->>'memory_mb') FROM placements p JOIN "
                "tenants t ON t.id = p.tenant_id JOIN deployments d ON "
                "d.id = p.deployment_id WHERE t.slug = '%s'" % slug).split()

        slug = self.tenant()
        before = total()
        self.deploy(slug, body=dict(IMG, plan={"cpus_milli": 300,
                                               "memory_mb": 200}))
        self.assertEqual(total(), (before[0] + 300, before[1] + 200,
                                   before[2] + 1))
        self.assertEqual(columns(slug), ["300", "200", "300", "200"])
        r = self.admin.post("/v1/tenants/%s/stop" % slug)
        self.assertIn(r.status, (200, 202), r)
        self.assertEqual(total(), before)
        self.deploy(slug, body=dict(IMG, plan={"cpus_milli": 700,
                                               "memory_mb": 500}))
        self.assertEqual(columns(slug), ["700", "500", "700", "500"])
        r = self.admin.post("/v1/tenants/%s/start" % slug)
        self.assertIn(r.status, (200, 202), r)
        self.assertEqual(total(), (before[0] + 700, before[1] + 500,
                                   before[2] + 1))
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    def test_a_report_that_changes_nothing_writes_nothing(self):
        """A node's keep-alive status report of a tenant it reported the
        same way before writes nothing (the placement's updated_at and
        the events stay); any change is written as before."""
        slug = self.tenant()
        self.deploy(slug)
        wait_for(lambda: self.placement(slug)["phase"] == "healthy",
                 what="healthy")
        node = next(n for n in self.nodes.values()
                    if n.id == self.placement(slug)["node_id"])

        def row():
            return self.sql(
                "SELECT p.updated_at || ' ' || (SELECT count(*) FROM "
                "fleet_events e WHERE e.tenant_id = t.id) FROM placements "
                "p JOIN tenants t ON t.id = p.tenant_id WHERE t.slug = "
                "'%s'" % slug)

        before = row()
        for _ in range(3):
            node.report(slug, "healthy")
        self.assertEqual(row(), before)
        node.report(slug, "healthy", roles={"gateway": {"restarts": 1}})
        self.assertNotEqual(row(), before)
        node.report(slug, "crash_loop", reason="gateway: exit 7")
        self.assertEqual(self.placement(slug)["phase"], "crash_loop")
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    def test_node_changes_are_audited(self):
        r = self.admin.post("/v1/nodes/join-tokens", {})
        node = FakeNode(self.cp.url, r.json()["token"], "fc")
        for op in ("cordon", "uncordon", "drain", "revoke"):
            r = self.admin.post("/v1/nodes/%s/%s" % (node.id, op))
            self.assertEqual(r.status, 200, (op, r))
        self.assertEqual(self.admin.delete("/v1/nodes/fc").status, 204)
        items = self.admin.get("/v1/audit?limit=500").json()["items"]
        acts = [e["action"] for e in items if node.id in e["target"]]
        for a in ("node.join", "node.cordon", "node.uncordon",
                  "node.drain", "node.revoke", "node.delete"):
            self.assertIn(a, acts)

    def test_roles(self):
        slug = self.tenant()
        _, op = self.cp.new_token("operator")
        _, aud = self.cp.new_token("auditor")
        _, ten = self.cp.new_token("tenant", tenant=slug)
        node = self.nodes["fa"].id
        opc, audc, tenc = (self.cp.client(op), self.cp.client(aud),
                           self.cp.client(ten))
        self.assertEqual(opc.get("/v1/nodes").status, 200)
        for c in (audc, tenc):
            self.assertEqual(c.get("/v1/nodes").status, 403)
        for c in (opc, audc, tenc):
            for verb in ("cordon", "drain", "revoke"):
                r = c.post("/v1/nodes/%s/%s" % (node, verb))
                self.assertEqual(r.status, 403, (verb, r))
            self.assertEqual(c.delete("/v1/nodes/" + node).status, 403)
            self.assertEqual(c.post("/v1/nodes/join-tokens", {}).status,
                             403)
        self.assertEqual(audc.post("/v1/tenants/%s/deploy" % slug,
                                   IMG).status, 403)
        self.deploy(slug, client=opc)
        self.deploy(slug, client=tenc)
        wait_for(lambda: self.placement(slug)["phase"] == "healthy", 30,
                 what="the fake node to report healthy")
        self.assertEqual(self.admin.get("/v1/nodes/" + node).status, 200)
        self.admin.delete("/v1/tenants/%s/deployment" % slug)


class DefaultConfigTest(CpTestCase):
    """A second control plane on the class's PostgreSQL, started with
    default tenant configs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.files = {}
        for role, cfg in (("gateway", DEFAULT_GW), ("runtime", DEFAULT_RT)):
            # "tenant" in a default file is replaced by the slug
            cls.files[role] = cls.write(role + ".json",
                                        json.dumps(dict(cfg, tenant="x")))
        cls.dcp = ControlPlane(
            database_url=cls.pg.create_database(cls.db + "dflt"),
            extra_args=default_image_args(IMG["gateway_image"],
                                          IMG["runtime_image"]) +
            ["--default-gateway-config", cls.files["gateway"],
             "--default-runtime-config", cls.files["runtime"]],
            name="controlplane-defaults").start()
        cls.dadmin = cls.dcp.client()
        r = cls.dadmin.post("/v1/nodes/join-tokens", {})
        assert r.status == 201, r
        cls.node = FakeNode(cls.dcp.url, r.json()["token"], "fd")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.dcp.stop_clean()
        finally:
            cls.tmp.cleanup()
            super().tearDownClass()

    @classmethod
    def write(cls, name, text):
        path = os.path.join(cls.tmp.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def deploy_to_node(self, slug, body):
        r = self.dadmin.post("/v1/tenants", {"slug": slug, "name": slug})
        self.assertEqual(r.status, 201, r)
        # the default configs name these: a deploy without them is 422
        # missing_secrets (test_rollouts.py)
        for name in ("openai_api_token", "llm_api_key"):
            r = self.dadmin.put("/v1/tenants/%s/secrets/%s" % (slug, name),
                                {"value": "v-" + name})
            self.assertEqual(r.status, 201, r)
        r = self.dadmin.post("/v1/tenants/%s/deploy" % slug, body)
        self.assertEqual(r.status, 202, r)
        dep = r.json()["id"]
        return wait_for(lambda: (lambda t: t if t and t["deployment"] == dep
                                 else None)(self.node.tenant(slug)),
                        30, what="the assignment of " + slug)

    def test_empty_body_deploys_the_defaults(self):
        t = self.deploy_to_node("dflt-a", None)
        self.assertEqual(t["gateway"]["config"],
                         dict(DEFAULT_GW, tenant="dflt-a", suspended=False))
        self.assertEqual(t["runtime"]["config"],
                         dict(DEFAULT_RT, tenant="dflt-a"))
        self.assertEqual(t["gateway"]["image"], IMG["gateway_image"])
        # the deployment's spec pins the configs it was given
        dep = self.dadmin.get("/v1/tenants/dflt-a/deployments/" +
                              t["deployment"]).json()
        self.assertEqual(dep["spec"]["runtime_config"]["tenant"], "dflt-a")
        # each container gets only what its own config names, no "*"
        self.assertEqual(dep["spec"]["secrets"],
                         {"gateway": ["openai_api_token", "admin_token"],
                          "runtime": ["llm_api_key", "admin_token"]})

    def test_a_role_the_body_configures_keeps_its_config(self):
        own = {"tenant": "mine", "channels": {"openai": {}}}
        t = self.deploy_to_node("dflt-b", {"gateway_config": own})
        self.assertEqual(t["gateway"]["config"], dict(own, suspended=False))
        self.assertEqual(t["runtime"]["config"],
                         dict(DEFAULT_RT, tenant="dflt-b"))

    def test_bad_default_file_is_refused_at_start(self):
        cases = [("missing", os.path.join(self.tmp.name, "absent.json")),
                 ("not JSON", self.write("bad.json", '{"tenant": ')),
                 ("an array", self.write("arr.json", '["x"]'))]
        for what, path in cases:
            for opt in ("--default-gateway-config",
                        "--default-runtime-config"):
                p = subprocess.run(
                    [binary(), "--data-dir", self.tmp.name, opt, path],
                    capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, (what, opt, p.stderr))
                self.assertIn(opt[2:] + " " + path, p.stderr, what)
                self.assertNotIn("listening", p.stdout)


class SlowFleetTest(CpTestCase):
    """controlplane/scheduler.c, stretch_for: with heartbeats every 1 s and
    a grace of 3 intervals, 13 nodes. Their last heartbeats are set in the
    database, as a slow control plane would leave them."""

    NODES = 13

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cp.stop_clean()
        cls.db = "slowfleet"
        cls.cp = ControlPlane(database_url=cls.pg.create_database(cls.db),
                              extra_args=[
            "--heartbeat-ms", "1000", "--node-grace-intervals", "3"]).start()
        cls.admin = cls.cp.client()
        cls.fleet = []
        for i in range(cls.NODES):
            r = cls.admin.post("/v1/nodes/join-tokens", {})
            assert r.status == 201, r
            cls.fleet.append(FakeNode(cls.cp.url, r.json()["token"],
                                      "slow%d" % i))

    def ages(self, ages):
        """Set each node's last heartbeat ages[i] seconds ago (None: now,
        with a heartbeat)."""
        for i, age in enumerate(ages):
            if age is None:
                self.fleet[i].heartbeat()
        self.sql("UPDATE nodes SET last_heartbeat = now() - "
                 "make_interval(secs => v.age) FROM (VALUES %s) "
                 "v(name, age) WHERE nodes.name = v.name" % ", ".join(
                     "('slow%d', %.1f)" % (i, age)
                     for i, age in enumerate(ages) if age is not None))

    def status(self, i):
        return self.admin.get("/v1/nodes/" + self.fleet[i].id).json()[
            "status"]

    def test_a_slow_fleet_stretches_the_grace(self):
        # The others answer on time: node 0, silent for 5 s, goes down.
        pilots = [n.autopilot() for n in self.fleet[1:]]
        self.ages([5.0] + [None] * (self.NODES - 1))
        wait_for(lambda: self.status(0) == "down", 10, what="node 0 down")
        for p in pilots:
            p.set()
        time.sleep(0.5)  # a heartbeat under way lands before the ages
        # Every node's heartbeats come about every 8 s (ages spread over
        # 0-8 s): the grace stretches to 5 x 3 s. Node 1, silent for 9 s,
        # stays ready; node 2, silent for 25 s, goes down.
        others = [0.7 * k for k in range(self.NODES - 3)]
        self.ages([100.0, 9.0, 25.0] + others)  # node 0 stays down
        wait_for(lambda: self.status(2) == "down", 10, what="node 2 down")
        time.sleep(2)
        self.assertEqual(self.status(1), "ready")
        self.assertIn("heartbeats arrive every", self.cp.daemon.log_text())
        down = self.sql("SELECT name FROM nodes WHERE status = 'down' "
                        "ORDER BY name").split()
        self.assertEqual(down, ["slow0", "slow2"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
