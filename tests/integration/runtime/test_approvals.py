"""test_approvals.py - the tenant's tool policy and approvals through the
real runtime, with the scripted provider (tools/scripted-llm: "use tool
NAME {args}" calls a tool, a tool result is answered "tool result: ...")
and the Streamable HTTP test server's "echo" tool (mcp_http_server.py,
which records every tools/call, so a test counts the runs):

- "ask": the turn pauses, the reply says what waits ("approval": id), the
  request is listed pending by GET /v1/approvals with its category and
  redacted arguments; approving it through POST /v1/approvals/{id} runs
  the tool once and resumes the turn (its reply in the record and before
  the conversation's next reply); a second decision gets 409;
- a denial through the API, a "deny" rule and an expiry reach the model as
  tool errors, and the tool never runs; a decision after expiry gets 409;
- a message delivered again while its turn waits gets the same request;
- a runtime killed (SIGKILL) while a request is pending finds it pending
  after a restart, and it is decided and run exactly once;
- with "chat_approval", the reply is a question and the same chat user's
  "approve" decides it (another user's does not);
- a policy with an invalid glob or an unknown category stops the
  runtime at start with the JSON path of the fault;
- the approvals API needs the admin_token secret as a bearer token (401
  without it, 404 when the runtime has no such secret file);
- the audit feed (GET /v1/approvals?after=REV) gives a decided record
  once past the cursor, with its decider and without its arguments, and
  nothing past its rev; a bad cursor is 422."""
import json
import os
import sys
import threading
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from mcp_http_server import MCPHTTPServer  # noqa: E402
from rtharness import Runtime, RuntimeCase, ScriptedLLM, metric  # noqa: E402

PAY = {"tool_categories": {"web/echo": "payment"},
       "tool_policy": {"default": "allow",
                       "rules": [{"category": "payment", "action": "ask"}]}}


ADMIN = "adm-7f3e9c1b5d"


def post(rt, path, body, token=ADMIN):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = "Bearer " + token
    req = urllib.request.Request(
        rt.url(path), data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read().decode())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read().decode())


