"""End to end through the control plane (issue 6): PostgreSQL, the control
plane, a node agent joined to it, dockerd, the registry, and the project's
own gateway and runtime images, with the scripted LLM container and the
channel and MCP fakes of outside.py.

1. Tenants are created, their LLM key and channel secrets stored through
   the API, each deployed with one call; deployments reach healthy with
   images pinned by digest. The first tenant's deploy has an empty body:
   its configs are the control plane's fleet-wide defaults
   (--default-gateway-config / --default-runtime-config); the second's
   body gives its own.
2. Chat through the OpenAI-compatible endpoint, web chat, Telegram and
   Slack (webhooks in, replies at the fakes) gets the LLM's answer.
3. A tool call reaches an MCP server over Streamable HTTP through the
   gateway's egress proxy; a server whose host is not allowed is refused.
4. docker kill of the runtime: back and answering with nobody acting; the
   message sent while it was down is answered once, and only once.
5. Suspend: the runtime stops, every channel gets the unavailable reply;
   resume: chat works again.
6. Rollback to the previous deployment, and chat keeps working.
7. Two tenants cannot reach each other's containers, secrets or data.
8. Every step left audit rows, and the chain verifies.
Tests run in order and share one stack."""

import json
import os
import secrets
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..",
                                "controlplane-fleet"))
from clawtest.pg import PgCluster  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from fleet import Fleet  # noqa: E402
import stack  # noqa: E402
from stack import GATEWAY_SECRETS, connect_via_proxy  # noqa: E402
import suite  # noqa: E402

REFUSED = 'claw_gateway_proxy_connections_total{decision="refused"}'


