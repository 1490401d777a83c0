"""The approvals relay (controlplane/api/approvals.c) against fake nodes of
the agent API (cli/fakenode.py) whose answers play the tenants' runtimes
(label pg, no Docker). The node agent's side is tests/unit/node-agent's
test_na_rpc.c; the real stack is tests/integration/e2e.

Proves:
- a tenant's list (and ?state), one request, approve, deny are relayed
  to the node that runs the tenant, with decided_by the caller's role and
  token id; the runtime's 404 and its 409 approval_decided (decided twice)
  and approval_expired come back as they are;
- every decision is audited (actor, tenant, approval id, decision,
  reason; never the arguments) and a decision taken is an
  approval.decided event;
- a tenant token reaches its own tenant only: another tenant's list,
  request and decision are 404 and nothing is relayed for them;
- a node that does not take a call, or takes it and never answers, is 503
  node_unavailable; the fleet-wide list names such a tenant in "partial"
  and still returns the others' pending requests;
- bad input: 422 for a bad decision or an unknown field, 400 for a bad
  state, 409 not_running for a tenant placed nowhere;
- the control plane exits clean (no sanitizer report, no leak).
"""

import json
import os
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "cli")))
from clawtest.cp import ControlPlane  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from fakenode import FakeApprovals, FakeNode  # noqa: E402

