"""Agent setup as resources end to end (issue 18, "Tests and figures"):
from the resources of docs/resources.md to a deployed tenant that answers
on the configured channel, with the configured persona, through the
configured model; and a rollback that restores the earlier persona.

The stack is edgestack.py's (a real control plane on PostgreSQL, a real
node agent with its real Caddy edge, the project's own gateway and runtime
images, the scripted LLM in a container), with one addition: the control
plane gets a fleet default runtime config holding only the runtime's
egress proxy (what every tenant's runtime needs and no resource sets).
Everything else the tenant runs comes from its resources, set through the
control plane's API:

- model: kind openai, base_url the scripted LLM, model "scripted", the
  LLM's API key given as a value (stored as the secret model_api_key);
- persona: {"soul": "You are Ada ..."};
- channel openai (the OpenAI-compatible endpoint, without a per-sender
  rate limit) with its api_token given as a credential (stored as
  openai_api_token). Telegram is not used: the gateway would have to reach
  a Telegram fake on an address its egress allows, which this stack does
  not host; the OpenAI endpoint's credential is one the test sets itself.

Proves: a deploy with no body composes them (the spec records
resource_versions, the runtime's provider is the model resource's with its
key by secret name, no secret value in the spec) and the tenant answers
through the edge on that channel with that token, through the scripted
model with that key ("echo: TEXT"); the system prompt the model receives
starts with the persona's soul (the scripted LLM's "show system prompt"
rule, docs/scripted-llm.md); a new persona says redeploy_required, and a
redeploy with no body puts it in effect (persona version 2); a rollback
redeploys the earlier deployment's spec (persona version 1) and the
earlier soul is back in the chat. The control plane exits clean (ASan).
"""

import json
import os
import secrets
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from edgestack import CHAT_TOKEN, EdgeStack  # noqa: E402
from clawtest.edge import until  # noqa: E402

SOUL_ONE = "You are Ada, persona one of the resources e2e test."
SOUL_TWO = "You are Bea, persona two of the resources e2e test."
SHOW = "show system prompt"
# The fleet default runtime config: the runtime reaches its model through
# its gateway's egress proxy (docs/runtime.md, "proxy").
DEFAULT_RUNTIME = {"proxy": "http://gateway:3128"}


class ResourcesEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
        json.dump(DEFAULT_RUNTIME, f)
        f.close()
        cls.addClassCleanup(os.unlink, f.name)
        cls.st = EdgeStack(drain_ms=300,
                           cp_extra=["--default-runtime-config", f.name])

    @classmethod
    def tearDownClass(cls):
        cls.st.close_clean()

    def put(self, slug, what, body):
        r = self.st.fleet.admin.put("/v1/tenants/%s/%s" % (slug, what), body)
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def deploy(self, slug, path="deploy"):
        """POST deploy (no body) or rollback; until the new deployment
        serves alone; its spec."""
        r = self.st.fleet.admin.post("/v1/tenants/%s/%s" % (slug, path))
        self.assertEqual(r.status, 202, r.text)
        dep_id = r.json()["id"]
        self.st.settle(slug, dep_id)
        return self.st.fleet.dep(slug, dep_id)["spec"]

    def chat(self, slug, text):
        """One turn through the edge on the openai channel (the token
        the channel PUT stored); retried while the edge catches up."""
        def once():
            try:
                return self.st.chat(slug, text)
            except RuntimeError:
                return None
        return until(once, 60, what="%s answers %r" % (slug, text))

    def assert_persona(self, slug, soul):
        reply = self.chat(slug, SHOW)
        self.assertTrue(reply.startswith("system: " + soul), reply)

    def test_resources_deploy_chat_and_rollback(self):
        st = self.st
        slug = "res-" + secrets.token_hex(3)
        st.fleet.tenant(slug)
        # the resources, each value given once and stored as a secret
        model = self.put(slug, "model", {
            "kind": "openai", "base_url": st.llm.base_url,
            "model": "scripted", "api_key": st.llm_key,
            "timeout_ms": 20000, "max_retries": 1})
        self.assertEqual(model["secrets"], ["model_api_key"])
        self.assertNotIn(st.llm_key, json.dumps(model))
        persona = self.put(slug, "persona", {"soul": SOUL_ONE})
        self.assertEqual(persona["version"], 1)
        self.assertFalse(persona["redeploy_required"])
        channel = self.put(slug, "channels/openai", {
            "settings": {"rate_limit_per_minute": 0},
            "credentials": {"api_token": CHAT_TOKEN}})
        self.assertEqual(channel["secrets"], ["openai_api_token"])
        self.assertNotIn(CHAT_TOKEN, json.dumps(channel))

        # a deploy with no body composes them
        spec = self.deploy(slug)
        self.assertEqual(spec["resource_versions"]["persona"], 1)
        self.assertEqual(spec["resource_versions"]["channels"],
                         {"openai": 1})
        self.assertEqual(spec["resource_versions"]["model"], 1)
        prov = spec["runtime_config"]["providers"]
        self.assertEqual(len(prov), 1)
        self.assertEqual((prov[0]["base_url"], prov[0]["model"],
                          prov[0]["api_key_secret"]),
                         (st.llm.base_url, "scripted", "model_api_key"))
        self.assertEqual(spec["runtime_config"]["proxy"],
                         DEFAULT_RUNTIME["proxy"])
        self.assertIn(st.llm.hostport, spec["gateway_config"]["egress_allow"])
        self.assertIn("model_api_key", spec["secrets"]["runtime"])
        self.assertIn("openai_api_token", spec["secrets"]["gateway"])
        self.assertNotIn(st.llm_key, json.dumps(spec))
        self.assertNotIn(CHAT_TOKEN, json.dumps(spec))

        # the configured channel, through the configured model, with the
        # configured persona
        text = "hello-" + secrets.token_hex(3)
        self.assertEqual(self.chat(slug, text), "echo: " + text)
        self.assert_persona(slug, SOUL_ONE)
        # the channel's connection state, from the gateway's /readyz
        # through the node agent's status: a webhook channel the
        # platform (here: this client) has reached
        conn = until(lambda: (lambda c: c.get("last_event") and c)(
            {i["kind"]: i["connection"] for i in st.fleet.admin.get(
                "/v1/tenants/%s/channels" % slug).json()["items"]}
            ["openai"]), 60, what="the openai channel's connection")
        self.assertEqual(conn["state"], "webhook")

        # a new persona: in effect after a redeploy (no body)
        persona = self.put(slug, "persona", {"soul": SOUL_TWO})
        self.assertEqual(persona["version"], 2)
        self.assertTrue(persona["redeploy_required"])
        self.assert_persona(slug, SOUL_ONE)  # not before the redeploy
        spec2 = self.deploy(slug)
        self.assertEqual(spec2["resource_versions"]["persona"], 2)
        self.assert_persona(slug, SOUL_TWO)

        # the rollback restores the earlier persona
        back = self.deploy(slug, "rollback")
        self.assertEqual(back["resource_versions"], spec["resource_versions"])
        self.assertEqual(back["runtime_config"], spec["runtime_config"])
        self.assert_persona(slug, SOUL_ONE)
        text = "after-" + secrets.token_hex(3)
        self.assertEqual(self.chat(slug, text), "echo: " + text)


if __name__ == "__main__":
    unittest.main()