class PlatformEndToEnd(suite.E2ESuite):
    @classmethod
    def _start(cls):
        cls.start_outside()
        cls.pg = PgCluster().start()
        cls.cleanups.append(cls.pg.stop)
        # the egress network and the scripted LLM before the control
        # plane, whose default configs name the LLM's address
        egress = cls.start_egress_llm("claw-egress-e2e-")
        cls.defaults = tempfile.TemporaryDirectory()
        cls.cleanups.append(cls.defaults.cleanup)
        extra = []
        for role, cfg in cls.body("default").items():
            if role.endswith("_config"):
                path = os.path.join(cls.defaults.name, role + ".json")
                del cfg["tenant"]  # the control plane sets the slug
                with open(path, "w") as f:
                    json.dump(cfg, f)
                extra += ["--default-" + role.replace("_", "-"), path]
        cls.fleet = Fleet(cls.pg, cls.env, gateway_image=cls.images[
            "gateway"], runtime_image=cls.images["runtime"], extra=extra)
        cls.cleanups.insert(0, cls.close_fleet)
        cls.admin = cls.fleet.admin
        cls.node = cls.fleet.agent(cls.env,
                                   "e2e-node-" + secrets.token_hex(3),
                                   egress=egress)
        tag = secrets.token_hex(2)
        cls.a, cls.b = "e2e-pa-" + tag, "e2e-pb-" + tag
        cls.deps = {}

    @classmethod
    def close_fleet(cls):
        cls.fleet.close(check=True)

    # ---------------------------------------------------------- helpers
    @classmethod
    def body(cls, slug, with_tools=True):
        gw = stack.gateway_config(slug, cls.llm, cls.api,
                                  "%s:%d" % (cls.out.ip, stack.MCP_PORT))
        del gw["suspended"]  # the control plane's to set
        servers = [("blocked", cls.mcp_blocked.url)]
        if with_tools:
            servers.insert(0, ("tools", cls.mcp.url))
        return {"gateway_config": gw,
                "runtime_config": stack.runtime_config(slug, cls.llm,
                                                       servers),
                "secrets": {"gateway": sorted(GATEWAY_SECRETS),
                            "runtime": ["llm_api_key"]}}

    def placement(self, slug):
        return self.fleet.placement(slug)

    def gw(self, slug):
        p = self.fleet.wait(lambda: (lambda p: p if p.get("phase") ==
                                     "healthy" else None)(
                                         self.placement(slug)),
                            90, "%s healthy" % slug)
        return stack.GatewayClient(p["observed"]["roles"]["gateway"]["port"])

    def deploy(self, slug, body):
        dep = self.fleet.deploy(slug, body)
        self.fleet.wait_dep(slug, dep["id"], "healthy", 120)
        return self.fleet.dep(slug, dep["id"])

    def a_networks_note(self):
        return "; A's networks: %s" % networks(self.env, self.a)

    def running(self, slug, role):
        c = self.env.inspect("claw-%s-%s" % (slug, role))
        return c["State"]["Running"]

    # ------------------------------------------------------------ tests
    def test_1_create_store_secrets_deploy(self):
        for slug in (self.a, self.b):
            self.fleet.tenant(slug)
            vals = dict(GATEWAY_SECRETS, llm_api_key=self.llm_key)
            for name, value in vals.items():
                r = self.admin.put("/v1/tenants/%s/secrets/%s" %
                                   (slug, name), {"value": value})
                self.assertEqual(r.status, 201, r)
            # A: one call, no body (the fleet's defaults); B: its own.
            dep = self.deploy(slug, None if slug == self.a
                              else self.body(slug))
            self.deps[slug] = [dep["id"]]
            for role in ("gateway", "runtime"):
                self.assertIn("@sha256:", dep["images"][role])
        spec = self.fleet.dep(self.a, self.deps[self.a][0])["spec"]
        for role in ("gateway_config", "runtime_config"):
            self.assertEqual(spec[role]["tenant"], self.a)
        # No secret value shows in docker inspect.
        c = str(self.env.inspect("claw-%s-runtime" % self.a))
        self.assertNotIn(self.llm_key, c)

    def test_2_every_channel_answers(self):
        gw = self.gw(self.a)
        self.assertEqual(gw.chat_text("hello platform"),
                         "echo: hello platform")
        self.assertEqual(gw.webchat("hello web"), "echo: hello web")
        self.assertEqual(gw.telegram("hello telegram", 9001), 200)
        self.assertEqual(gw.slack("hello slack", "DPLAT"), 200)
        self.api.wait_text("telegram", 9001,
                           lambda t: t == "echo: hello telegram")
        self.api.wait_text("slack", "DPLAT",
                           lambda t: t == "echo: hello slack")
        self.assertEqual(self.api.errors, [])

    def test_3_tool_call_allowed_and_refused(self):
        gw = self.gw(self.a)
        reply = gw.wait_tool('use tool tools__add {"a": 20, "b": 22}')
        self.assertTrue(reply.startswith("tool result:"), reply)
        self.assertIn("sum=42", reply)
        self.assertIn("tools/call", self.mcp.calls)
        reply = gw.chat_text('use tool blocked__add {"a": 1, "b": 2}')
        self.assertTrue(reply.startswith("echo:"), reply)
        self.assertEqual(self.mcp_blocked.calls, [])
        self.assertGreaterEqual(gw.metric(REFUSED), 1)

    def test_4_runtime_killed_heals_answers_once(self):
        before = self.placement(self.a)["observed"]["roles"]["runtime"][
            "restarts"]
        self.env.docker("kill", "claw-%s-runtime" % self.a)
        gw = self.gw(self.a)
        self.assertEqual(gw.telegram("while it was down", 9002), 200)
        self.fleet.wait(lambda: (lambda p: p["phase"] == "healthy" and
                                 p["observed"]["roles"]["runtime"][
                                     "restarts"] > before)(
                                         self.placement(self.a)),
                        90, "the runtime back")
        self.api.wait_text("telegram", 9002,
                           lambda t: t == "echo: while it was down", 120)
        self.assertEqual(gw.telegram("afterwards", 9002), 200)
        self.api.wait_text("telegram", 9002, lambda t: t == "echo: afterwards")
        self.assertEqual(self.api.texts("telegram", 9002),
                         ["echo: while it was down", "echo: afterwards"])

    def test_5_suspend_and_resume(self):
        gw = self.gw(self.a)
        r = self.admin.post("/v1/tenants/%s/suspend" % self.a)
        self.assertEqual(r.status, 200, r)
        wait_for(lambda: not self.running(self.a, "runtime"), 30,
                 what="the runtime stopped")
        wait_for(lambda: gw.chat("anyone?")[0] == 503, 30,
                 what="the gateway told")
        st, obj = gw.chat("anyone?")
        self.assertEqual(obj["error"]["code"], "tenant_suspended")
        self.assertEqual(gw.webchat("anyone on the web?"), stack.UNAVAILABLE)
        self.assertEqual(gw.telegram("anyone on telegram?", 9003), 200)
        self.assertEqual(gw.slack("anyone on slack?", "DSUSP"), 200)
        self.api.wait_text("telegram", 9003, lambda t: t == stack.UNAVAILABLE)
        self.api.wait_text("slack", "DSUSP", lambda t: t == stack.UNAVAILABLE)
        self.assertEqual(self.gw(self.b).chat_text("b still answers"),
                         "echo: b still answers")
        r = self.admin.post("/v1/tenants/%s/resume" % self.a)
        self.assertEqual(r.status, 200, r)
        gw = self.gw(self.a)
        wait_for(lambda: gw.chat("back?")[0] == 200, 60, what="chat back")
        self.assertEqual(gw.chat_text("back again"), "echo: back again")
        self.assertEqual(gw.telegram("back on telegram", 9003), 200)
        self.api.wait_text("telegram", 9003,
                           lambda t: t == "echo: back on telegram")
        self.assertEqual(self.api.texts("telegram", 9003),
                         [stack.UNAVAILABLE, "echo: back on telegram"])

    def test_6_rollback(self):
        # Version 2 has no MCP server "tools": its tool is not offered.
        v2 = self.deploy(self.a, self.body(self.a, with_tools=False))
        self.deps[self.a].append(v2["id"])
        gw = self.gw(self.a)
        self.assertTrue(gw.chat_text('use tool tools__add {"a": 1, "b": 1}')
                        .startswith("echo:"))
        r = self.admin.post("/v1/tenants/%s/rollback" % self.a)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["rollback_of"], self.deps[self.a][0])
        self.fleet.wait_dep(self.a, r.json()["id"], "healthy", 120)
        self.deps[self.a].append(r.json()["id"])
        gw = self.gw(self.a)
        wait_for(lambda: gw.chat("up?")[0] == 200, 60, what="chat")
        reply = gw.wait_tool('use tool tools__add {"a": 2, "b": 3}')
        self.assertIn("sum=5", reply)
        self.assertEqual(gw.chat_text("after the rollback"),
                         "echo: after the rollback")

    def test_7_tenants_are_apart(self):
        pa = self.placement(self.a)["observed"]["roles"]
        b_ips, where = self.addresses(self.b)
        self.assert_isolation_rules(self.a, self.b)
        for role in ("runtime", "gateway"):
            pid = self.env.inspect("claw-%s-%s" % (self.a, role))[
                "State"]["Pid"]
            self.assert_unreachable(pid, role, b_ips, where)
        pid = self.env.inspect("claw-%s-runtime" % self.a)["State"]["Pid"]
        for ip in b_ips:
            self.assertEqual(connect_via_proxy(pid, pa["gateway"]["ip"],
                                               ip, 8080), 403)
        # Secrets and data (journal, transcripts): only A's own mounts.
        self.assert_own_mounts(self.a, self.b)
        # B's token sees nothing of A.
        _, tok = self.fleet.cp.new_token("tenant", tenant=self.b)
        other = self.fleet.client(tok)
        for path in ("/v1/tenants/%s/placement", "/v1/tenants/%s/secrets",
                     "/v1/tenants/%s/deployments"):
            self.assertEqual(other.get(path % self.a).status, 404)

    def test_8_audit_rows_and_chain(self):
        rows = self.admin.get("/v1/audit?tenant=%s&limit=200" %
                              self.a).json()["items"]
        actions = {r["action"] for r in rows}
        for a in ("tenant.create", "secret.put", "secret.release", "deploy",
                  "tenant.suspend", "tenant.resume", "rollback"):
            self.assertIn(a, actions)
        v = self.admin.get("/v1/audit/verify").json()
        self.assertTrue(v["ok"], v)
        self.assertGreater(v["rows_checked"], len(rows) - 1)


def networks(env, slug):
    """Where a tenant's containers are: role -> {network: address}, and
    the subnets of those networks."""
    out = {}
    for role in ("gateway", "runtime"):
        c = env.inspect("claw-%s-%s" % (slug, role))
        for net, n in c["NetworkSettings"]["Networks"].items():
            sub = env.docker("network", "inspect", net, "-f",
                             "{{(index .IPAM.Config 0).Subnet}}",
                             check=False).strip()
            out.setdefault(role, {})[net] = "%s in %s" % (n["IPAddress"],
                                                         sub)
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
