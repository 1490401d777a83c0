"""Tool-call approvals end to end (issue 13, item 3): a tenant whose tool
policy says "ask" for the built-in memory_save, on edgestack.py's real
stack (control plane on PostgreSQL, a real node agent with its Caddy
edge, the project's gateway and runtime images, the scripted LLM).

Proves, through the real relay (control plane -> node agent long poll ->
the runtime's admin API on the tenant network, with the admin token the
node agent generated for the tenant, since none was set):

- a turn whose model calls memory_save pauses: its reply says it waits
  for approval, and `clawctl approvals list TENANT` shows the request
  pending (tool memory_save), as does the fleet-wide list;
- `clawctl approvals approve TENANT ID --reason ...` decides it as the
  admin token, the paused turn resumes and the tool runs once
  (state approved, applied, outcome ran); approving again is exit 6
  (409 approval_decided);
- a second request denied with `clawctl approvals deny` ends as denied
  (the model is told the call did not run);
- the generated admin token is a 0400 file in the runtime's secrets
  directory, in no container's environment or labels (docker inspect),
  and in neither the node agent's nor the control plane's log;
- with the policy's chat_approval, the runtime container killed while a
  request is pending: the node agent restarts it, the request is still
  pending (clawctl lists it), and the chat user's "approve" in the same
  conversation, through the real gateway, resumes the turn once: the
  reply carries the tool's result and the request is approved by the
  chat user, applied, outcome ran;
- every request and every decision is one row of the control plane's
  audit log (reported by the node agent from the runtime's audit feed,
  docs/fleet.md "Approvals in the audit log"): approval.request once
  per request, approval.decided with decided_by the clawctl token ("admin tok_...")
  or the chat user as the runtime recorded it ("chat:CHANNEL:USER"),
  beside the control plane's own approval.decide row of who asked;
  never the tool's arguments; after the runtime was killed and the node
  agent killed and started again (it reports every record again) the
  rows are still one each, and the audit chain verifies;
- the control plane exits clean (ASan/UBSan).
"""

import json
import os
import secrets
import stat
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from edgestack import EdgeStack  # noqa: E402
from clawtest.cp import build_dir  # noqa: E402
from clawtest.edge import until  # noqa: E402
import stack  # noqa: E402

CLAWCTL = os.path.join(build_dir(), "cli", "clawctl")
POLICY = {"default": "allow", "rules": [
    {"tool": "memory_save", "action": "ask"}]}


class ApprovalsEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = EdgeStack(drain_ms=300)

    @classmethod
    def tearDownClass(cls):
        cls.st.close_clean()

    def clawctl(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CLAW_TOKEN")}
        env["CLAW_URL"] = self.st.fleet.cp.url
        env["CLAW_TOKEN"] = self.st.fleet.cp.admin_token
        return subprocess.run([CLAWCTL] + list(args), env=env,
                              capture_output=True, text=True, timeout=120)

    def ok_json(self, *args):
        r = self.clawctl(*args, "-o", "json")
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (args, r.stdout,
                                                         r.stderr))
        return json.loads(r.stdout)

    def pending(self, slug):
        return [a for a in self.ok_json("approvals", "list", slug)
                ["approvals"] if a["tool"] == "memory_save"]

    def ask(self, slug, note):
        """A turn whose model calls memory_save: it pauses; the new
        request's id."""
        before = {a["id"] for a in self.pending(slug)}
        reply = self.st.chat(slug, "use tool memory_save " +
                             json.dumps({"note": note}))
        self.assertIn("approval", reply.lower(), reply)
        new = until(lambda: [a for a in self.pending(slug)
                             if a["id"] not in before], 60,
                    what="the paused call listed")
        self.assertEqual(len(new), 1, new)
        self.assertEqual(new[0]["state"], "pending")
        return new[0]["id"]

    def settled(self, slug, aid):
        def done():
            a = self.ok_json("approvals", "list", slug, "--all")
            a = [x for x in a["approvals"] if x["id"] == aid]
            return a[0] if a and a[0].get("applied") else None
        return until(done, 90, what="approval %s applied" % aid)

    def audit(self, slug, aid, action):
        """The audit rows of action about approval aid of slug."""
        r = self.st.fleet.cp.client().get(
            "/v1/audit?limit=1000&action=" + action)
        self.assertEqual(r.status, 200, r)
        return [a for a in r.json()["items"]
                if a["target"] == "tenants/%s/approvals/%s" % (slug, aid)]

    def audited(self, slug, aid, action):
        """The one audit row of action about aid, once reported."""
        rows = until(lambda: self.audit(slug, aid, action), 60,
                     what="%s of %s in the audit log" % (action, aid))
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["actor_role"], "node")
        self.assertNotIn("arguments", json.dumps(rows))
        return rows[0]["details"]

    def test_ask_approve_deny(self):
        st = self.st
        slug = "apr-" + secrets.token_hex(3)
        rc = dict(stack.runtime_config(slug, st.llm, []), tool_policy=POLICY)
        st.tenant(slug, runtime_config=rc)

        aid = self.ask(slug, "likes tea")
        fleet = self.ok_json("approvals", "list")
        self.assertIn((slug, aid), [(a["tenant"], a["id"])
                                    for a in fleet["approvals"]])
        r = self.clawctl("approvals", "approve", slug, aid, "--reason",
                         "e2e")
        self.assertEqual(r.returncode, 0, r.stderr)
        a = self.settled(slug, aid)
        self.assertEqual((a["state"], a["outcome"]), ("approved", "ran"))
        self.assertTrue(a["decided_by"].startswith("admin tok_"), a)
        r = self.clawctl("approvals", "approve", slug, aid)
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("approval_decided", r.stderr)

        aid2 = self.ask(slug, "likes coffee")
        r = self.clawctl("approvals", "deny", slug, aid2)
        self.assertEqual(r.returncode, 0, r.stderr)
        a = self.settled(slug, aid2)
        self.assertEqual((a["state"], a["outcome"]), ("denied", "denied"))

        # audited: each request once, each outcome with who decided
        for x in (aid, aid2):
            d = self.audited(slug, x, "approval.request")
            self.assertEqual(d["tool"], "memory_save")
        d = self.audited(slug, aid, "approval.decided")
        self.assertEqual(d["decision"], "approved")
        self.assertTrue(d["decided_by"].startswith("admin tok_"), d)
        self.assertEqual(len(self.audit(slug, aid, "approval.decide")), 2)
        d = self.audited(slug, aid2, "approval.decided")
        self.assertEqual((d["decision"], d["decided_by"][:10]),
                         ("denied", "admin tok_"))
        self.assertNotIn("likes tea", json.dumps(
            self.audit(slug, aid, "approval.request")))

        # the generated token: a secret file, nowhere else
        path = os.path.join(st.node.secrets, slug, "runtime", "admin_token")
        st_ = os.stat(path)
        self.assertEqual(stat.S_IMODE(st_.st_mode), 0o400)
        with open(path) as f:
            token = f.read()
        self.assertRegex(token, r"^[0-9a-f]{64}$")
        for role in ("gateway", "runtime"):
            inspect = json.dumps(st.env.inspect("claw-%s-%s" % (slug, role)))
            self.assertNotIn(token, inspect)
        with open(st.node.log_path, errors="replace") as f:
            self.assertNotIn(token, f.read())
        self.assertNotIn(token, st.fleet.cp.daemon.log_text())

    def test_chat_approval_survives_a_killed_runtime(self):
        st = self.st
        slug = "apc-" + secrets.token_hex(3)
        policy = {"default": "allow", "rules": [
            {"tool": "memory_save", "action": "ask", "chat_approval": True}]}
        rc = dict(stack.runtime_config(slug, st.llm, []), tool_policy=policy)
        st.tenant(slug, runtime_config=rc)
        aid = self.ask(slug, "likes jam")
        runtime = "claw-%s-runtime" % slug
        before = st.env.inspect(runtime)["State"]["StartedAt"]
        st.env.docker("kill", runtime)
        until(lambda: st.env.inspect(runtime)["State"]["Running"] and
              st.env.inspect(runtime)["State"]["StartedAt"] != before, 90,
              what="the runtime restarted by its node agent")
        # still pending after the restart (asked of the new runtime)
        until(lambda: [a for a in self.pending(slug)
                       if a["id"] == aid and a["state"] == "pending"], 90,
              what="the request pending after the restart")
        # the chat user decides it in the conversation (once: a second
        # "approve" would be an ordinary turn)
        reply = st.chat(slug, "approve", timeout=90)
        self.assertIn("tool result:", reply)
        a = self.settled(slug, aid)
        self.assertEqual((a["state"], a["outcome"]), ("approved", "ran"))
        self.assertFalse(a["decided_by"].startswith("admin"), a)
        self.assertEqual(
            len([x for x in self.ok_json("approvals", "list", slug, "--all")
                 ["approvals"] if x["id"] == aid]), 1)

        # audited with the chat user as the runtime recorded it
        self.assertEqual(self.audited(slug, aid, "approval.request")
                         ["tool"], "memory_save")
        d = self.audited(slug, aid, "approval.decided")
        self.assertEqual((d["decision"], d["decided_by"]),
                         ("approved", a["decided_by"]))
        self.assertTrue(d["decided_by"].startswith("chat:"), d)
        self.assertEqual(self.audit(slug, aid, "approval.decide"), [])
        # the node agent killed and started again reports every record
        # again: a new request reported after it proves it read the
        # feed from the start; the earlier rows are still one each
        st.node.kill()
        st.node.start()
        def turn():
            try:
                return st.chat(slug, "use tool memory_save " +
                               json.dumps({"note": "likes honey"}))
            except RuntimeError:  # not routed again yet
                return None
        reply = until(turn, 90, what="a turn through the restarted node")
        self.assertIn("approval", reply.lower(), reply)

        def new_request():
            r = st.fleet.cp.client().get(
                "/v1/audit?limit=1000&action=approval.request&tenant=" +
                slug)
            return [a for a in r.json()["items"]
                    if not a["target"].endswith("/" + aid)]
        self.assertEqual(len(until(new_request, 90, what="the new request "
                                   "audited")), 1)
        for action in ("approval.request", "approval.decided"):
            self.assertEqual(len(self.audit(slug, aid, action)), 1, action)
        v = st.fleet.cp.client().get("/v1/audit/verify")
        self.assertTrue(v.json()["ok"], v)


if __name__ == "__main__":
    unittest.main()