def get(rt, path, token=ADMIN):
    req = urllib.request.Request(rt.url(path), headers={
        "Authorization": "Bearer " + token} if token else {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class ApprovalsTest(RuntimeCase):
    def setUp(self):
        self.llm = ScriptedLLM()
        self.mcp = MCPHTTPServer()
        super().setUp()

    def tearDown(self):
        super().tearDown()
        self.mcp.close()
        self.llm.close()

    def config(self, **extra):
        cfg = {"providers": [{"kind": "openai", "base_url": self.llm.url,
                              "model": "scripted", "max_tokens": 200}],
               "mcp_servers": [{"name": "web", "url": self.mcp.url,
                                "timeout_ms": 5000}]}
        cfg.update(extra)
        return cfg

    def runtime(self, tmp=None, secrets=None, **extra):
        rt = Runtime(self.config(**extra),
                     {"admin_token": ADMIN} if secrets is None else secrets,
                     tmp=tmp).start()
        self.rts.append(rt)
        return rt

    def echo_runs(self):
        return [b for b in self.mcp.bodies("tools/call")
                if b["params"]["name"] == "echo"]

    def view(self, rt, aid):
        st, text = get(rt, "/v1/approvals/" + aid)
        self.assertEqual(st, 200, text)
        return json.loads(text)

    def wait_applied(self, rt, aid):
        for _ in range(400):
            v = self.view(rt, aid)
            if v["applied"]:
                return v
            threading.Event().wait(0.05)
        self.fail("approval %s never applied:\n%s" % (aid, rt.log_text()))

    def ask(self, rt, args='{"text": "pay 5"}', **kw):
        st, body = rt.send("use tool web__echo " + args, **kw)
        self.assertEqual(st, 200)
        self.assertIn("Waiting for approval", body["reply"])
        self.assertTrue(body["approval"].startswith("apr_"))
        return body

    def test_ask_then_approve_through_the_api(self):
        rt = self.runtime(**PAY)
        body = self.ask(rt)
        self.assertNotIn("question", body)
        self.assertEqual(self.echo_runs(), [])
        st, text = get(rt, "/v1/approvals")
        lst = json.loads(text)
        self.assertEqual(lst["pending"], 1)
        a = lst["approvals"][0]
        self.assertEqual((a["id"], a["state"], a["tool"], a["category"],
                          a["conversation"], a["sender"]),
                         (body["approval"], "pending", "web/echo",
                          "payment", "c1", "u1"))
        self.assertEqual(a["arguments"], {"text": "pay 5"})
        self.assertNotIn("turn", a)
        st, d = post(rt, "/v1/approvals/" + a["id"],
                     {"decision": "approve", "by": "ops@example.com"})
        self.assertEqual(st, 200, d)
        self.assertEqual((d["state"], d["decided_by"]),
                         ("approved", "ops@example.com"))
        v = self.wait_applied(rt, a["id"])
        self.assertEqual(len(self.echo_runs()), 1)
        self.assertEqual(v["outcome"], "ran")
        self.assertIn("tool result:", v["reply"])
        self.assertIn("echo: pay 5", v["reply"])
        # decided once: the second decision is refused
        st, e = post(rt, "/v1/approvals/" + a["id"],
                     {"decision": "deny", "by": "someone"})
        self.assertEqual((st, e["error"]["code"]), (409, "approval_decided"))
        # the audit feed (the node agent's): past cursor 0 the record
        # once, decided, no arguments; past its rev nothing
        st, text = get(rt, "/v1/approvals?after=0")
        self.assertEqual(st, 200, text)
        feed = json.loads(text)
        ch = [c for c in feed["changes"] if c["id"] == a["id"]]
        self.assertEqual(len(ch), 1, feed)
        self.assertEqual((ch[0]["state"], ch[0]["decided_by"],
                          ch[0]["tool"], ch[0]["category"]),
                         ("approved", "ops@example.com", "web/echo",
                          "payment"))
        self.assertNotIn("arguments", text)
        self.assertNotIn("pay 5", text)
        self.assertEqual(feed["rev"], ch[0]["rev"])
        st, text = get(rt, "/v1/approvals?after=%d" % feed["rev"])
        self.assertEqual(json.loads(text)["changes"], [])
        st, text = get(rt, "/v1/approvals?after=-1")
        self.assertEqual(st, 422, text)
        st, text = get(rt, "/v1/approvals?after=0", token="wrong")
        self.assertEqual(st, 401, text)
        # the resumed reply goes before the conversation's next reply
        st, nxt = rt.send("hello")
        self.assertIn("About your earlier request", nxt["reply"])
        self.assertIn("echo: pay 5", nxt["reply"])
        self.assertTrue(nxt["reply"].endswith("echo: hello"))
        self.assertEqual(len(self.echo_runs()), 1)
        self.assertEqual(metric(
            rt, 'claw_runtime_approvals_total{outcome="approved"}'), 1)
        self.assertEqual(metric(rt, "claw_runtime_approvals_pending"), 0)
        st, e = post(rt, "/v1/approvals/apr_000000000000000000000000",
                     {"decision": "approve", "by": "x"})
        self.assertEqual(st, 404)
        st, e = post(rt, "/v1/approvals/" + a["id"],
                     {"decision": "maybe", "by": "x"})
        self.assertEqual(st, 422)

    def test_redelivery_while_pending_is_the_same_request(self):
        rt = self.runtime(**PAY)
        first = self.ask(rt, msg_id="dup-1")
        again = self.ask(rt, msg_id="dup-1")
        self.assertEqual(first["approval"], again["approval"])
        st, text = get(rt, "/v1/approvals")
        self.assertEqual(json.loads(text)["pending"], 1)
        st, d = post(rt, "/v1/approvals/" + first["approval"],
                     {"decision": "approve", "by": "ops"})
        self.assertEqual(st, 200)
        self.wait_applied(rt, first["approval"])
        # once applied, the transcript answers a further redelivery
        st, third = rt.send('use tool web__echo {"text": "pay 5"}',
                            msg_id="dup-1")
        self.assertIn("echo: pay 5", third["reply"])
        self.assertNotIn("approval", third)
        self.assertEqual(len(self.echo_runs()), 1)

    def test_denied_through_the_api_is_a_tool_error(self):
        rt = self.runtime(**PAY)
        aid = self.ask(rt)["approval"]
        st, d = post(rt, "/v1/approvals/" + aid,
                     {"decision": "deny", "by": "ops"})
        self.assertEqual(st, 200, d)
        v = self.wait_applied(rt, aid)
        self.assertEqual(v["outcome"], "denied")
        self.assertIn("tool result:", v["reply"])
        self.assertIn("denied this call", v["reply"])
        self.assertEqual(self.echo_runs(), [])

    def test_deny_rule_and_order(self):
        rt = self.runtime(tool_policy={"default": "ask", "rules": [
            {"tool": "web/echo", "args": [{"pointer": "/text",
                                           "glob": "rm *"}],
             "action": "deny"},
            {"tool": "web/*", "action": "allow"}]})
        st, body = rt.send('use tool web__echo {"text": "rm -rf /"}')
        self.assertIn("operator's policy denies", body["reply"])
        self.assertNotIn("approval", body)
        self.assertEqual(self.echo_runs(), [])
        st, body = rt.send('use tool web__echo {"text": "ls"}')
        self.assertIn("echo: ls", body["reply"])
        self.assertEqual(len(self.echo_runs()), 1)
        self.assertEqual(metric(rt, "claw_runtime_tool_policy_denied_total"),
                         1)
        # the default ("ask") for what no rule matches: memory_save
        st, body = rt.send('use tool memory_save {"note": "x"}')
        self.assertIn("Waiting for approval", body["reply"])

    def test_expiry_is_a_tool_error_and_409(self):
        pol = dict(PAY["tool_policy"], approval_ttl_s=1)
        rt = self.runtime(tool_categories=PAY["tool_categories"],
                          tool_policy=pol)
        aid = self.ask(rt)["approval"]
        v = self.wait_applied(rt, aid)
        self.assertEqual((v["state"], v["outcome"]), ("expired", "expired"))
        self.assertIn("expired without a decision", v["reply"])
        st, e = post(rt, "/v1/approvals/" + aid,
                     {"decision": "approve", "by": "ops"})
        self.assertEqual((st, e["error"]["code"]), (409, "approval_expired"))
        self.assertEqual(self.echo_runs(), [])

    def test_killed_while_pending(self):
        rt = self.runtime(**PAY)
        aid = self.ask(rt)["approval"]
        rt.proc.kill()
        rt.proc.wait()
        rt2 = self.runtime(tmp=rt.tmp, **PAY)
        v = self.view(rt2, aid)
        self.assertEqual((v["state"], v["applied"]), ("pending", False))
        st, d = post(rt2, "/v1/approvals/" + aid,
                     {"decision": "approve", "by": "ops"})
        self.assertEqual(st, 200, d)
        v = self.wait_applied(rt2, aid)
        self.assertIn("echo: pay 5", v["reply"])
        st, e = post(rt2, "/v1/approvals/" + aid,
                     {"decision": "approve", "by": "ops"})
        self.assertEqual(st, 409)
        self.assertEqual(len(self.echo_runs()), 1)
        # and once more across a restart: nothing runs again
        rt2.proc.kill()
        rt2.proc.wait()
        rt3 = self.runtime(tmp=rt.tmp, **PAY)
        self.assertTrue(self.view(rt3, aid)["applied"])
        st, _ = rt3.send("hi")
        self.assertEqual(len(self.echo_runs()), 1)

    def test_chat_user_approves(self):
        pol = {"rules": [{"category": "payment", "action": "ask",
                          "chat_approval": True}]}
        rt = self.runtime(tool_categories=PAY["tool_categories"],
                          tool_policy=pol)
        body = self.ask(rt, args='{"text": "pay 7", "password": "hunter2"}')
        self.assertTrue(body["question"])
        self.assertIn('Reply "approve"', body["reply"])
        aid = body["approval"]
        self.assertEqual(self.view(rt, aid)["arguments"],
                         {"text": "pay 7", "password": "[redacted]"})
        # another user in the conversation cannot decide it
        st, other = rt.send("approve", sender="u2")
        self.assertEqual(other["reply"], "echo: approve")
        self.assertEqual(self.view(rt, aid)["state"], "pending")
        st, yes = rt.send("Approve!")
        self.assertEqual(st, 200)
        self.assertIn("tool result:", yes["reply"])
        self.assertIn("echo: pay 7", yes["reply"])
        v = self.view(rt, aid)
        self.assertEqual((v["state"], v["decided_by"]),
                         ("approved", "chat:telegram:u1"))
        self.assertEqual(len(self.echo_runs()), 1)
        self.assertNotIn("hunter2", rt.log_text())
        # three messages in, three replies; the decision resumed the turn
        usage = json.loads(rt.get("/v1/usage")[1])
        t = list(usage["tenants"].values())[0]
        self.assertEqual((t["messages_in"], t["messages_out"], t["turns"],
                          t["tool_calls"]), (3, 3, 2, 1))

    def test_chat_user_denies_streamed(self):
        pol = {"rules": [{"tool": "web/echo", "action": "ask",
                          "chat_approval": True}]}
        rt = self.runtime(tool_policy=pol)
        self.ask(rt)
        st, events = rt.send("no", stream=True)
        done = [d for n, d in events if n == "done"][0]
        self.assertIn("denied this call", done["reply"])
        self.assertEqual(self.echo_runs(), [])

    def test_api_needs_the_admin_token(self):
        rt = self.runtime(**PAY)
        aid = self.ask(rt)["approval"]
        for token in (None, "wrong", ADMIN + "x"):
            st, _ = get(rt, "/v1/approvals", token=token)
            self.assertEqual(st, 401)
            # one request by its id too: nothing of it without the token
            st, e = get(rt, "/v1/approvals/" + aid, token=token)
            self.assertEqual((st, json.loads(e)["error"]["code"]),
                             (401, "unauthorized"))
            st, e = post(rt, "/v1/approvals/" + aid,
                         {"decision": "approve", "by": "tool"}, token=token)
            self.assertEqual((st, e["error"]["code"]), (401, "unauthorized"))
        self.assertEqual(self.view(rt, aid)["state"], "pending")
        st, _ = get(rt, "/v1/approvals/..%2F..%2Fetc%2Fpasswd")
        self.assertEqual(st, 404)
        # without the secret file the API is off; "ask" still pauses
        rt2 = self.runtime(secrets={}, **PAY)
        self.ask(rt2, conversation="c9")
        st, _ = get(rt2, "/v1/approvals")
        self.assertEqual(st, 404)
        st, _ = post(rt2, "/v1/approvals/" + aid,
                     {"decision": "approve", "by": "x"})
        self.assertEqual(st, 404)
        self.assertEqual(self.echo_runs(), [])
        self.assertNotIn(ADMIN, rt.log_text())

    def test_bad_policies_refused(self):
        for extra, says in (
                ({"tool_policy": {"rules": [{"tool": "web/[echo",
                                             "action": "ask"}]}},
                 "tool_policy.rules[0].tool"),
                ({"tool_policy": {"rules": [{"category": "payments",
                                             "action": "ask"}]}},
                 "unknown category 'payments'"),
                ({"tool_categories": {"web/*": "nope"}},
                 "tool_categories.web/*: unknown category"),
                ({"tool_policy": {"default": "maybe"}},
                 "tool_policy.default")):
            rt = Runtime(self.config(**extra), {}).start(expect_ok=False)
            rt.proc.wait(30)
            self.assertNotEqual(rt.proc.returncode, 0)
            self.assertIn(says, rt.log_text())


if __name__ == "__main__":
    unittest.main()
