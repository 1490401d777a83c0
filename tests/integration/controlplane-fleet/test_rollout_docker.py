"""Rollouts on real Docker: a control plane on a real PostgreSQL, a node
agent on the shared engine, the local registry, tenant images the harness
builds (na-healthsrv).

1. N tenants moved in batches of 5 to a new image (a second tag of the
   same image), each batch healthy before the next; the rollout completes.
2. A bad image (one that exits at once, so it never becomes healthy)
   halts the rollout at its first batch and rolls that batch back: those
   tenants run their previous deployment again; the rest were never
   touched.
3. The control plane killed (SIGKILL) mid-rollout and started again on
   the same database resumes the rollout and completes it.

N is ROLLOUT_TENANTS (default 30, the issue's figure: about two minutes
here for the 30; bench/rollout/ moves 50 the same way and prints the
times)."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import HEALTHSRV, HealthsrvCase, uniq  # noqa: E402
from clawtest.http import free_port  # noqa: E402
from fleet import FleetSuite  # noqa: E402

N = int(os.environ.get("ROLLOUT_TENANTS", "30"))


class RolloutDocker(FleetSuite, HealthsrvCase):
    REPO = "claw-test/rollout"
    CRASH = ["--crash-after-ms", "100", "--exit-code", "3"]

    NODE = "ro-node"

    @classmethod
    def fleet_extra(cls):
        # a fixed port: the agent finds the control plane again after it
        # is killed and started anew
        cls.port = free_port()
        return ["--listen", "127.0.0.1:%d" % cls.port,
                # 60 containers starting on a small machine must not cost
                # the node
                "--node-grace-intervals", "20"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the "new image": a second tag of the same image
        cls.env.build_image(HEALTHSRV, "%s:new-%s" % (cls.REPO, cls.tag))
        cls.new_tag = "%s/%s:new-%s" % (cls.env.registry, cls.REPO, cls.tag)

    def seed(self, n, group):
        """n tenants labelled group=GROUP, deployed and healthy: {slug:
        deployment id}."""
        deps = {}
        for i in range(n):
            slug = uniq("%s%d" % (group, i))
            r = self.admin.post("/v1/tenants", {
                "slug": slug, "name": slug, "labels": {"group": group}})
            self.assertEqual(r.status, 201, r)
            deps[slug] = self.fleet.deploy(slug, {})["id"]
        for slug, dep in deps.items():
            self.fleet.wait_dep(slug, dep, "healthy", 180)
        return deps

    def wait_state(self, rid, state, timeout=600):
        last = {}

        def check():
            last["r"] = self.admin.get("/v1/rollouts/" + rid).json()
            return last["r"] if last["r"]["state"] == state else None
        try:
            return self.fleet.wait(check, timeout, "rollout " + state)
        except AssertionError as e:
            raise AssertionError("%s\nlast: %s" % (e, last.get("r")))

    def spec_of(self, slug):
        p = self.fleet.placement(slug)
        return self.fleet.dep(slug, p["deployment_id"])

    def test_1_moves_in_batches_of_5(self):
        group = "mv"
        deps = self.seed(N, group)
        ro = self.admin.post("/v1/rollouts", {
            "selector": {"labels": {"group": group}},
            "images": {"gateway": self.new_tag, "runtime": self.new_tag},
            "max_unavailable": 5})
        self.assertEqual(ro.status, 201, ro)
        done = self.wait_state(ro.json()["id"], "completed")
        self.assertEqual((done["total"], done["succeeded"], done["failed"]),
                         (N, N, 0))
        batches = [t["batch"] for t in done["tenants"]]
        want = [1 + i // 5 for i in range(N)]
        self.assertEqual(sorted(batches), want)
        for t in done["tenants"]:
            self.assertEqual(t["previous_deployment"], deps[t["tenant"]])
            d = self.spec_of(t["tenant"])
            self.assertEqual(d["id"], t["deployment"])
            self.assertEqual(d["phase"], "healthy")
            self.assertEqual(d["spec"]["runtime_image"], self.new_tag)
            self.assertEqual(len(self.node.running(t["tenant"])), 2)

    def test_2_bad_image_halts_first_batch_and_rolls_back(self):
        group = "bad"
        deps = self.seed(6, group)
        ro = self.admin.post("/v1/rollouts", {
            "selector": {"labels": {"group": group}},
            "images": {"gateway": self.crash, "runtime": self.crash},
            "max_unavailable": 3, "failure_threshold": 1})
        self.assertEqual(ro.status, 201, ro)
        h = self.wait_state(ro.json()["id"], "halted")
        by_state = {}
        for t in h["tenants"]:
            by_state.setdefault(t["state"], []).append(t)
        self.assertEqual(len(by_state.get("rolled_back", [])), 3, h)
        self.assertEqual(len(by_state.get("skipped", [])), 3, h)
        for t in by_state["rolled_back"]:
            self.assertEqual(t["batch"], 1)
            d = self.spec_of(t["tenant"])
            self.assertEqual(d["rollback_of"], deps[t["tenant"]])
            self.fleet.wait_dep(t["tenant"], d["id"], "healthy", 180)
        for t in by_state["skipped"]:
            self.assertEqual(self.spec_of(t["tenant"])["id"],
                             deps[t["tenant"]])
        actions = [e["action"] for e in self.admin.get(
            "/v1/audit?limit=500").json()["items"]]
        for a in ("rollout.create", "rollout.halt",
                  "rollout.tenant.rollback"):
            self.assertIn(a, actions)

    def test_3_killed_control_plane_resumes(self):
        group = "kill"
        self.seed(6, group)
        r = self.admin.post("/v1/rollouts", {
            "selector": {"labels": {"group": group}},
            "images": {"gateway": self.new_tag, "runtime": self.new_tag},
            "max_unavailable": 2})
        self.assertEqual(r.status, 201, r)
        rid = r.json()["id"]
        self.fleet.wait(lambda: self.admin.get("/v1/rollouts/" + rid)
                        .json()["batch"] >= 1, 120, "the first batch")
        cp = self.fleet.cp
        cp.kill()
        cp.daemon._lines.clear()  # wait for the new "listening on"
        cp.start()
        self.assertEqual(cp.url, "http://127.0.0.1:%d" % self.port)
        done = self.wait_state(rid, "completed")
        self.assertEqual((done["succeeded"], done["failed"]), (6, 0))
        self.assertEqual(sorted(t["batch"] for t in done["tenants"]),
                         [1, 1, 2, 2, 3, 3])


if __name__ == "__main__":
    unittest.main(verbosity=2)
