"""What the scheduler reads at fleet scale, kept by triggers
(migrations/0023_node_load.sql; label pg, no Docker; the nodes are fake
agents, tests/integration/cli/fakenode.py). Each node's load is always
the aggregate the scheduler used to compute on every pick: for every
node, the sum of the plans (cpus_milli, memory_mb) and the count of its
placements that are not stopped.

1. Through the API: deploys with different plans, stop, start, suspend,
   resume, a redeploy with another plan, an undeploy, a tenant deleted, a
   node drained and a node lost (its tenants moved by the leader's
   sweep): after each, node_load equals the aggregate over placements.
2. Straight on the table, a seeded sequence of single-row changes each
   trigger case must follow: a placement moved, made pending, placed
   again, stopped, started, suspended, given another deployment (0022's
   trigger sets its plan), its deployment's plan rewritten (0022's
   cascade), deleted and inserted again; checked after every statement,
   so a case a trigger forgot fails at the statement that shows it.
3. The scheduler reads that load: a node filled to its last plan takes
   no more tenants, and the room an undeploy frees goes to a pending
   tenant.
4. The leader's secrets sweep, which compares only the tenants queued by
   triggers (secret_checks, same migration), still gives the node a new
   generation when a secret is put, rotated or deleted, and when the
   release a node's document recorded is stale.
"""

import itertools
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "cli")))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..",
                                                 "controlplane")))
from clawtest.proc import wait_for  # noqa: E402
from common import CpTestCase  # noqa: E402
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
_names = itertools.count(1)

# node_load rows that differ from the aggregate (zero rows count as
# absent ones): "node cpus mem n | node cpus mem n" per line, "" if none
MISMATCH = (
    "SELECT coalesce(a.node_id, l.node_id) || ' ' || coalesce(a.c, 0) || "
    "' ' || coalesce(a.m, 0) || ' ' || coalesce(a.n, 0) || ' | ' || "
    "coalesce(l.cpus_milli, 0) || ' ' || coalesce(l.memory_mb, 0) || ' ' "
    "|| coalesce(l.tenants, 0) FROM (SELECT node_id, sum(plan_cpus_milli) "
    "c, sum(plan_memory_mb) m, count(*) n FROM placements WHERE node_id IS "
    "NOT NULL AND state <> 'stopped' GROUP BY node_id) a FULL JOIN "
    "(SELECT * FROM node_load WHERE tenants <> 0 OR cpus_milli <> 0 OR "
    "memory_mb <> 0) l ON l.node_id = a.node_id WHERE a.c IS DISTINCT "
    "FROM l.cpus_milli OR a.m IS DISTINCT FROM l.memory_mb OR a.n IS "
    "DISTINCT FROM l.tenants")


class SchedTriggersTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stops = {}
        cls.nodes = {}
        for name in ("la", "lb", "lc"):
            cls.add_node(name)

    @classmethod
    def add_node(cls, name):
        r = cls.admin.post("/v1/nodes/join-tokens", {})
        assert r.status == 201, r
        cls.nodes[name] = FakeNode(cls.cp.url, r.json()["token"], name)
        cls.stops[name] = cls.nodes[name].autopilot()

    @classmethod
    def tearDownClass(cls):
        for s in cls.stops.values():
            s.set()
        super().tearDownClass()

    def assertLoadRight(self, after):
        self.assertEqual(self.sql(MISMATCH), "",
                         "node_load differs from the placements after "
                         + after)

    def tenant(self, plan=None):
        slug = "ld%d" % next(_names)
        self.make_tenant(slug)
        if plan is not None:
            self.deploy(slug, plan)
        return slug

    def deploy(self, slug, plan):
        body = dict(IMG, plan={"cpus_milli": plan[0], "memory_mb": plan[1]})
        r = self.admin.post("/v1/tenants/%s/deploy" % slug, body)
        self.assertEqual(r.status, 202, r)

    def node_of(self, slug):
        r = self.admin.get("/v1/tenants/%s/placement" % slug)
        return r.json().get("node_id") if r.status == 200 else None

    def post(self, path):
        r = self.admin.post(path)
        self.assertIn(r.status, (200, 202), (path, r))

    def test_1_load_follows_the_api(self):
        slugs = [self.tenant((100 * (i + 1), 64 * (i + 1)))
                 for i in range(6)]
        self.assertLoadRight("deploys")
        self.post("/v1/tenants/%s/stop" % slugs[0])
        self.assertLoadRight("a stop")
        self.post("/v1/tenants/%s/start" % slugs[0])
        self.assertLoadRight("a start")
        self.post("/v1/tenants/%s/suspend" % slugs[1])
        self.assertLoadRight("a suspension")
        self.post("/v1/tenants/%s/resume" % slugs[1])
        self.deploy(slugs[2], (900, 700))
        self.assertLoadRight("a redeploy with another plan")
        r = self.admin.delete("/v1/tenants/%s/deployment" % slugs[3])
        self.assertIn(r.status, (200, 202, 204), r)
        self.assertLoadRight("an undeploy")
        r = self.admin.delete("/v1/tenants/" + slugs[4])
        self.assertIn(r.status, (200, 202, 204), r)
        wait_for(lambda: self.sql(
            "SELECT count(*) FROM placements p JOIN tenants t ON "
            "t.id = p.tenant_id WHERE t.slug = '%s'" % slugs[4]) == "0",
            60, what="the deleted tenant's placement to go")
        self.assertLoadRight("a tenant deleted")
        # a drain moves the node's tenants off one at a time
        drained = self.node_of(slugs[5])
        self.post("/v1/nodes/%s/drain" % drained)
        wait_for(lambda: self.sql(
            "SELECT count(*) FROM placements WHERE node_id = '%s'"
            % drained) == "0", 90, what="the drained node to empty")
        self.assertLoadRight("a drain")
        self.post("/v1/nodes/%s/uncordon" % drained)
        # a node lost: its tenants are moved by the leader's sweep
        lost = self.node_of(slugs[2])
        lost_name = next(n for n, v in self.nodes.items() if v.id == lost)
        self.stops.pop(lost_name).set()
        wait_for(lambda: self.sql(
            "SELECT count(*) FROM placements WHERE node_id = '%s'"
            % lost) == "0", 120, what="the lost node's tenants to move")
        self.assertLoadRight("a node lost")
        self.assertNotEqual(self.node_of(slugs[2]), lost)

    def test_2_every_trigger_case(self):
        slugs = [self.tenant((50 + 10 * i, 32 + 8 * i)) for i in range(8)]
        q = ",".join("'%s'" % s for s in slugs)
        tenants = self.sql("SELECT t.id FROM tenants t WHERE t.slug IN "
                           "(%s) ORDER BY t.slug" % q).split()
        # a second deployment of each, to point placements at: the
        # first one's spec with another plan
        for i, t in enumerate(tenants):
            self.sql(
                "INSERT INTO deployments (id, tenant_id, spec, phase) "
                "SELECT 'dep_' || md5(random()::text), tenant_id, "
                "jsonb_set(spec, '{plan}', '{\"cpus_milli\": %d, "
                "\"memory_mb\": %d}'), 'superseded' FROM deployments "
                "WHERE id = (SELECT deployment_id FROM placements WHERE "
                "tenant_id = '%s')" % (7 + i, 5 + i, t))
        ready = [n.id for n in self.nodes.values()
                 if self.sql("SELECT status FROM nodes WHERE id = '%s'"
                             % n.id) == "ready"]
        self.assertTrue(ready)
        rnd = random.Random(23)
        saved = {}
        for step in range(120):
            t = rnd.choice(tenants)
            kind = rnd.choice(["move", "pending", "state", "state",
                               "deployment", "spec", "delete"])
            if t in saved:  # deleted: insert it again
                dep, state = saved.pop(t)
                sql = ("INSERT INTO placements (tenant_id, deployment_id, "
                       "state, node_id) VALUES ('%s', '%s', '%s', '%s')"
                       % (t, dep, state, rnd.choice(ready)))
            elif kind == "move":
                sql = ("UPDATE placements SET node_id = '%s' WHERE "
                       "tenant_id = '%s'" % (rnd.choice(ready), t))
            elif kind == "pending":
                # a pending placement as cp_store_place_move makes it;
                # the leader's sweep may place it again meanwhile
                sql = ("UPDATE placements SET node_id = NULL, reason = "
                       "'test' WHERE tenant_id = '%s'" % t)
            elif kind == "state":
                sql = ("UPDATE placements SET state = '%s' WHERE "
                       "tenant_id = '%s'" % (rnd.choice(
                           ["running", "suspended", "stopped"]), t))
            elif kind == "deployment":
                sql = ("UPDATE placements SET deployment_id = (SELECT id "
                       "FROM deployments WHERE tenant_id = '%s' AND id "
                       "<> placements.deployment_id ORDER BY seq LIMIT 1) "
                       "WHERE tenant_id = '%s'" % (t, t))
            elif kind == "spec":
                sql = ("UPDATE deployments SET spec = jsonb_set(spec, "
                       "'{plan,cpus_milli}', to_jsonb(%d)) WHERE id = "
                       "(SELECT deployment_id FROM placements WHERE "
                       "tenant_id = '%s')" % (rnd.randrange(1, 999), t))
            else:
                saved[t] = tuple(self.sql(
                    "SELECT deployment_id || ' ' || state FROM placements "
                    "WHERE tenant_id = '%s'" % t).split())
                sql = "DELETE FROM placements WHERE tenant_id = '%s'" % t
            self.sql(sql)
            self.assertLoadRight("step %d: %s" % (step, sql))
        for t, (dep, state) in saved.items():
            self.sql("INSERT INTO placements (tenant_id, deployment_id, "
                     "state, node_id) VALUES ('%s', '%s', '%s', '%s')"
                     % (t, dep, state, ready[0]))
        self.assertLoadRight("the last inserts")
        for s in slugs:
            self.admin.delete("/v1/tenants/%s/deployment" % s)
        self.assertLoadRight("undeploys")

    def test_3_the_pick_reads_the_load(self):
        """A node (4000 milli-CPUs, 8192 MiB) takes two plans of half its
        size, a third stays pending, and once one is undeployed the
        pending one is placed there by the leader's sweep."""
        others = list(self.nodes.values())
        for n in others:
            self.post("/v1/nodes/%s/cordon" % n.id)
        try:
            r = self.admin.post("/v1/nodes/join-tokens", {})
            self.assertEqual(r.status, 201, r)
            node = FakeNode(self.cp.url, r.json()["token"], "lsmall")
            self.stops["lsmall"] = node.autopilot()
            self.nodes["lsmall"] = node
            a, b, c = (self.tenant((2000, 4096)) for _ in range(3))
            self.assertEqual(self.node_of(a), node.id)
            self.assertEqual(self.node_of(b), node.id)
            self.assertIsNone(self.node_of(c), "a third plan on a full "
                              "node")
            self.assertLoadRight("a full node")
            r = self.admin.delete("/v1/tenants/%s/deployment" % b)
            self.assertIn(r.status, (200, 202, 204), r)
            wait_for(lambda: self.node_of(c) == node.id, 60,
                     what="the pending tenant to take the freed room")
            self.assertLoadRight("the pending tenant placed")
        finally:
            for n in others:
                self.admin.post("/v1/nodes/%s/uncordon" % n.id)


    def test_4_the_secrets_sweep_reaches_the_node(self):
        """A node is given a new desired state (its generation) by the
        leader's secrets sweep when the tenant's secrets change and when
        the release it recorded is stale (as one built from secrets read
        before a change that committed first): the queue the triggers
        fill covers both. The node here is driven by hand, as an agent
        that only asks again when its generation moves."""
        others = list(self.nodes.values())
        for n in others:
            self.post("/v1/nodes/%s/cordon" % n.id)
        slug = None
        try:
            r = self.admin.post("/v1/nodes/join-tokens", {})
            self.assertEqual(r.status, 201, r)
            node = FakeNode(self.cp.url, r.json()["token"], "lsec")
            slug = self.tenant((100, 64))
            self.assertEqual(self.node_of(slug), node.id)
            tid = self.sql("SELECT id FROM tenants WHERE slug = '%s'" % slug)

            def gen():
                return int(self.sql("SELECT generation FROM nodes WHERE "
                                    "id = '%s'" % node.id))

            def bumped_since(g):
                node.heartbeat()  # stays ready meanwhile
                return gen() > g

            def given():
                node.assignments()  # the document built, the release kept
                return self.sql(
                    "SELECT fingerprint FROM secret_releases WHERE "
                    "node_id = '%s' AND tenant_id = '%s'" % (node.id, tid))

            self.assertTrue(given())
            path = "/v1/tenants/%s/secrets/SWEEP_KEY" % slug
            for what, change in (
                    ("a secret put", lambda: self.admin.put(
                        path, {"value": "v1-" + slug})),
                    ("a secret rotated", lambda: self.admin.put(
                        path, {"value": "v2-" + slug})),
                    ("a secret deleted", lambda: self.admin.delete(path)),
                    ("a stale release", lambda: self.sql(
                        "UPDATE secret_releases SET fingerprint = "
                        "repeat('0', 64) WHERE node_id = '%s' AND "
                        "tenant_id = '%s'" % (node.id, tid)))):
                given()
                # the checks queued so far (the release just kept) done,
                # so only the change's own row can move the node
                wait_for(lambda: self.sql(
                    "SELECT count(*) FROM secret_checks WHERE tenant_id = "
                    "'%s'" % tid) == "0", 60, what="the queue to drain")
                g = gen()
                r = change()
                if not isinstance(r, str):
                    self.assertIn(r.status, (200, 201, 204), (what, r))
                wait_for(lambda: bumped_since(g), 60,
                         what="the node's generation to move after " + what)
                self.assertNotEqual(given(), "0" * 64)
        finally:
            for n in others:
                self.admin.post("/v1/nodes/%s/uncordon" % n.id)
            if slug:
                self.admin.delete("/v1/tenants/%s/deployment" % slug)


if __name__ == "__main__":
    unittest.main()
