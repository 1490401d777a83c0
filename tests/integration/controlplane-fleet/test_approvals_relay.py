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
- the audit of approvals (POST /v1/agent/approvals, the node agent's
  report of its runtimes' requests and decisions): each request and
  each outcome is one audit row (approval.request, approval.decided with
  the decider, approval.expired), never the arguments; a report sent
  again, a second outcome for the same approval, and a report after a
  control plane restart append nothing; the chain still verifies; a node
  cannot report a tenant it does not run (approval_not_placed, nothing
  appended); a tenant token (or an admin) cannot report at all nor read
  the audit log; a malformed report is 400/422 with its stable code and
  appends nothing;
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

    # ---- the audit of approvals (api/approval_audit.c)

    @staticmethod
    def event(tenant, aid, kind, **more):
        e = {"tenant": tenant, "approval": aid, "event": kind,
             "tool": "shop/pay", "category": "payment", "at": 1765000000}
        e.update(more)
        return e

    def report(self, node, *events):
        return node.api.post("/v1/agent/approvals", {"events": list(events)})

    def rows(self, aid, action=None):
        q = "/v1/audit?limit=1000" + ("&action=" + action if action else "")
        r = self.admin.get(q)
        self.assertEqual(r.status, 200, r)
        return [a for a in r.json()["items"]
                if a["target"].endswith("/approvals/" + aid)]

    def test_audit_rows_once(self):
        req = self.event("apr-a", "apr_aud1", "request", channel="telegram",
                         sender="4242", expires=1765086400)
        r = self.report(self.node, req)
        self.assertEqual((r.status, r.json()), (200, {"accepted": 1}))
        # sent again (a lost answer, a restarted agent): nothing appended
        dec = self.event("apr-a", "apr_aud1", "decision", decision="denied",
                         decided_by="chat:telegram:4242")
        r = self.report(self.node, req, dec)
        self.assertEqual((r.status, r.json()),
                         (200, {"accepted": 2, "repeated": 1}))
        # a second outcome of the same approval is not a second row
        r = self.report(self.node, self.event(
            "apr-a", "apr_aud1", "decision", decision="approved",
            decided_by="admin tok_forged"))
        self.assertEqual(r.json(), {"accepted": 1, "repeated": 1})
        rows = self.rows("apr_aud1")
        self.assertEqual(sorted(a["action"] for a in rows),
                         ["approval.decided", "approval.request"], rows)
        got = {a["action"]: a for a in rows}
        q = got["approval.request"]
        self.assertEqual((q["actor_role"], q["target"]),
                         ("node", "tenants/apr-a/approvals/apr_aud1"))
        self.assertEqual(q["details"]["tool"], "shop/pay")
        self.assertEqual(q["details"]["category"], "payment")
        self.assertEqual(q["details"]["sender"], "4242")
        self.assertEqual(q["details"]["node"], "apr-node-a")
        d = got["approval.decided"]["details"]
        self.assertEqual((d["decision"], d["decided_by"]),
                         ("denied", "chat:telegram:4242"))
        self.assertNotIn("arguments", json.dumps(rows))
        # an expiry is approval.expired, decided by "expiry"
        r = self.report(self.node,
                        self.event("apr-b", "apr_aud2", "request"),
                        self.event("apr-b", "apr_aud2", "decision",
                                   decision="expired", decided_by="expiry"))
        self.assertEqual(r.json(), {"accepted": 2})
        rows = self.rows("apr_aud2", "approval.expired")
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["details"]["decided_by"], "expiry")
        v = self.admin.get("/v1/audit/verify")
        self.assertTrue(v.json()["ok"], v)

    def test_audit_denials(self):
        # node S does not run apr-a: refused, nothing appended
        r = self.report(self.silent,
                        self.event("apr-a", "apr_forged", "request"))
        self.assertEqual((r.status, r.json()), (200, {
            "accepted": 0, "refused": [
                {"tenant": "apr-a", "code": "approval_not_placed"}]}))
        self.assertEqual(self.rows("apr_forged"), [])
        # ... nor a tenant that does not exist
        r = self.report(self.silent,
                        self.event("apr-nobody", "apr_forged", "request"))
        self.assertEqual(r.json()["refused"][0]["code"],
                         "approval_not_placed")
        # a tenant token (or an admin's) reports nothing, reads no audit
        _, tok = self.cp.new_token("tenant", tenant="apr-a")
        a = self.cp.client(tok)
        body = {"events": [self.event("apr-b", "apr_forged", "request")]}
        for c in (a, self.admin):
            r = c.post("/v1/agent/approvals", body)
            self.assertEqual((r.status, r.error_code()), (403, "forbidden"))
        r = a.get("/v1/audit?tenant=apr-b")
        self.assertEqual((r.status, r.error_code()), (403, "forbidden"))
        # malformed reports: the stable code, nothing appended
        ok = self.event("apr-a", "apr_forged", "request")
        for body, want in (
                ({"events": [ok, dict(ok, arguments={"k": "v"})]},
                 (422, "unknown_field")),
                ({"events": [dict(ok, event="decision",
                                  decision="approved")]},
                 (422, "missing_field")),
                ({"events": [dict(ok, approval="../x")]},
                 (422, "invalid_field")),
                ({"events": [dict(ok, tenant="apr-a\nx")]},
                 (422, "invalid_field"))):
            r = self.node.api.post("/v1/agent/approvals", body)
            self.assertEqual((r.status, r.error_code()), want, body)
        r = self.node.api.request("POST", "/v1/agent/approvals",
                                  b"{\"events\": [", headers={
                                      "Content-Type": "application/json"})
        self.assertEqual((r.status, r.error_code()), (400, "bad_json"))
        self.assertEqual(self.rows("apr_forged"), [])

    def test_zz_audit_once_past_a_restart(self):
        """Last (zz): the control plane is killed and started again; the
        same events reported again append nothing."""
        evs = [self.event("apr-b", "apr_aud3", "request"),
               self.event("apr-b", "apr_aud3", "decision",
                          decision="approved", decided_by="operator tok_x")]
        self.assertEqual(self.report(self.node, *evs).json(),
                         {"accepted": 2})
        self.cp.kill()
        self.cp.restart()
        def taken():
            try:
                r = self.report(self.node, *evs)
            except OSError:
                return None  # not listening yet
            return r if r.status == 200 else None
        r = wait_for(taken, timeout=60, interval=0.2,
                     what="the report taken after the restart")
        self.assertEqual(r.json(), {"accepted": 2, "repeated": 2})
        self.assertEqual(len(self.rows("apr_aud3")), 2)
        self.assertTrue(self.admin.get("/v1/audit/verify").json()["ok"])


if __name__ == "__main__":
    unittest.main()
