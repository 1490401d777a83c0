"""Purge tombstones (migrations/0021_purge_tombstones.sql, store/purge.c,
api/tenants.c's purge, api/agent.c's "purged" and "purged_done";
docs/reliability.md finding 2), with fake nodes of the agent API
(tests/integration/cli/fakenode.py; label pg, no Docker). The node
agent's side is tests/integration/node-agent/test_node_agent_purge.py.

Proves:
- a purge wakes the long poll of the node that held the tenant, whose
  assignment lists the slug in "purged"; a node that never held it never
  sees it, and its acknowledgement deletes nothing of another node's;
- a status report's "purged_done" (with its desired_generation) deletes
  the node's tombstone: the next assignment no longer lists it;
- a node that was down at purge time (its tenant moved to another node
  meanwhile) learns of it when it comes back, and so does the node the
  tenant moved to;
- a tenant re-created with the same slug is not affected: its placement
  and assignment stay, and an acknowledgement sent before its own purge
  (an older desired_generation) does not delete that purge's tombstone;
- tombstones a node never acknowledges are deleted 30 days on (by the
  leader's sweeps);
- a malformed purged_done is 422 and deletes nothing.
"""

import os
import sys
import threading
import time
import unittest

from clawtest.cp import ControlPlane
from clawtest.pg import PgCluster
from clawtest.proc import wait_for

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}


class Beater:
    """Heartbeats for a fake node in a thread, which a test may pause (the
    node goes down) and resume."""

    def __init__(self, node):
        self.node = node
        self.paused = threading.Event()
        self.stop = threading.Event()
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stop.is_set():
            if not self.paused.is_set():
                try:
                    self.node.heartbeat()
                except (OSError, AssertionError):
                    pass
            time.sleep(0.15)


