"""Integration: a tenant's agent setup as resources (issue 18, items 1 and
5; docs/resources.md), against a real PostgreSQL.

1. Channels: PUT stores the settings and the credentials as tenant
   secrets at once (never in the resource, the reply, the audit log);
   a bad kind, a setting the gateway refuses or a credential of the wrong
   shape (a Telegram token off its documented format) is 422 naming the
   field, and nothing is stored, not even the credentials that were fine.
2. Persona: versioned; the versions are listed and each can be read; a
   text over 64 KiB or not UTF-8 is 422 naming it.
3. Model and tools: a non-http(s) URL is 422 naming it; a secret the
   tenant lacks is 422 missing_secrets and rolls back the key given as a
   value in the same request.
4. Bounds: a tenant token changes only its own tenant (another's is 404,
   for reads and writes) and only within its bounds (channel base URLs,
   egress bound: 403, audited as KIND.put.denied); an operator may not
   send secret values; auditors get 403.
5. Each change says whether it needs a redeploy.
6. Templates: admins manage them; a secret value in one is 422; names
   are unique (409); operators read; tenants get 403.
7. What the deploy and tenant handlers will call (res_compose_check):
   cp_template_apply writes a template's parts as resources (audited);
   cp_compose builds the configs from the current resources and, given
   the versions a deployment recorded, from exactly those (a rollback
   restores the earlier persona and channels).
"""

import base64
import itertools
import json
import os
import subprocess
import sys
import time
import unittest

from clawtest.proc import wait_for
from common import CpTestCase

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

TG_TOKEN = "123456789:AAH" + "x" * 32
OK_IMAGES = {"gateway_image": "registry.test/claw/gw:1",
             "runtime_image": "registry.test/claw/rt:1"}
_n = itertools.count(1)


def slug():
    return "r%d" % next(_n)


