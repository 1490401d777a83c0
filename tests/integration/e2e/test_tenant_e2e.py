"""End to end below the control plane: real tenant containers (the
project's own gateway and runtime images, FROM scratch) run by the node
agent (desired state from a file) on the real dockerd, with the scripted
LLM in its own container and fakes of Telegram, Slack and two MCP servers
in a network namespace standing in for the internet (outside.py).

Checks: chat through the OpenAI-compatible endpoint, web chat, Telegram
and Slack webhooks with the replies caught at the fakes; a tool call to an
MCP server over Streamable HTTP through the gateway's egress proxy (host
allowed) and a refused one (host not allowed); docker kill of the runtime
healed with nobody acting, the message sent meanwhile answered once it is
back and only once; suspend gives every channel the "unavailable" reply,
resume brings chat back; two tenants cannot reach each other's containers,
secrets or data. Tests run in order (they share one stack)."""

import os
import secrets
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import NodeAgent  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
import stack  # noqa: E402
from stack import connect_via_proxy, reach  # noqa: E402
import suite  # noqa: E402


class TenantEndToEnd(suite.E2ESuite):
    cleanup_errors_fail = False  # printed; the other cleanups still run

    @classmethod
    def _start(cls):
        cls.start_outside()
        # A node name of its own: agents sharing an engine own only what
        # carries their name, and other suites run agents beside this one.
        cls.na = NodeAgent(cls.env, {"generation": 1, "tenants": []},
                           name="e2e-" + secrets.token_hex(3),
                           extra=["--backoff-ms", "300"])
        cls.cleanups.append(cls.na.cleanup)
        cls.na.start()
        cls.start_llm(cls.na.egress)
        tag = secrets.token_hex(2)
        cls.a, cls.b = "e2e-a-" + tag, "e2e-b-" + tag
        cls.gen = 1
        cls.states = {cls.a: "running", cls.b: "running"}
        cls.apply()
        cls.ta = cls.healthy(cls.a)
        cls.tb = cls.healthy(cls.b)
        cls.gw = stack.GatewayClient(cls.ta["roles"]["gateway"]["port"])
        cls.gwb = stack.GatewayClient(cls.tb["roles"]["gateway"]["port"])

    @classmethod
    def spec(cls, name):
        return stack.tenant(
            name, cls.images, cls.llm, cls.llm_key, cls.api,
            "%s:%d" % (cls.out.ip, stack.MCP_PORT),
            [("tools", cls.mcp.url), ("blocked", cls.mcp_blocked.url)],
            cls.env.auth(), state=cls.states[name])

    @classmethod
    def apply(cls):
        cls.gen += 1
        cls.na.set_desired({"generation": cls.gen, "tenants": [
            cls.spec(cls.a), cls.spec(cls.b)]})
        return cls.gen

    @classmethod
    def healthy(cls, name, timeout=90):
        return cls.na.wait_healthy(name, timeout)

    # ------------------------------------------------------------ tests
    def test_1_channels_answer(self):
        # OpenAI-compatible endpoint, published on 127.0.0.1 only.
        self.assertEqual(self.gw.chat_text("hello there"),
                         "echo: hello there")
        c = self.env.inspect("claw-%s-gateway" % self.a)
        binds = c["HostConfig"]["PortBindings"]["8080/tcp"]
        self.assertEqual([b["HostIp"] for b in binds], ["127.0.0.1"])
        # Web chat.
        self.assertEqual(self.gw.webchat("hi from the web"),
                         "echo: hi from the web")
        # Telegram and Slack: webhooks in, replies at the fakes.
        self.assertEqual(self.gw.telegram("hi on telegram", 4242), 200)
        self.assertEqual(self.gw.slack("hi on slack", "D0E2E"), 200)
        self.api.wait_text("telegram", 4242,
                           lambda t: t == "echo: hi on telegram")
        self.api.wait_text("slack", "D0E2E",
                           lambda t: t == "echo: hi on slack")
        self.assertEqual(self.api.errors, [])

    def test_2_tool_call_through_the_proxy(self):
        # The allowed MCP server is called through the egress proxy.
        reply = self.gw.wait_tool('use tool tools__add {"a": 2, "b": 40}')
        self.assertTrue(reply.startswith("tool result:"), reply)
        self.assertIn("sum=42", reply)
        self.assertIn("tools/call", self.mcp.calls)
        # The other one's host is not on the allow-list: the proxy refuses
        # it, the server never hears a thing, its tool is not offered.
        reply = self.gw.chat_text('use tool blocked__add {"a": 1, "b": 1}')
        self.assertTrue(reply.startswith("echo:"), reply)
        self.assertEqual(self.mcp_blocked.calls, [])
        self.assertGreaterEqual(self.gw.metric(
            'claw_gateway_proxy_connections_total{decision="refused"}'), 1)
        logs = stack.container_logs(self.env, "claw-%s-gateway" % self.a)
        self.assertIn("egress proxy: refused %s:%d" % (
            self.out.ip2, stack.MCP_PORT), logs)

    def test_3_runtime_killed_heals_and_answers_once(self):
        before = self.na.tenant(self.a)["roles"]["runtime"]["restarts"]
        self.env.docker("kill", "claw-%s-runtime" % self.a)
        # Sent while the runtime is down: acknowledged (journaled) at once.
        self.assertEqual(self.gw.telegram("sent while down", 777), 200)
        self.na.wait_tenant(self.a, lambda t: t["phase"] == "healthy" and
                            t["roles"]["runtime"]["restarts"] > before, 90)
        self.api.wait_text("telegram", 777,
                           lambda t: t == "echo: sent while down", 120)
        # A later message of the same conversation is answered after it
        # (per-conversation order), so by then any duplicate would show.
        self.assertEqual(self.gw.telegram("and after", 777), 200)
        self.api.wait_text("telegram", 777, lambda t: t == "echo: and after")
        self.assertEqual(self.api.texts("telegram", 777),
                         ["echo: sent while down", "echo: and after"])
        # Marked done right after the channel accepted each reply.
        wait_for(lambda: self.gw.metric("claw_gateway_journal_depth") == 0,
                 30, what="an empty journal")
        self.assertEqual(self.gw.chat_text("still there?"),
                         "echo: still there?")

    def test_4_suspend_and_resume(self):
        type(self).states[self.a] = "suspended"
        self.apply()
        self.na.wait_tenant(self.a, lambda t: t["phase"] == "suspended" and
                            not t["roles"]["runtime"]["running"])
        # The gateway got the new config (SIGHUP): every channel says so.
        st, obj = self.gw.chat("anyone?")
        if st == 200:  # the reload may land a moment after the kill
            self.na.wait(lambda s: self.gw.chat("anyone?")[0] == 503, 30)
            st, obj = self.gw.chat("anyone?")
        self.assertEqual(st, 503)
        self.assertEqual(obj["error"]["code"], "tenant_suspended")
        self.assertEqual(self.gw.webchat("anyone on the web?"),
                         stack.UNAVAILABLE)
        self.assertEqual(self.gw.telegram("anyone on telegram?", 5151), 200)
        self.assertEqual(self.gw.slack("anyone on slack?", "D0SUSP"), 200)
        self.api.wait_text("telegram", 5151, lambda t: t == stack.UNAVAILABLE)
        self.api.wait_text("slack", "D0SUSP",
                           lambda t: t == stack.UNAVAILABLE)
        # The other tenant is untouched.
        self.assertEqual(self.gwb.chat_text("b is fine"), "echo: b is fine")
        # Resume: chat works again.
        type(self).states[self.a] = "running"
        self.apply()
        self.healthy(self.a)
        self.na.wait(lambda s: self.gw.chat("back?")[0] == 200, 60)
        self.assertEqual(self.gw.chat_text("back again"), "echo: back again")
        self.assertEqual(self.gw.telegram("back on telegram", 5151), 200)
        self.api.wait_text("telegram", 5151,
                           lambda t: t == "echo: back on telegram")
        # Nothing said while suspended was queued for later.
        self.assertEqual(self.api.texts("telegram", 5151),
                         [stack.UNAVAILABLE, "echo: back on telegram"])

    def test_5_tenants_are_apart(self):
        ta, tb = self.na.tenant(self.a), self.na.tenant(self.b)
        b_ips, where = self.addresses(self.b)
        self.assertTrue(b_ips)
        self.assert_isolation_rules(self.a, self.b)
        for role in ("runtime", "gateway"):
            pid = self.env.inspect("claw-%s-%s" % (self.a, role))[
                "State"]["Pid"]
            # From A's own network namespace: A's peer is there ...
            peer = ta["roles"]["gateway" if role == "runtime" else
                               "runtime"]["ip"]
            port = 8080 if role == "runtime" else 8081
            self.assertEqual(reach(pid, peer, port), "reachable")
            # ... and nothing of B's, on any of B's addresses.
            self.assert_unreachable(pid, role, b_ips, where)
        # Through A's egress proxy, B's addresses are not allowed either.
        logs_before = self.gw.metric(
            'claw_gateway_proxy_connections_total{decision="refused"}')
        pid = self.env.inspect("claw-%s-runtime" % self.a)["State"]["Pid"]
        gw_ip = ta["roles"]["gateway"]["ip"]
        for ip in b_ips:
            self.assertEqual(connect_via_proxy(pid, gw_ip, ip, 8080), 403)
        self.assertEqual(self.gw.metric(
            'claw_gateway_proxy_connections_total{decision="refused"}'),
            logs_before + len(b_ips))
        # Secrets and data: each container mounts only its own tenant's.
        self.assert_own_mounts(self.a, self.b, own_secrets=True)
        self.assertEqual(tb["phase"], "healthy")


if __name__ == "__main__":
    unittest.main(verbosity=2)
