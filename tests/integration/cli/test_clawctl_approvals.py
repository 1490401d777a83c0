"""Integration: clawctl approvals (list, approve, deny) against the real
claw-controlplane on a real PostgreSQL, with a fake node of the agent API
(fakenode.py) whose FakeApprovals plays the tenants' runtimes.

Proves: the list of one tenant (pending only by default, --all for the
decided ones) and of the fleet in table, wide, json and yaml; approve and
deny with --reason (the reason in the audit row); a second decision is
exit 6 with approval_decided; a tenant token cannot list or decide another
tenant's requests (exit 5, nothing relayed) and cannot list the fleet's
(exit 4); --help and the completion script name the commands."""

import os
import subprocess
import unittest

from clawtest.cp import with_pg
from clawtest.proc import wait_for
from clawctl_case import CLAWCTL, ClawctlCase
from fakenode import FakeApprovals, FakeNode


class ClawctlApprovalsTest(ClawctlCase):

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg("approvals", ["--heartbeat-ms", "500"])
        cls.admin = cls.cp.client()
        r = cls.admin.post("/v1/nodes/join-tokens", {"ttl_s": 600})
        cls.node = FakeNode(cls.cp.url, r.json()["token"], "cli-apr-node")
        cls.runtimes = FakeApprovals()
        cls.node.rpc_handler = cls.runtimes
        cls.stop = cls.node.autopilot(interval=0.1)
        for slug in ("cli-apr-a", "cli-apr-b"):
            assert cls.admin.post("/v1/tenants", {
                "slug": slug, "name": slug}).status == 201
            assert cls.admin.post("/v1/tenants/%s/deploy" % slug, {
                "gateway_image": "registry.test/gw:1",
                "runtime_image": "registry.test/rt:1"}).status == 202
            wait_for(lambda: cls.admin.get(
                "/v1/tenants/%s/placement" % slug).json().get(
                    "node_name") == "cli-apr-node", timeout=60,
                what=slug + " placed")

    @classmethod
    def tearDownClass(cls):
        cls.stop.set()
        try:
            cls.cp.stop_clean()
        finally:
            cls.pg.stop()

    def run_cli(self, *args, token=None):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("CLAW_TOKEN")}
        e["CLAW_URL"] = self.cp.url
        if token:
            e["CLAW_TOKEN"] = token
        else:
            e["CLAW_TOKEN_FILE"] = os.path.join(self.cp.data_dir,
                                                "admin.token")
        return subprocess.run([CLAWCTL] + list(args), env=e,
                              capture_output=True, text=True, timeout=120)

    def test_list_formats(self):
        self.runtimes.add("cli-apr-a", "apr_cli_list")
        self.runtimes.add("cli-apr-a", "apr_cli_done", state="denied")
        table = self.ok("approvals", "list", "cli-apr-a").stdout
        lines = table.splitlines()
        self.assertRegex(lines[0], r"^TENANT +ID +TOOL +CATEGORY +STATE")
        self.assertIn("apr_cli_list", table)
        self.assertNotIn("apr_cli_done", table)  # pending only
        self.assertIn("apr_cli_done",
                      self.ok("approvals", "list", "cli-apr-a",
                              "--all").stdout)
        j = self.json("approvals", "list", "cli-apr-a")
        self.assertEqual({a["state"] for a in j["approvals"]}, {"pending"})
        self.assertIn("id: apr_cli_list",
                      self.ok("approvals", "list", "cli-apr-a", "-o",
                              "yaml").stdout)
        self.assertIn("APPLIED", self.ok("approvals", "list", "cli-apr-a",
                                         "-o", "wide").stdout)
        fleet = self.json("approvals", "list")
        self.assertIn(("cli-apr-a", "apr_cli_list"),
                      [(a["tenant"], a["id"]) for a in fleet["approvals"]])
        self.assertEqual(fleet["partial"], [])

    def test_approve_deny_and_twice(self):
        self.runtimes.add("cli-apr-a", "apr_cli_ok")
        self.runtimes.add("cli-apr-a", "apr_cli_no")
        out = self.ok("approvals", "approve", "cli-apr-a", "apr_cli_ok",
                      "--reason", "ticket 42").stdout
        self.assertRegex(out, r"(?m)^state: +approved$")
        r = self.fails(6, "approvals", "deny", "cli-apr-a", "apr_cli_ok")
        self.assertIn("approval_decided", r.stderr)
        self.assertEqual(self.json("approvals", "deny", "cli-apr-a",
                                   "apr_cli_no")["state"], "denied")
        rows = self.json("audit", "list", "--action", "approval.decide",
                         "--limit", "50")["items"]
        mine = [a for a in rows if a["target"] ==
                "tenants/cli-apr-a/approvals/apr_cli_ok"]
        self.assertEqual(mine[-1]["details"]["reason"], "ticket 42")
        self.fails(2, "approvals", "approve", "cli-apr-a")  # usage: no ID

    def test_tenant_token_is_fenced(self):
        self.runtimes.add("cli-apr-b", "apr_cli_other")
        _, tok = self.cp.new_token("tenant", tenant="cli-apr-a")
        before = len([c for c in self.node.rpc_calls
                      if c["tenant"] == "cli-apr-b"])
        self.fails(5, "approvals", "list", "cli-apr-b", token=tok)
        self.fails(5, "approvals", "approve", "cli-apr-b", "apr_cli_other",
                   token=tok)
        self.fails(4, "approvals", "list", token=tok)
        self.assertEqual(len([c for c in self.node.rpc_calls
                              if c["tenant"] == "cli-apr-b"]), before)
        self.ok("approvals", "list", "cli-apr-a", token=tok)

    def test_help_and_completion(self):
        out = self.ok("approvals", "--help").stdout
        for word in ("list", "approve", "deny"):
            self.assertIn(word, out)
        self.assertIn("--reason", self.ok("approvals", "deny",
                                          "--help").stdout)
        comp = self.ok("completion", "bash").stdout
        self.assertIn("'approvals') echo 'list approve deny'", comp)


if __name__ == "__main__":
    unittest.main()