class ApprovalsRelay(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        cls.cp = ControlPlane(database_url=cls.pg.create_database(
            "approvals"), extra_args=["--heartbeat-ms", "500"]).start()
        cls.admin = cls.cp.client()
        cls.runtimes = FakeApprovals()
        cls.node = cls.join("apr-node-a")
        cls.node.rpc_handler = cls.runtimes
        cls.stop = cls.node.autopilot(interval=0.1)
        for slug in ("apr-a", "apr-b"):
            cls.deploy(slug, "apr-node-a")
        # a second node that beats but never polls: its tenant's calls are
        # never taken
        cls.silent = cls.join("apr-node-s")
        cls.beating = threading.Event()
        threading.Thread(target=cls.beat, daemon=True).start()
        assert cls.admin.post("/v1/nodes/%s/cordon" % cls.node.id,
                              {}).status == 200
        cls.deploy("apr-s", "apr-node-s")
        assert cls.admin.post("/v1/nodes/%s/uncordon" % cls.node.id,
                              {}).status == 200
        assert cls.admin.post("/v1/tenants", {"slug": "apr-idle",
                                              "name": "I"}).status == 201

    @classmethod
    def join(cls, name):
        r = cls.admin.post("/v1/nodes/join-tokens", {"ttl_s": 600})
        return FakeNode(cls.cp.url, r.json()["token"], name)

    @classmethod
    def beat(cls):
        while not cls.beating.is_set():
            try:
                cls.silent.heartbeat()
            except (OSError, AssertionError):
                pass
            time.sleep(0.2)

    @classmethod
    def deploy(cls, slug, node_name):
        assert cls.admin.post("/v1/tenants", {"slug": slug,
                                              "name": slug}).status == 201
        r = cls.admin.post("/v1/tenants/%s/deploy" % slug, {
            "gateway_image": "registry.test/gw:1",
            "runtime_image": "registry.test/rt:1"})
        assert r.status == 202, r
        wait_for(lambda: cls.admin.get("/v1/tenants/%s/placement" % slug)
                 .json().get("node_name") == node_name, timeout=60,
                 what=slug + " placed on " + node_name)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stop.set()
            cls.beating.set()
            cls.cp.stop_clean()
        finally:
            cls.pg.stop()

    def calls_for(self, tenant):
        return [c for c in self.node.rpc_calls if c["tenant"] == tenant]

    def decide(self, client, tenant, aid, decision, reason=None):
        body = {"decision": decision}
        if reason is not None:
            body["reason"] = reason
        return client.post("/v1/tenants/%s/approvals/%s" % (tenant, aid),
                           body)

    def test_list_get_and_state(self):
        self.runtimes.add("apr-a", "apr_list1")
        self.runtimes.add("apr-a", "apr_list2", state="denied")
        r = self.admin.get("/v1/tenants/apr-a/approvals")
        self.assertEqual(r.status, 200, r)
        ids = {a["id"] for a in r.json()["approvals"]}
        self.assertTrue({"apr_list1", "apr_list2"} <= ids, ids)
        self.assertEqual(r.json()["tenant"], "apr-a")
        r = self.admin.get("/v1/tenants/apr-a/approvals?state=pending")
        states = {a["state"] for a in r.json()["approvals"]}
        self.assertEqual(states, {"pending"})
        r = self.admin.get("/v1/tenants/apr-a/approvals/apr_list1")
        self.assertEqual((r.status, r.json()["tool"]), (200, "shell.exec"))
        r = self.admin.get("/v1/tenants/apr-a/approvals/apr_nope")
        self.assertEqual((r.status, r.error_code()), (404, "not_found"))
        r = self.admin.get("/v1/tenants/apr-a/approvals?state=bogus")
        self.assertEqual((r.status, r.error_code()),
                         (400, "invalid_parameter"))

    def test_approve_twice_is_409_and_audited(self):
        self.runtimes.add("apr-a", "apr_twice")
        r = self.decide(self.admin, "apr-a", "apr_twice", "approve",
                        "looks fine")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["state"], "approved")
        tok = self.admin.get("/v1/audit?action=approval.decide&limit=100")
        self.assertEqual(tok.status, 200, tok)
        call = [c for c in self.calls_for("apr-a")
                if c.get("approval") == "apr_twice"][0]
        self.assertEqual(call["op"], "approvals.decide")
        self.assertTrue(call["by"].startswith("admin tok_"), call)
        r = self.decide(self.admin, "apr-a", "apr_twice", "deny")
        self.assertEqual((r.status, r.error_code()),
                         (409, "approval_decided"))
        rows = [a for a in self.admin.get(
            "/v1/audit?action=approval.decide&tenant=apr-a&limit=100")
            .json()["items"]
            if a["target"] == "tenants/apr-a/approvals/apr_twice"]
        self.assertEqual(len(rows), 2, rows)
        got = {(a["actor_role"], a["details"]["decision"]) for a in rows}
        self.assertEqual(got, {("admin", "approve"), ("admin", "deny")})
        self.assertIn("looks fine", json.dumps(rows))
        self.assertNotIn("redacted", json.dumps(rows))
        ev = [e for e in self.cp.events_so_far("apr-a")
              if e["type"] == "approval.decided"
              and (e.get("data") or {}).get("approval") == "apr_twice"]
        self.assertEqual(len(ev), 1, ev)
        self.assertEqual(ev[0]["data"]["decision"], "approve")

    def test_deny_and_expired(self):
        self.runtimes.add("apr-b", "apr_deny")
        self.runtimes.add("apr-b", "apr_old", state="expired")
        r = self.decide(self.admin, "apr-b", "apr_deny", "deny", "no")
        self.assertEqual((r.status, r.json()["state"]), (200, "denied"))
        r = self.decide(self.admin, "apr-b", "apr_old", "approve")
        self.assertEqual((r.status, r.error_code()),
                         (409, "approval_expired"))
        r = self.decide(self.admin, "apr-b", "apr_deny", "maybe")
        self.assertEqual((r.status, r.error_code()), (422, "invalid_field"))
        r = self.admin.post("/v1/tenants/apr-b/approvals/apr_deny",
                            {"decision": "deny", "by": "me"})
        self.assertEqual((r.status, r.error_code()), (422, "unknown_field"))

    def test_tenant_token_reaches_its_own_tenant_only(self):
        self.runtimes.add("apr-a", "apr_mine")
        self.runtimes.add("apr-b", "apr_theirs")
        _, tok = self.cp.new_token("tenant", tenant="apr-a")
        a = self.cp.client(tok)
        self.assertEqual(a.get("/v1/tenants/apr-a/approvals").status, 200)
        before = len(self.calls_for("apr-b"))
        for r in (a.get("/v1/tenants/apr-b/approvals"),
                  a.get("/v1/tenants/apr-b/approvals/apr_theirs"),
                  self.decide(a, "apr-b", "apr_theirs", "approve")):
            self.assertEqual(r.status, 404, r)
        self.assertEqual(len(self.calls_for("apr-b")), before)
        r = a.get("/v1/approvals")
        self.assertEqual((r.status, r.error_code()), (403, "forbidden"))
        r = self.admin.get("/v1/tenants/apr-b/approvals/apr_theirs")
        self.assertEqual(r.json()["state"], "pending")
        r = self.decide(a, "apr-a", "apr_mine", "approve")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["decided_by"].startswith("tenant tok_"))

    def test_not_running(self):
        r = self.admin.get("/v1/tenants/apr-idle/approvals")
        self.assertEqual((r.status, r.error_code()), (409, "not_running"))

    def test_unanswered_calls(self):
        """The silent node never takes its tenant's call; node A takes
        one and never answers it. Both 503 node_unavailable, and the
        fleet-wide list names the silent node's tenant in partial."""
        self.runtimes.add("apr-a", "apr_hush", tool="silent")
        self.runtimes.add("apr-b", "apr_fleet")
        out = {}

        def run(key, fn):
            out[key] = fn()

        jobs = [threading.Thread(target=run, args=(k, f)) for k, f in (
            ("untaken", lambda: self.admin.get(
                "/v1/tenants/apr-s/approvals")),
            ("unanswered", lambda: self.admin.get(
                "/v1/tenants/apr-a/approvals/apr_hush")),
            ("fleet", lambda: self.admin.get("/v1/approvals")))]
        for j in jobs:
            j.start()
        for j in jobs:
            j.join(120)
        for k in ("untaken", "unanswered"):
            self.assertEqual((out[k].status, out[k].error_code()),
                             (503, "node_unavailable"), k)
        self.assertIn("take", out["untaken"].json()["error"]["message"])
        self.assertIn("answer",
                      out["unanswered"].json()["error"]["message"])
        f = out["fleet"]
        self.assertEqual(f.status, 200, f)
        self.assertEqual(f.json()["partial"], [{
            "tenant": "apr-s", "node": "apr-node-s",
            "reason": "node_unavailable"}])
        mine = [(a["tenant"], a["id"]) for a in f.json()["approvals"]]
        self.assertIn(("apr-b", "apr_fleet"), mine)
        self.assertTrue(all(a["state"] == "pending"
                            for a in f.json()["approvals"]))


if __name__ == "__main__":
    unittest.main()
