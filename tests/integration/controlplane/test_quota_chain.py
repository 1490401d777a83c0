"""Integration: quotas end to end without Docker (docs/fleet.md,
"Quotas"): a real control plane on PostgreSQL, the real gateway against a
fake runtime and fake Telegram, and a fake node that does what the node
agent does (tests/integration/cli/fakenode.py plus: put the assignment's
"quota" into the gateway's config and send SIGHUP; report the turns the
runtime answered and the gateway's refusal total as usage).

A plan with turns_per_day 2 lets 2 chats through and the 3rd gets the
plan's message on Telegram; the crossing is one quota.exhausted event and
a new generation; the refusal is counted in the tenant's usage; a plan
change to 5 lets the next chat through without a redeploy or a gateway
restart; a gateway restart does not reset the count."""

import os
import sys
import time
import unittest

from common import CpTestCase

SRC = os.environ.get("CLAW_SOURCE_DIR", ".")
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "cli"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "gateway"))
from fakenode import FakeNode  # noqa: E402
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
MESSAGE = "That was today's last chat on your plan."


class QuotaChain(CpTestCase):

    def setUp(self):
        self.rt = F.FakeRuntime()
        self.fc = F.FakeChannels()
        self.base = {"tenant": "chain", "channels": F.all_channels(self.fc)}
        self.gws = []
        self.reported = 0    # runtime answers already reported as turns
        self.refusals = 0    # the gateway's total already reported

    def tearDown(self):
        for gw in self.gws:
            if gw.daemon.proc.poll() is None:
                gw.stop()
        self.rt.close()
        self.fc.close()

    # ---- the node agent's part
    def config(self):
        return dict(self.base, quota=self.node.tenant("chain")["quota"])

    def start_gateway(self, data_dir=None):
        gw = F.Gateway(self.rt.url, self.config(), data_dir=data_dir).start()
        self.gws.append(gw)
        return gw

    def report(self, gw):
        """A usage pass: the runtime's new turns, the gateway's new
        refusals."""
        turns = len(self.rt.texts()) - self.reported
        total = int(gw.metric("claw_gateway_quota_refusals_total"))
        r = self.node.api.post("/v1/agent/usage", {"reports": [
            {"tenant": "chain", "at": self.now(), "turns": turns,
             "quota_refusals": total - self.refusals}]})
        self.assertEqual(r.status, 200, r)
        self.reported += turns
        self.refusals = total

    def woken(self, gen):
        r = self.node.api.get("/v1/agent/assignments?generation=%d&wait=10"
                              % gen)
        return r.status == 200

    def now(self):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    # ---- the chat user's part
    def chat(self, gw, text, n):
        r = gw.post("/telegram/webhook", F.tg_update(text, chat_id=77),
                    {"X-Telegram-Bot-Api-Secret-Token": F.TG_SECRET})
        self.assertEqual(r.status, 200, r.text)
        wait_for(lambda: len(F.tg_replies(self.fc, 77)) >= n,
                 what="reply %d" % n)
        return F.tg_replies(self.fc, 77)[n - 1]

    def events(self, kind):
        return int(self.sql(
            "SELECT count(*) FROM fleet_events e JOIN tenants t ON "
            "t.id = e.tenant_id WHERE e.type = '%s' AND t.slug = 'chain'"
            % kind))

    def test_chain(self):
        token = self.admin.post("/v1/nodes/join-tokens", {}).json()["token"]
        self.node = FakeNode(self.cp.url, token, "chain-node")
        r = self.admin.post("/v1/plans", {
            "name": "two-a-day", "cpus_milli": 500, "memory_mb": 256,
            "pids": 128, "quota": {"turns_per_day": 2},
            "quota_message": MESSAGE})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.admin.post("/v1/tenants", {
            "slug": "chain", "name": "Chain", "plan": "two-a-day"}).status,
            201)
        r = self.admin.post("/v1/tenants/chain/deploy", IMG)
        for m in (r.json()["error"].get("missing", [])
                  if r.status == 422 else []):
            self.admin.put("/v1/tenants/chain/secrets/" + m["secret"],
                           {"value": "x"})
            r = self.admin.post("/v1/tenants/chain/deploy", IMG)
        self.assertEqual(r.status, 202, r)

        gw = self.start_gateway()
        self.assertEqual(self.chat(gw, "one", 1), "echo: one")
        self.assertEqual(self.chat(gw, "two", 2), "echo: two")
        gen = self.node.assignments()["generation"]
        self.report(gw)                     # 2 of 2: a crossing
        self.assertTrue(self.woken(gen))
        self.assertEqual(self.events("quota.exhausted"), 1)
        gw.reload(self.config())            # the agent's SIGHUP
        self.assertEqual(self.chat(gw, "three", 3), MESSAGE)
        self.assertNotIn("three", self.rt.texts())
        self.report(gw)
        usage = self.admin.get("/v1/tenants/chain/usage").json()
        self.assertEqual(usage["totals"]["quota_refusals"], 1)
        self.assertEqual(usage["quota"]["turns_per_day"],
                         {"limit": 2, "used": 2})

        # the plan goes to 5: no redeploy, no gateway restart
        pid = gw.daemon.proc.pid
        gen = self.node.assignments()["generation"]
        self.assertEqual(self.admin.patch("/v1/plans/two-a-day", {
            "quota": {"turns_per_day": 5}}).status, 200)
        self.assertTrue(self.woken(gen))
        gw.reload(self.config())
        self.assertEqual(self.chat(gw, "four", 4), "echo: four")
        self.assertEqual(gw.daemon.proc.pid, pid)
        self.assertEqual(self.events("quota.restored"), 1)

        # a gateway restart keeps its count (3 of 5): two more, then no
        gw.stop()
        gw2 = self.start_gateway(data_dir=gw.data_dir)
        self.assertEqual(self.chat(gw2, "five", 5), "echo: five")
        self.assertEqual(self.chat(gw2, "six", 6), "echo: six")
        self.assertEqual(self.chat(gw2, "seven", 7), MESSAGE)
        self.assertNotIn("seven", self.rt.texts())
        self.report(gw2)
        self.assertEqual(self.admin.get("/v1/tenants/chain/usage").json()
                         ["totals"]["quota_refusals"], 2)
        self.assertEqual(self.events("quota.exhausted"), 2)


if __name__ == "__main__":
    unittest.main()
