"""Integration: quota enforcement on the control plane's side
(docs/fleet.md, "Quotas"), against a real PostgreSQL; the node is played
through the agent API (tests/integration/cli/fakenode.py).

1. Each tenant's assignment carries "quota": the plan's limits, the
   stored usage of this UTC day / month, when each resets, and the
   plan's quota_message (else the default text); a tenant without a plan
   gets nulls and the default.
2. A usage report that moves the tenant across its limit emits
   quota.exhausted once and gives its node a new generation (the long
   poll answers); a further report does not emit it again.
3. A plan change (turns_per_day 2 -> 5) reaches the assignment without a
   redeploy: a new generation, the new limit, quota.restored once.
5. Refusals the node collected from the gateway ("quota_refusals" in a
   usage report) are summed in the tenant's usage and exported as
   claw_tenant_quota_refusals_total; a negative count is refused.
4. quota_message is validated: a string of 1-1024 bytes without control
   characters, or "" (back to the default); anything else is 422.
"""

import datetime
import itertools
import os
import sys
import unittest

from common import CpTestCase

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
DEFAULT_MESSAGE = ("This assistant has reached its usage limit for now. "
                   "Please try again later.")
_names = itertools.count(1)


def now_at():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class QuotaTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        token = cls.admin.post("/v1/nodes/join-tokens", {}).json()["token"]
        cls.node = FakeNode(cls.cp.url, token, "quota-a")
        # the only node that takes tenants
        others = [n["id"] for n in cls.admin.get("/v1/nodes").json()["items"]
                  if n["id"] != cls.node.id]
        for node_id in others:
            cls.admin.post("/v1/nodes/%s/cordon" % node_id)

    def placed_tenant(self, plan=None):
        slug = "qt%d" % next(_names)
        r = self.admin.post("/v1/tenants", {"slug": slug, "name": slug})
        self.assertEqual(r.status, 201, r)
        if plan:
            r = self.admin.patch("/v1/tenants/" + slug, {"plan": plan})
            self.assertEqual(r.status, 200, r)
        for _ in range(2):   # again once the preflight's secrets are set
            r = self.admin.post("/v1/tenants/%s/deploy" % slug, IMG)
            if r.status == 202:
                break
            missing = r.json()["error"].get("missing", [])
            for name in {m["secret"] for m in missing}:
                self.admin.put("/v1/tenants/%s/secrets/%s" % (slug, name),
                               {"value": "x"})
        self.assertEqual(r.status, 202, r)
        return slug

    def plan(self, **quota):
        name = "qp%d" % next(_names)
        r = self.admin.post("/v1/plans", {
            "name": name, "cpus_milli": 500, "memory_mb": 256, "pids": 128,
            "quota": quota, "quota_message": "Out of chats for today."})
        self.assertEqual(r.status, 201, r)
        return name

    def events(self, kind, slug):
        return int(self.sql(
            "SELECT count(*) FROM fleet_events e JOIN tenants t ON "
            "t.id = e.tenant_id WHERE e.type = '%s' AND t.slug = '%s'"
            % (kind, slug)))

    def generation(self):
        return self.node.assignments()["generation"]

    def woken(self, gen):
        r = self.node.api.get("/v1/agent/assignments?generation=%d&wait=5"
                              % gen)
        return r.status == 200 and r.json()["generation"] > gen

    def report(self, slug, turns):
        r = self.node.api.post("/v1/agent/usage", {"reports": [
            {"tenant": slug, "at": now_at(), "turns": turns}]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 1)

    # 1
    def test_assignment_carries_quota(self):
        name = self.plan(turns_per_day=2, tokens_per_month=1000)
        slug = self.placed_tenant(name)
        q = self.node.tenant(slug)["quota"]
        self.assertEqual(q["message"], "Out of chats for today.")
        self.assertEqual(q["turns_per_day"]["limit"], 2)
        self.assertEqual(q["turns_per_day"]["used"], 0)
        self.assertTrue(q["turns_per_day"]["resets_at"].endswith(
            "T00:00:00Z"))
        self.assertEqual(q["tokens_per_month"]["limit"], 1000)
        self.assertTrue(q["tokens_per_month"]["resets_at"].endswith(
            "-01T00:00:00Z"))
        other = self.placed_tenant()
        q = self.node.tenant(other)["quota"]
        self.assertEqual(q, {"turns_per_day": None,
                             "tokens_per_month": None,
                             "message": DEFAULT_MESSAGE})
        # issue 12, point 2: the readiness window travels too: the fleet's
        # --min-ready-ms (default 2000) where the spec (a rollout's) gives
        # none
        self.assertEqual(self.node.tenant(other)["min_ready_ms"], 2000)

    # 2 and 3
    def test_crossing_wakes_and_plan_change_applies(self):
        name = self.plan(turns_per_day=2)
        slug = self.placed_tenant(name)
        self.report(slug, 1)
        self.assertEqual(self.events("quota.exhausted", slug), 0)
        gen = self.generation()
        self.report(slug, 1)                       # 2 of 2: exhausted
        self.assertTrue(self.woken(gen))
        self.assertEqual(self.events("quota.exhausted", slug), 1)
        q = self.node.tenant(slug)["quota"]["turns_per_day"]
        self.assertEqual((q["limit"], q["used"]), (2, 2))
        self.report(slug, 1)                       # still exhausted
        self.assertEqual(self.events("quota.exhausted", slug), 1)
        ev = self.sql("SELECT data->>'quota' FROM fleet_events e JOIN "
                      "tenants t ON t.id = e.tenant_id WHERE t.slug = '%s' "
                      "AND e.type = 'quota.exhausted'" % slug)
        self.assertEqual(ev, "turns_per_day")

        gen = self.generation()
        r = self.admin.patch("/v1/plans/" + name,
                             {"quota": {"turns_per_day": 5}})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(self.woken(gen))
        q = self.node.tenant(slug)["quota"]["turns_per_day"]
        self.assertEqual((q["limit"], q["used"]), (5, 3))
        self.assertEqual(self.events("quota.restored", slug), 1)
        # the message alone changes too, without a redeploy
        gen = self.generation()
        r = self.admin.patch("/v1/plans/" + name,
                             {"quota_message": "Come back tomorrow."})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["quota_message"], "Come back tomorrow.")
        self.assertTrue(self.woken(gen))
        self.assertEqual(self.node.tenant(slug)["quota"]["message"],
                         "Come back tomorrow.")
        r = self.admin.patch("/v1/plans/" + name, {"quota_message": ""})
        self.assertIsNone(r.json()["quota_message"])
        self.assertEqual(self.node.tenant(slug)["quota"]["message"],
                         DEFAULT_MESSAGE)
        self.assertEqual(self.events("quota.restored", slug), 1)

    # 4
    def test_quota_message_validated(self):
        name = self.plan(turns_per_day=1)
        for bad in ("x" * 1025, "bell\x07", "esc\x1b[2J", 7, ["a"], True):
            r = self.admin.patch("/v1/plans/" + name, {"quota_message": bad})
            self.assertError(r, 422, "invalid_quota")
        self.assertError(self.admin.patch("/v1/plans/" + name,
                                          {"quota_message": None}),
                         422, "invalid_field")
        r = self.admin.patch("/v1/plans/" + name,
                             {"quota_message": "é" * 512})   # 1024 bytes
        self.assertEqual(r.status, 200, r)
        self.assertEqual(self.admin.get("/v1/plans/" + name).json()
                         ["quota_message"], "é" * 512)


    # 5
    def test_refusals_visible(self):
        slug = self.placed_tenant(self.plan(turns_per_day=1))
        for n in (2, 1):
            r = self.node.api.post("/v1/agent/usage", {"reports": [
                {"tenant": slug, "at": now_at(), "quota_refusals": n}]})
            self.assertEqual(r.status, 200, r)
        day = datetime.datetime.now(datetime.timezone.utc).date()
        u = self.admin.get("/v1/tenants/%s/usage?since=%sT00:00:00Z"
                           "&granularity=day" % (slug, day)).json()
        self.assertEqual(u["totals"]["quota_refusals"], 3)
        text = self.cp.client().get("/metrics").text
        self.assertIn('claw_tenant_quota_refusals_total{tenant="%s"} 3'
                      % slug, text)
        r = self.node.api.post("/v1/agent/usage", {"reports": [
            {"tenant": slug, "at": now_at(), "quota_refusals": -1}]})
        self.assertIn(r.status, (400, 422), r)


if __name__ == "__main__":
    unittest.main()