class Purge(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        cls.cp = ControlPlane(database_url=cls.pg.create_database(
            "purge"), extra_args=["--heartbeat-ms", "500"]).start()
        cls.admin = cls.cp.client()
        cls.a = cls.join("pg-node-a")
        cls.b = cls.join("pg-node-b")
        cls.beats = [Beater(cls.a), Beater(cls.b)]

    @classmethod
    def tearDownClass(cls):
        try:
            for b in cls.beats:
                b.stop.set()
            cls.cp.stop_clean()
        finally:
            cls.pg.stop()

    @classmethod
    def join(cls, name):
        r = cls.admin.post("/v1/nodes/join-tokens", {"ttl_s": 600})
        return FakeNode(cls.cp.url, r.json()["token"], name)

    def placed_on(self, slug):
        r = self.admin.get("/v1/tenants/%s/placement" % slug)
        return r.json().get("node_name") if r.status == 200 else None

    def deploy(self, slug, node, create=True):
        """Deploy slug on node (the other one cordoned meanwhile)."""
        other = self.b if node is self.a else self.a
        if create:
            r = self.admin.post("/v1/tenants", {"slug": slug, "name": slug})
            self.assertEqual(r.status, 201, r)
        self.assertEqual(self.admin.post(
            "/v1/nodes/%s/cordon" % other.id, {}).status, 200)
        try:
            r = self.admin.post("/v1/tenants/%s/deploy" % slug, IMG)
            self.assertEqual(r.status, 202, r)
            wait_for(lambda: self.placed_on(slug) == node.name, timeout=60,
                     what=slug + " placed on " + node.name)
        finally:
            self.assertEqual(self.admin.post(
                "/v1/nodes/%s/uncordon" % other.id, {}).status, 200)
        wait_for(lambda: node.tenant(slug), timeout=30,
                 what=slug + " in the assignment of " + node.name)

    def purge(self, slug):
        r = self.admin.delete("/v1/tenants/%s" % slug)
        self.assertEqual(r.status, 200, r)
        r = self.admin.post("/v1/tenants/%s/purge" % slug)
        self.assertEqual(r.status, 204, r)

    def ack(self, node, slugs, generation):
        return node.api.post("/v1/agent/status", {
            "tenants": [], "purged_done": slugs,
            "desired_generation": generation})

    def test_purge_wakes_the_node_and_an_ack_deletes_it(self):
        self.deploy("pg-one", self.a)
        # the delete takes the tenant off the node (a new generation);
        # then a long poll waits past it, and the purge wakes it
        r = self.admin.delete("/v1/tenants/pg-one")
        self.assertEqual(r.status, 200, r)
        gen = wait_for(lambda: (lambda d: d["generation"] if not any(
            t["tenant"] == "pg-one" for t in d["tenants"]) else None)(
                self.a.assignments()), timeout=30, what="pg-one taken off")
        got = {}

        def poll():
            # long polls from gen on (other changes may wake one first),
            # until one lists the purge or one waits the full 60 s (204)
            g = gen
            while True:
                r = self.a.api.get(
                    "/v1/agent/assignments?generation=%d&wait=60" % g)
                got["r"] = r
                if r.status != 200 or r.json().get("purged"):
                    return
                g = r.json()["generation"]
        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.3)  # mostly parked in its wait; either way it answers
        r = self.admin.post("/v1/tenants/pg-one/purge")
        self.assertEqual(r.status, 204, r)
        th.join(150)
        self.assertFalse(th.is_alive())
        r = got["r"]
        # 200, not 204 after the full wait: the purge woke it
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertGreater(doc["generation"], gen)
        self.assertEqual(doc["purged"], ["pg-one"])
        # a node that never held it never sees it
        self.assertNotIn("pg-one", self.b.assignments()["purged"])
        # another node's acknowledgement deletes nothing of a's
        bgen = self.b.assignments()["generation"]
        self.assertEqual(self.ack(self.b, ["pg-one"],
                                  max(bgen, doc["generation"])).status, 204)
        self.assertIn("pg-one", self.a.assignments()["purged"])
        # acknowledged: gone
        r = self.ack(self.a, ["pg-one"], doc["generation"])
        self.assertEqual(r.status, 204, r)
        self.assertNotIn("pg-one", self.a.assignments()["purged"])

    def test_a_node_down_at_purge_time_learns_it_when_back(self):
        self.deploy("pg-down", self.a)
        self.beats[0].paused.set()
        try:
            wait_for(lambda: self.admin.get("/v1/nodes/%s" % self.a.id)
                     .json()["status"] == "down", timeout=60,
                     what="node a down")
            # the sweep moves its tenant to b
            wait_for(lambda: self.placed_on("pg-down") == self.b.name,
                     timeout=60, what="pg-down moved to node b")
            self.purge("pg-down")
            self.assertIn("pg-down", self.b.assignments()["purged"])
        finally:
            self.beats[0].paused.clear()
        wait_for(lambda: self.admin.get("/v1/nodes/%s" % self.a.id)
                 .json()["status"] == "ready", timeout=60,
                 what="node a back")
        doc = self.a.assignments()
        self.assertIn("pg-down", doc["purged"])
        self.assertEqual(self.ack(self.a, ["pg-down"],
                                  doc["generation"]).status, 204)
        self.assertNotIn("pg-down", self.a.assignments()["purged"])
        # b's own tombstone is b's to acknowledge
        doc = self.b.assignments()
        self.assertIn("pg-down", doc["purged"])
        self.assertEqual(self.ack(self.b, ["pg-down"],
                                  doc["generation"]).status, 204)
        self.assertNotIn("pg-down", self.b.assignments()["purged"])

    def test_a_recreated_tenant_is_not_affected(self):
        self.deploy("pg-again", self.a)
        old_id = self.admin.get("/v1/tenants/pg-again").json()["id"]
        self.purge("pg-again")
        self.deploy("pg-again", self.a)
        new_id = self.admin.get("/v1/tenants/pg-again").json()["id"]
        self.assertNotEqual(old_id, new_id)
        doc = self.a.assignments()
        # the old tenant's tombstone is listed beside the new tenant's
        # assignment (the agent leaves a slug it runs alone)
        self.assertIn("pg-again", doc["purged"])
        self.assertTrue(any(t["tenant"] == "pg-again"
                            for t in doc["tenants"]))
        early = doc["generation"]
        self.assertEqual(self.ack(self.a, ["pg-again"], early).status, 204)
        doc = self.a.assignments()
        self.assertNotIn("pg-again", doc["purged"])
        self.assertTrue(any(t["tenant"] == "pg-again"
                            for t in doc["tenants"]))
        self.assertEqual(self.placed_on("pg-again"), self.a.name)
        # the new tenant purged in turn: an acknowledgement of before its
        # purge does not delete its tombstone
        self.purge("pg-again")
        self.assertEqual(self.ack(self.a, ["pg-again"], early).status, 204)
        doc = self.a.assignments()
        self.assertIn("pg-again", doc["purged"])
        self.assertEqual(self.ack(self.a, ["pg-again"],
                                  doc["generation"]).status, 204)
        self.assertNotIn("pg-again", self.a.assignments()["purged"])

    def test_tombstones_of_a_node_that_never_acknowledges_expire(self):
        self.deploy("pg-old", self.a)
        self.purge("pg-old")
        self.assertIn("pg-old", self.a.assignments()["purged"])
        # 31 days ago: the leader's sweeps delete it
        self.pg.psql("UPDATE purge_tombstones SET purged_at = now() - "
                     "interval '31 days' WHERE slug = 'pg-old'",
                     dbname="purge")
        wait_for(lambda: "pg-old" not in self.a.assignments()["purged"],
                 30, what="the old tombstone swept")

    def test_malformed_purged_done_is_refused(self):
        self.deploy("pg-bad", self.a)
        self.purge("pg-bad")
        gen = self.a.assignments()["generation"]
        for body in ({"tenants": [], "purged_done": "pg-bad",
                      "desired_generation": gen},
                     {"tenants": [], "purged_done": [1],
                      "desired_generation": gen},
                     {"tenants": [], "purged_done": ["pg-bad"]},
                     {"tenants": [], "purged_done": ["x" * 65],
                      "desired_generation": gen}):
            r = self.a.api.post("/v1/agent/status", body)
            self.assertEqual((r.status, r.error_code()),
                             (422, "invalid_field"), body)
        self.assertIn("pg-bad", self.a.assignments()["purged"])
        self.assertEqual(self.ack(self.a, ["pg-bad"], gen).status, 204)
        self.assertNotIn("pg-bad", self.a.assignments()["purged"])


if __name__ == "__main__":
    unittest.main()