class ResourcesTest(CpTestCase):

    def tenant(self):
        s = slug()
        self.make_tenant(s)
        _, tok = self.cp.new_token("tenant", tenant=s)
        return s, self.cp.client(tok)

    def refused(self, r, status, code, field=None):
        self.assertEqual((r.status, r.error_code()), (status, code), r)
        if field:
            self.assertTrue(r.json()["error"]["message"].startswith(
                field + ":"), r)

    def secrets(self, s):
        r = self.admin.get("/v1/tenants/%s/secrets" % s)
        self.assertEqual(r.status, 200, r)
        return [i["name"] for i in r.json()["items"]]

    def audit(self, s, action):
        items = self.admin.get("/v1/audit?limit=500").json()["items"]
        return [e for e in items if e["action"] == action and
                e["target"].startswith("tenants/%s/" % s)]

    # ---- channels

    def test_channel_credentials_become_secrets(self):
        s, _ = self.tenant()
        r = self.admin.put("/v1/tenants/%s/channels/telegram" % s, {
            "settings": {"mode": "webhook", "bot_username": "acme_bot",
                         "dm_policy": "pairing"},
            "credentials": {"bot_token": TG_TOKEN,
                            "webhook_secret": "s3cret_-x"}})
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["version"], 1)
        self.assertEqual(sorted(j["secrets"]), ["telegram_bot_token",
                                                "telegram_webhook_secret"])
        self.assertFalse(j["redeploy_required"])
        self.assertNotIn(TG_TOKEN, r.body.decode())
        self.assertEqual(sorted(self.secrets(s)),
                         ["telegram_bot_token", "telegram_webhook_secret"])
        g = self.admin.get("/v1/tenants/%s/channels/telegram" % s)
        self.assertEqual(g.status, 200, g)
        self.assertEqual(g.json()["body"]["bot_username"], "acme_bot")
        self.assertNotIn(TG_TOKEN, g.body.decode())
        self.assertNotIn("credentials", g.json()["body"])
        items = self.admin.get("/v1/tenants/%s/channels" %
                               s).json()["items"]
        self.assertEqual([i["kind"] for i in items], ["telegram"])
        put = self.audit(s, "channel.put")
        self.assertEqual(len(put), 1)
        self.assertNotIn(TG_TOKEN,
                         self.admin.get("/v1/audit?limit=500").body.decode())
        self.assertNotIn(TG_TOKEN, self.cp.daemon.log_text())
        # delete: a new version, 404 afterwards, the secrets stay
        d = self.admin.delete("/v1/tenants/%s/channels/telegram" % s)
        self.assertEqual((d.status, d.json()["version"]), (200, 2), d)
        self.refused(self.admin.get("/v1/tenants/%s/channels/telegram" % s),
                     404, "not_found")
        self.refused(self.admin.delete("/v1/tenants/%s/channels/telegram" %
                                       s), 404, "not_found")
        self.assertIn("telegram_bot_token", self.secrets(s))

    def test_channel_bad_input_is_422_and_nothing_applied(self):
        s, _ = self.tenant()
        base = "/v1/tenants/%s/channels/" % s
        self.refused(self.admin.put(base + "icq", {"settings": {}}), 422,
                     "invalid_field", "kind")
        for token in ("123:short", "abc:" + "x" * 35, "12345678" + "x" * 35,
                      "123456789:" + "x" * 31 + "!"):
            self.refused(self.admin.put(base + "telegram", {
                "settings": {}, "credentials": {"bot_token": token}}),
                422, "invalid_field", "credentials.bot_token")
        # a fine credential with a refused setting: neither is stored
        self.refused(self.admin.put(base + "telegram", {
            "settings": {"mode": "carrier-pigeon"},
            "credentials": {"bot_token": TG_TOKEN}}),
            422, "invalid_field", "settings.mode")
        self.refused(self.admin.put(base + "telegram", {
            "settings": {"webhook_url": "https://x.example:9999/h"}}),
            422, "invalid_field", "settings.webhook_url")
        self.refused(self.admin.put(base + "telegram", {
            "settings": {"nonsense": 1}}), 422, "invalid_field",
            "settings.#1")
        self.refused(self.admin.put(base + "slack", {
            "settings": {}, "credentials": {"bot_token": "xoxp-1"}}),
            422, "invalid_field", "credentials.bot_token")
        self.refused(self.admin.put(base + "matrix", {
            "settings": {"user_id": "@a:b"}}), 422, "invalid_field",
            "settings.api_base")
        self.refused(self.admin.put(base + "discord", {
            "settings": {"public_key": "zz" * 32, "application_id": "1"}}),
            422, "invalid_field", "settings.public_key")
        self.refused(self.admin.put(base + "telegram", {
            "settings": {}, "credentials": {"bot_token": TG_TOKEN + "\n"}}),
            422, "invalid_field", "credentials.bot_token")
        self.assertEqual(self.secrets(s), [])
        self.assertEqual(self.admin.get(base[:-1]).json()["items"], [])

    # ---- persona

    def test_persona_versions(self):
        s, t = self.tenant()
        for i in range(3):
            r = t.put("/v1/tenants/%s/persona" % s, {
                "soul": "You are helper number %d." % i,
                "agents": "Be brief.", "skills": {"greet": "Say hi."}})
            self.assertEqual((r.status, r.json()["version"]), (200, i + 1),
                             r)
        cur = t.get("/v1/tenants/%s/persona" % s).json()
        self.assertEqual(cur["body"]["soul"], "You are helper number 2.")
        self.assertEqual(cur["body"]["skills"], {"greet": "Say hi."})
        v = t.get("/v1/tenants/%s/persona/versions?limit=2" % s).json()
        self.assertEqual([i["version"] for i in v["items"]], [3, 2])
        self.assertIsNotNone(v["next_cursor"])
        rest = t.get("/v1/tenants/%s/persona/versions?cursor=%s" %
                     (s, v["next_cursor"])).json()
        self.assertEqual([i["version"] for i in rest["items"]], [1])
        one = t.get("/v1/tenants/%s/persona/versions/1" % s).json()
        self.assertEqual(one["body"]["soul"], "You are helper number 0.")
        self.refused(t.get("/v1/tenants/%s/persona/versions/9" % s), 404,
                     "not_found")
        # base64: the bytes of a file, UTF-8 checked by name
        b64 = base64.b64encode("Grüße, Welt".encode()).decode()
        r = t.put("/v1/tenants/%s/persona" % s,
                  {"encoding": "base64", "soul": b64})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body"]["soul"], "Grüße, Welt")

    def test_persona_bad_input(self):
        s, t = self.tenant()
        p = "/v1/tenants/%s/persona" % s
        self.refused(t.put(p, {"soul": "x" * 65537}), 422, "invalid_field",
                     "soul")
        latin1 = base64.b64encode("Grüße".encode("latin-1")).decode()
        self.refused(t.put(p, {"encoding": "base64", "soul": latin1}), 422,
                     "invalid_field", "soul")
        self.refused(t.put(p, {"soul": "ok", "skills": {"a": "\ud800"}}),
                     400, "bad_json")
        self.refused(t.put(p, {"soul": "ok", "skills": {"../x": "t"}}),
                     422, "invalid_field", "skills.#1")
        self.refused(t.put(p, {"agents": "no soul"}), 422, "invalid_field",
                     "soul")
        self.refused(t.get(p), 404, "not_found")
        self.assertEqual(t.get(p + "/versions").json()["items"], [])

    # ---- model and tools

    def test_model_and_tools(self):
        s, _ = self.tenant()
        m = "/v1/tenants/%s/model" % s
        self.refused(self.admin.put(m, {"kind": "openai",
                                        "base_url": "ftp://llm.example/v1",
                                        "model": "m"}),
                     422, "invalid_field", "base_url")
        self.refused(self.admin.put(m, {"kind": "cohere", "base_url":
                                        "https://x", "model": "m"}),
                     422, "invalid_field", "kind")
        self.refused(self.admin.put(m, {
            "kind": "openai", "base_url": "https://llm.example/v1",
            "model": "m", "fallback": {"kind": "anthropic",
                                       "base_url": "gopher://x",
                                       "model": "c"}}),
            422, "invalid_field", "fallback.base_url")
        # a key as a value plus a fallback naming a missing secret: 422,
        # and the key given as a value is not kept either
        self.refused(self.admin.put(m, {
            "kind": "openai", "base_url": "https://llm.example/v1",
            "model": "m", "api_key": "sk-value-1",
            "fallback": {"kind": "anthropic", "model": "c",
                         "base_url": "https://a.example",
                         "api_key_secret": "nope"}}),
            422, "missing_secrets")
        self.assertEqual(self.secrets(s), [])
        r = self.admin.put(m, {"kind": "openai",
                               "base_url": "https://llm.example/v1",
                               "model": "m", "api_key": "sk-value-1",
                               "limits": {"max_steps": 5}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["body"]["api_key_secret"], "model_api_key")
        self.assertNotIn("sk-value-1", r.body.decode())
        self.assertEqual(self.secrets(s), ["model_api_key"])
        self.assertEqual(len(self.audit(s, "model.put")), 1)
        self.assertNotIn("sk-value-1",
                         self.admin.get("/v1/audit?limit=500").body.decode())
        self.assertNotIn("sk-value-1", self.cp.daemon.log_text())
        self.assertNotIn("sk-value-1", self.admin.get(
            "/v1/tenants/%s/model" % s).body.decode())
        self.refused(self.admin.put(m, {"kind": "openai", "base_url":
                                        "https://x", "model": "m",
                                        "limits": {"max_steps": 0}}),
                     422, "invalid_field", "limits.max_steps")
        tl = "/v1/tenants/%s/tools" % s
        self.refused(self.admin.put(tl, {"servers": [
            {"name": "web", "url": "https://mcp.example/mcp",
             "secrets": {"Authorization": "web_auth"}}]}),
            422, "missing_secrets")
        self.refused(self.admin.put(tl, {"servers": [
            {"name": "web", "url": "file:///etc/passwd"}]}),
            422, "invalid_field", "servers[0].url")
        self.refused(self.admin.put(tl, {"servers": [
            {"name": "a__b", "url": "https://x"}]}),
            422, "invalid_field", "servers[0].name")
        self.assertEqual(self.admin.put("/v1/tenants/%s/secrets/web_auth" % s,
                                        {"value": "Bearer x"}).status, 201)
        r = self.admin.put(tl, {"servers": [
            {"name": "web", "url": "https://mcp.example/mcp",
             "secrets": {"Authorization": "web_auth"}},
            {"name": "fs", "image": "registry.test/mcp/fs:1",
             "egress": ["api.github.com:443"]}], "allow": ["web__*"]})
        self.assertEqual(r.status, 200, r)
        pol = "/v1/tenants/%s/policies" % s
        self.refused(self.admin.put(pol, {"tool_policy": {"rules": [
            {"tool": "fs/*", "action": "maybe"}]}}),
            422, "invalid_field", "tool_policy.rules[0].action")
        r = self.admin.put(pol, {
            "channels": {"telegram": {"dm_policy": "allowlist",
                                      "allow_from": ["42"]}},
            "tool_policy": {"default": "ask", "rules": [
                {"category": "payment", "action": "deny"}]}})
        self.assertEqual(r.status, 200, r)
        for k in ("model", "tools", "policies"):
            d = self.admin.delete("/v1/tenants/%s/%s" % (s, k))
            self.assertEqual(d.status, 200, d)
            self.refused(self.admin.get("/v1/tenants/%s/%s" % (s, k)), 404,
                         "not_found")
            self.assertTrue(self.audit(s, k + ".delete"))

    # ---- bounds and tenants apart

    def test_tenant_bounds_and_isolation(self):
        a, ta = self.tenant()
        b, tb = self.tenant()
        for path in ("channels/telegram", "persona", "model", "channels"):
            self.refused(tb.get("/v1/tenants/%s/%s" % (a, path)), 404,
                         "tenant_not_found")
        self.refused(tb.put("/v1/tenants/%s/persona" % a, {"soul": "x"}),
                     404, "tenant_not_found")
        self.refused(tb.put("/v1/tenants/%s/channels/telegram" % a, {
            "settings": {}, "credentials": {"bot_token": TG_TOKEN}}),
            404, "tenant_not_found")
        self.assertEqual(self.secrets(a), [])
        # a channel base URL outside api_base_allow
        self.refused(ta.put("/v1/tenants/%s/channels/telegram" % a, {
            "settings": {"api_base": "https://evil.example"}}),
            403, "api_base_not_allowed")
        self.assertTrue(self.audit(a, "channel.put.denied"))
        # a model host outside the egress bound, then inside it
        model = {"kind": "openai", "base_url": "https://llm.example/v1",
                 "model": "m"}
        self.refused(ta.put("/v1/tenants/%s/model" % a, model), 403,
                     "egress_not_allowed")
        self.assertTrue(self.audit(a, "model.put.denied"))
        self.refused(ta.put("/v1/tenants/%s/tools" % a, {"servers": [
            {"name": "x", "url": "http://169.254.169.254/mcp"}]}),
            403, "egress_not_allowed")
        r = self.admin.patch("/v1/tenants/" + a,
                             {"egress_allow": ["llm.example:443"]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(ta.put("/v1/tenants/%s/model" % a, model).status,
                         200)
        # admins are not bound
        self.assertEqual(self.admin.put(
            "/v1/tenants/%s/channels/telegram" % a,
            {"settings": {"api_base": "https://tg.example"}}).status, 200)
        # operators change resources but send no secret values
        _, otok = self.cp.new_token("operator")
        op = self.cp.client(otok)
        self.assertEqual(op.put("/v1/tenants/%s/persona" % a,
                                {"soul": "hi"}).status, 200)
        self.refused(op.put("/v1/tenants/%s/channels/telegram" % a, {
            "settings": {}, "credentials": {"bot_token": TG_TOKEN}}),
            403, "forbidden")
        self.refused(op.put("/v1/tenants/%s/model" % a,
                            dict(model, api_key="sk-x")), 403, "forbidden")
        _, atok = self.cp.new_token("auditor")
        self.refused(self.cp.client(atok).get("/v1/tenants/%s/persona" % a),
                     403, "forbidden")

    def test_redeploy_required_once_deployed(self):
        s, t = self.tenant()
        r = self.admin.post("/v1/nodes/join-tokens", {})
        self.assertEqual(r.status, 201, r)
        node = FakeNode(self.cp.url, r.json()["token"], "n-res")
        stop = node.autopilot()
        self.addCleanup(time.sleep, 0.5)
        self.addCleanup(stop.set)
        self.assertFalse(t.put("/v1/tenants/%s/persona" % s,
                               {"soul": "a"}).json()["redeploy_required"])
        r = self.admin.post("/v1/tenants/%s/deploy" % s, OK_IMAGES)
        self.assertEqual(r.status, 202, r)
        self.assertTrue(t.put("/v1/tenants/%s/persona" % s,
                              {"soul": "b"}).json()["redeploy_required"])
        # an operator's suspension is a lock: the tenant changes nothing
        _, otok = self.cp.new_token("operator")
        r = self.cp.client(otok).post("/v1/tenants/%s/suspend" % s, {})
        self.assertEqual(r.status, 200, r)
        self.refused(t.put("/v1/tenants/%s/persona" % s, {"soul": "c"}),
                     403, "operator_locked")
        self.refused(t.delete("/v1/tenants/%s/persona" % s), 403,
                     "operator_locked")
        self.assertTrue(self.audit(s, "persona.delete.denied"))
        self.assertEqual(t.get("/v1/tenants/%s/persona" %
                               s).json()["body"]["soul"], "b")
        self.assertEqual(self.admin.put("/v1/tenants/%s/persona" % s,
                                        {"soul": "d"}).status, 200)

    def test_channel_connection_state_from_the_node(self):
        """What the tenant's gateway says of each channel (its /readyz
        "channels", which its node reports) shows in the channel list;
        "unknown" before any report and for a channel it does not name;
        another tenant's token sees none of it."""
        s, t = self.tenant()
        for kind in ("telegram", "webchat"):
            self.assertEqual(t.put("/v1/tenants/%s/channels/%s" % (s, kind), {
                "settings": {}, "credentials": {"bot_token": TG_TOKEN}}
                if kind == "telegram" else {"settings": {}}).status, 200)

        def states():
            return {i["kind"]: i["connection"] for i in t.get(
                "/v1/tenants/%s/channels" % s).json()["items"]}
        self.assertEqual(states(), {"telegram": {"state": "unknown"},
                                    "webchat": {"state": "unknown"}})
        r = self.admin.post("/v1/nodes/join-tokens", {})
        node = FakeNode(self.cp.url, r.json()["token"], "n-conn")
        r = self.admin.post("/v1/tenants/%s/deploy" % s, OK_IMAGES)
        self.assertEqual(r.status, 202, r)
        tg = {"state": "connected", "since": "2026-12-06T12:00:00Z",
              "mode": "polling"}
        wait_for(lambda: node.tenant(s), what="the assignment")
        node.report(s, "healthy", channels={"telegram": tg})
        wait_for(lambda: states()["telegram"] == tg, what="the state")
        self.assertEqual(states()["webchat"], {"state": "unknown"})
        o, _ = self.tenant()
        self.refused(t.get("/v1/tenants/%s/channels" % o), 404,
                     "tenant_not_found")

    def test_deploy_composes_resources_and_rollback_restores(self):
        """A deploy without configs builds them from the resources and
        records the versions; a rollback redeploys the earlier ones."""
        s, t = self.tenant()
        r = self.admin.post("/v1/nodes/join-tokens", {})
        node = FakeNode(self.cp.url, r.json()["token"], "n-comp")
        stop = node.autopilot()
        self.addCleanup(time.sleep, 0.5)
        self.addCleanup(stop.set)
        r = self.admin.put("/v1/tenants/%s/channels/telegram" % s, {
            "settings": {"mode": "polling", "bot_username": "c_bot"},
            "credentials": {"bot_token": TG_TOKEN}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(t.put("/v1/tenants/%s/persona" % s,
                               {"soul": "You are Ada."}).status, 200)

        def deploy_and_wait(path, body):
            r = self.admin.post(path, body)
            self.assertEqual(r.status, 202, r)
            dep = r.json()
            deadline = time.time() + 30
            while time.time() < deadline:
                d = self.admin.get("/v1/tenants/%s/deployments/%s" %
                                   (s, dep["id"])).json()
                if d["phase"] == "healthy":
                    return d
                time.sleep(0.1)
            self.fail("deployment %s never healthy" % dep["id"])

        first = deploy_and_wait("/v1/tenants/%s/deploy" % s, OK_IMAGES)
        spec = first["spec"]
        self.assertEqual(spec["gateway_config"]["channels"]["telegram"]
                         ["bot_username"], "c_bot")
        self.assertEqual(spec["resource_versions"]["persona"], 1)
        self.assertEqual(spec["resource_versions"]["channels"],
                         {"telegram": 1})
        self.assertIn("telegram_bot_token", spec["secrets"]["gateway"])
        self.assertNotIn("telegram_bot_token", spec["secrets"]["runtime"])
        # a new persona, deployed; then the rollback brings back the first
        self.assertEqual(t.put("/v1/tenants/%s/persona" % s,
                               {"soul": "You are Bob."}).status, 200)
        second = deploy_and_wait("/v1/tenants/%s/deploy" % s, OK_IMAGES)
        self.assertEqual(second["spec"]["resource_versions"]["persona"], 2)
        self.assertNotEqual(second["spec"]["runtime_config"],
                            spec["runtime_config"])
        back = deploy_and_wait("/v1/tenants/%s/rollback" % s, {})
        self.assertEqual(back["spec"]["runtime_config"],
                         spec["runtime_config"])
        self.assertEqual(back["spec"]["resource_versions"],
                         spec["resource_versions"])
        # a body with configs of its own is deployed as given
        own = dict(OK_IMAGES, gateway_config={"channels": {}})
        d = deploy_and_wait("/v1/tenants/%s/deploy" % s, own)
        self.assertNotIn("resource_versions", d["spec"])

    def test_tool_servers_reach_the_node_with_their_secrets_only(self):
        """The tools resource's image servers go into the deployment's
        spec and the node's assignment (docs/node-agent.md, "Tool
        servers"), each with the values of the secrets it names and no
        other; once the node has them, later assignments leave values out
        (secrets_cached) and the spec never holds one."""
        s, t = self.tenant()
        for name, value in (("fs_token", "fs-secret-v1"),
                            ("other_key", "not-for-tools")):
            self.assertEqual(self.admin.put(
                "/v1/tenants/%s/secrets/%s" % (s, name),
                {"value": value}).status, 201)
        r = self.admin.put("/v1/tenants/%s/tools" % s, {"servers": [
            {"name": "files", "image": "registry.test/claw/tools:1",
             "command": ["node", "server.js"], "env": {"MODE": "ro"},
             "secrets": {"FS_TOKEN": "fs_token"}},
            {"name": "remote", "url": "https://mcp.example/mcp"}]})
        self.assertEqual(r.status, 200, r)
        r = self.admin.post("/v1/nodes/join-tokens", {})
        node = FakeNode(self.cp.url, r.json()["token"], "n-tools")
        r = self.admin.post("/v1/tenants/%s/deploy" % s, OK_IMAGES)
        self.assertEqual(r.status, 202, r)
        spec = self.admin.get("/v1/tenants/%s/deployments/%s" % (
            s, r.json()["id"])).json()["spec"]
        self.assertEqual([x["name"] for x in spec["tool_servers"]],
                         ["files"])
        self.assertNotIn("fs-secret-v1", json.dumps(spec))
        a = wait_for(lambda: node.tenant(s), what="the assignment")
        self.assertEqual(a["tool_servers"], [
            {"name": "files", "image": "registry.test/claw/tools:1",
             "command": ["node", "server.js"], "env": {"MODE": "ro"},
             "secrets": {"FS_TOKEN": "fs-secret-v1"}}])
        self.assertNotIn("not-for-tools", json.dumps(a["tool_servers"]))
        # the node has the values now: a later assignment of the same
        # version carries none (generation 0 would be an agent starting
        # anew, which gets every value again)
        again = [x for x in node.api.get(
            "/v1/agent/assignments?generation=1&wait=0").json()["tenants"]
            if x["tenant"] == s]
        self.assertTrue(again and again[0].get("secrets_cached"), again)
        self.assertEqual(again[0]["tool_servers"][0]["secrets"], {})

    # ---- templates

    def test_templates(self):
        body = {"name": "support-bot",
                "persona": {"soul": "You help with support."},
                "model": {"kind": "openai", "model": "m",
                          "base_url": "https://llm.example/v1",
                          "api_key_secret": "model_api_key"},
                "channels": {"telegram": {"mode": "polling"}},
                "tools": {"servers": [{"name": "web",
                                       "url": "https://mcp.example/mcp"}]},
                "policies": {"elicitation": "ask"}}
        r = self.admin.post("/v1/templates", body)
        self.assertEqual((r.status, r.json()["version"]), (201, 1), r)
        self.refused(self.admin.post("/v1/templates", body), 409,
                     "template_name_taken")
        bad = dict(body, name="t2", model=dict(body["model"],
                                               api_key="sk-no"))
        self.refused(self.admin.post("/v1/templates", bad), 422,
                     "invalid_field", "model.api_key")
        bad = dict(body, name="t3", channels={"icq": {}})
        self.refused(self.admin.post("/v1/templates", bad), 422,
                     "invalid_field", "channels")
        self.refused(self.admin.post("/v1/templates", dict(body,
                                                           name="Bad_")),
                     422, "invalid_field", "name")
        s, t = self.tenant()
        self.refused(t.post("/v1/templates", dict(body, name="t4")), 403,
                     "forbidden")
        self.refused(t.get("/v1/templates"), 403, "forbidden")
        _, otok = self.cp.new_token("operator")
        op = self.cp.client(otok)
        lst = op.get("/v1/templates").json()["items"]
        self.assertIn("support-bot", [i["name"] for i in lst])
        r = self.admin.put("/v1/templates/support-bot",
                           {"persona": {"soul": "v2"}})
        self.assertEqual((r.status, r.json()["version"]), (200, 2), r)
        self.assertEqual(op.get("/v1/templates/support-bot").json()["body"],
                         {"persona": {"soul": "v2"}})
        # a tenant made from it starts with its parts, audited
        r = self.admin.post("/v1/tenants", {"slug": "from-tpl",
                                            "name": "From Template",
                                            "template": "support-bot"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(self.admin.get("/v1/tenants/from-tpl/persona")
                         .json()["body"]["soul"], "v2")
        self.assertTrue(self.audit("from-tpl", "template.apply") or [
            e for e in self.admin.get("/v1/audit?limit=500").json()
            ["items"] if e["action"] == "template.apply"])
        # an unknown one: 422 naming the field, and no tenant made
        self.refused(self.admin.post("/v1/tenants", {
            "slug": "no-tpl", "name": "No", "template": "nope"}),
            422, "invalid_field", "template")
        self.refused(self.admin.get("/v1/tenants/no-tpl"), 404,
                     "tenant_not_found")
        self.refused(self.admin.post("/v1/tenants", {
            "slug": "no-tpl", "name": "No", "template": 7}),
            422, "invalid_field", "template")
        self.refused(self.admin.put("/v1/templates/nope",
                                    {"persona": {"soul": "x"}}),
                     404, "template_not_found")
        self.assertEqual(self.admin.delete(
            "/v1/templates/support-bot").status, 204)
        self.refused(self.admin.get("/v1/templates/support-bot"), 404,
                     "template_not_found")

    # ---- composition and templates applied (the calls the lead wires)

    def check(self, *args):
        exe = os.path.join(os.environ["CLAW_BUILD_DIR"], "tests",
                           "integration", "controlplane",
                           "res_compose_check")
        r = subprocess.run([exe, self.db_url] + list(args),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("Sanitizer", r.stderr)
        out = r.stdout.strip()
        return out if out == "not_found" else json.loads(out)

    def test_template_apply_compose_and_restore(self):
        r = self.admin.post("/v1/templates", {
            "name": "shop", "persona": {"soul": "You sell shoes."},
            "channels": {"telegram": {"mode": "polling"}},
            "model": {"kind": "openai", "base_url": "https://llm.example/v1",
                      "model": "m", "api_key_secret": "model_api_key"}})
        self.assertEqual(r.status, 201, r)
        s, t = self.tenant()
        tid = self.admin.get("/v1/tenants/" + s).json()["id"]
        self.assertEqual(self.check("apply", tid, "nope"), "not_found")
        applied = self.check("apply", tid, "shop")
        self.assertEqual(applied, {"channels": {"telegram": 1},
                                   "persona": 1, "model": 1})
        self.assertEqual(t.get("/v1/tenants/%s/persona" %
                               s).json()["body"]["soul"], "You sell shoes.")
        self.assertEqual(t.get("/v1/tenants/%s/channels/telegram" %
                               s).json()["body"], {"mode": "polling"})
        rows = [e for e in self.admin.get("/v1/audit?limit=500").json()[
            "items"] if e["action"] == "template.apply" and
            e.get("tenant_id") == tid]
        self.assertEqual(len(rows), 1, rows)
        # the tenant changes its persona and channel after a deployment
        # recorded version 1 of each
        first = self.check("compose", tid, s)
        self.assertEqual(first["versions"], applied)
        self.assertEqual(first["persona"]["soul"], "You sell shoes.")
        self.assertEqual(first["gateway_config"]["tenant"], s)
        self.assertEqual(first["gateway_config"]["channels"]["telegram"],
                         {"mode": "polling"})
        self.assertIn("llm.example:443",
                      first["gateway_config"]["egress_allow"])
        self.assertEqual(first["runtime_config"]["providers"][0]["model"],
                         "m")
        self.assertEqual(t.put("/v1/tenants/%s/persona" % s,
                               {"soul": "You sell hats."}).status, 200)
        self.assertEqual(t.put("/v1/tenants/%s/channels/telegram" % s,
                               {"settings": {"mode": "webhook"}}).status,
                         200)
        now = self.check("compose", tid, s)
        self.assertEqual(now["persona"]["soul"], "You sell hats.")
        self.assertEqual(now["versions"]["persona"], 2)
        # a rollback composes the recorded versions: the earlier persona
        back = self.check("compose", tid, s, json.dumps(first["versions"]))
        self.assertEqual(back["persona"]["soul"], "You sell shoes.")
        self.assertEqual(back["gateway_config"]["channels"]["telegram"],
                         {"mode": "polling"})
        self.assertEqual(back["versions"], first["versions"])
        self.assertEqual(self.check("compose", tid, s,
                                    '{"persona": 99}'), "not_found")


if __name__ == "__main__":
    unittest.main(verbosity=2)
