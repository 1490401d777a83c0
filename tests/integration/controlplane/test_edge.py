"""Integration: the control plane's side of the edge (docs/fleet.md,
"Public addresses"), without Docker: nodes are played through the agent
API (tests/integration/cli/fakenode.py).

1. base-domain (given as "Edge.Test." to prove it is normalised):
   public_url in GET /v1/tenants/{t}, the placement and the deploy result;
   webhooks lists each enabled channel's URL on it (Telegram only in
   webhook mode, a disabled channel not at all).
2. Custom domains: claim (201, then 200 again), list, release (204), all
   audited; a domain belongs to one tenant (409 domain_taken); malformed
   names, wildcards, IP addresses (v4 in any form, v6) and names at or under
   the base domain get 422 with their codes; a tenant token manages only
   its own tenant's domains (another's is 404 and changes nothing); an
   auditor lists but may not claim.
3. GET /v1/edge/ask: no token; 200 only for a claimed domain or a live
   tenant's public host, 404 otherwise (released, unknown, another base
   domain, a deleted tenant's), and its body is {"ok": bool} only.
4. The assignments: each tenant entry has public_host and domains; with
   two nodes, node B's edge_routes route a tenant on node A to A's
   reported edge_address, and A gets no route for its own tenant; a
   domain claimed later reaches B's routes (a new generation); a bad
   edge_address is refused (422).
"""

import itertools
import os
import sys
import time
import unittest

import common
from clawtest.cp import ControlPlane
from clawtest.http import Client
from clawtest.pg import PgCluster
from common import CpTestCase

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
BASE = "edge.test"
_names = itertools.count(1)


class EdgeTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        # as CpTestCase, with a base domain in a spelling to normalise, and
        # the two database roles of production: the edge's triggers run as
        # the app role, which owns nothing
        cls.pg = PgCluster().start()
        cls.pg.psql("CREATE ROLE edge_owner LOGIN; CREATE ROLE edge_app LOGIN")
        cls.db = "cp%d" % next(common._db_names)
        cls.pg.psql("CREATE DATABASE %s OWNER edge_owner" % cls.db)

        def url(role):
            return "postgresql://%s@/%s?host=%s&port=%d" % (
                role, cls.db, cls.pg.sock, cls.pg.port)
        cls.cp = ControlPlane(database_url=url("edge_app"), extra_args=[
            "--migration-database-url", url("edge_owner"),
            "--base-domain", "Edge.Test.", "--heartbeat-ms", "500"]).start()
        cls.admin = cls.cp.client()
        cls.anon = Client(cls.cp.url)

    def tenant(self):
        slug = "e%d" % next(_names)
        self.make_tenant(slug)
        return slug

    def join(self, name, edge):
        r = self.admin.post("/v1/nodes/join-tokens", {})
        self.assertEqual(r.status, 201, r)
        return FakeNode(self.cp.url, r.json()["token"], name,
                        edge_address=edge)

    def edge_node_with_tenant(self, name, edge, domain):
        """Every node cordoned, then a node with an edge address holding
        one new tenant that claimed domain; the node cordoned too, so
        later tenants go elsewhere. Returns (node, slug)."""
        for n in self.admin.get("/v1/nodes").json()["items"]:
            self.admin.post("/v1/nodes/%s/cordon" % n["id"])
        node = self.join(name, edge)
        slug = self.tenant()
        self.admin.put("/v1/tenants/%s/domains/%s" % (slug, domain))
        r = self.admin.post("/v1/tenants/%s/deploy" % slug, IMG)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(self.admin.get("/v1/tenants/%s/placement" % slug)
                         .json()["node_id"], node.id)
        self.admin.post("/v1/nodes/%s/cordon" % node.id)
        return node, slug

    def audit_actions(self, target):
        items = self.admin.get("/v1/audit?limit=500").json()["items"]
        return [e["action"] for e in items if e["target"] == target]

    def ask(self, name):
        r = self.anon.get("/v1/edge/ask?domain=" + name)
        self.assertEqual(set(r.json()), {"ok"}, r)
        return r.status

    # 1
    def test_public_url_and_webhooks(self):
        slug = self.tenant()
        t = self.admin.get("/v1/tenants/" + slug).json()
        self.assertEqual(t["public_url"], "https://%s.%s/" % (slug, BASE))
        self.assertEqual(t["domains"], [])
        self.assertEqual(t["webhooks"], {})
        body = dict(IMG, gateway_config={"tenant": slug, "channels": {
            "telegram": {"mode": "webhook"},
            "slack": {"mode": "socket"},
            "whatsapp": {"phone_number_id": "1"},
            "line": {"enabled": False},
            "webchat": {}}})
        # the channels' secrets (a deploy without them is 422
        # missing_secrets; a disabled channel needs none)
        for name in ("telegram_bot_token", "telegram_webhook_secret",
                     "slack_bot_token", "slack_app_token",
                     "whatsapp_app_secret", "whatsapp_verify_token",
                     "whatsapp_access_token"):
            self.assertEqual(self.admin.put(
                "/v1/tenants/%s/secrets/%s" % (slug, name),
                {"value": "v"}).status, 201)
        r = self.admin.post("/v1/tenants/%s/deploy" % slug, body)
        self.assertEqual(r.status, 202, r)
        url = "https://%s.%s" % (slug, BASE)
        want = {"telegram": url + "/telegram/webhook",
                "whatsapp": url + "/whatsapp/webhook",
                "webchat": url + "/chat"}
        self.assertEqual(r.json()["public_url"], url + "/")
        self.assertEqual(r.json()["webhooks"], want)
        self.assertEqual(self.admin.get("/v1/tenants/" + slug)
                         .json()["webhooks"], want)
        p = self.admin.get("/v1/tenants/%s/placement" % slug).json()
        self.assertEqual(p["public_url"], url + "/")
        # issue 11, point 7: the gateway is given its Telegram webhook URL
        # (it calls setWebhook with it); one the body names is kept
        spec = r.json()["spec"]
        self.assertEqual(spec["gateway_config"]["channels"]["telegram"]
                         ["webhook_url"], url + "/telegram/webhook")
        own = "https://bot.example.com/telegram/webhook"
        body["gateway_config"]["channels"]["telegram"]["webhook_url"] = own
        r = self.admin.post("/v1/tenants/%s/deploy" % slug, body)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["spec"]["gateway_config"]["channels"]
                         ["telegram"]["webhook_url"], own)
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    # 2
    def test_domains_claim_list_release_audited(self):
        slug = self.tenant()
        path = "/v1/tenants/%s/domains/" % slug
        r = self.admin.put(path + "Chat.Example.COM.")
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json(), {"domain": "chat.example.com",
                                    "tenant": slug})
        self.assertEqual(self.admin.put(path + "chat.example.com").status,
                         200)
        self.assertEqual(self.admin.put(path + "xn--bcher-kva.example")
                         .status, 201)
        items = self.admin.get("/v1/tenants/%s/domains" % slug) \
            .json()["items"]
        self.assertEqual([i["domain"] for i in items],
                         ["chat.example.com", "xn--bcher-kva.example"])
        self.assertEqual(self.admin.get("/v1/tenants/" + slug)
                         .json()["domains"],
                         ["chat.example.com", "xn--bcher-kva.example"])
        self.assertEqual(self.admin.delete(path + "chat.example.com")
                         .status, 204)
        self.assertError(self.admin.delete(path + "chat.example.com"), 404,
                         "domain_not_found")
        target = "tenants/%s/domains/chat.example.com" % slug
        self.assertEqual(self.audit_actions(target),
                         ["domain.remove", "domain.add"])

    def test_domain_belongs_to_one_tenant(self):
        a, b = self.tenant(), self.tenant()
        self.assertEqual(self.admin.put(
            "/v1/tenants/%s/domains/shop.example.org" % a).status, 201)
        r = self.admin.put("/v1/tenants/%s/domains/SHOP.example.org" % b)
        self.assertError(r, 409, "domain_taken")
        self.assertNotIn(a, r.json()["error"]["message"])
        self.assertEqual(self.admin.get("/v1/tenants/%s/domains" % b)
                         .json()["items"], [])
        self.assertError(self.admin.delete(
            "/v1/tenants/%s/domains/shop.example.org" % b), 404,
            "domain_not_found")

    def test_bad_domains(self):
        slug, other = self.tenant(), self.tenant()
        cases = {
            "domain_invalid": ["*.example.com", "exa_mple.com", "-a.com",
                               "a-.com", "localhost", "a..b.com",
                               "x" * 64 + ".com",
                               ".".join(["abcdefghi"] * 26) + ".com",
                               "b%C3%BCcher.example"],
            "domain_is_address": ["127.0.0.1", "10.1", "0x7f.1",
                                  "2130706433", "1.2.3.4.", "[::1]",
                                  "%3A%3A1", "fe80%3A%3A1"],
            "domain_reserved": [BASE, other + "." + BASE,
                                slug + "." + BASE, "a.b." + BASE,
                                "X." + BASE.upper() + "."],
        }
        for code, names in cases.items():
            for n in names:
                r = self.admin.put("/v1/tenants/%s/domains/%s" % (slug, n))
                self.assertError(r, 422, code)
        self.assertEqual(self.admin.get("/v1/tenants/%s/domains" % slug)
                         .json()["items"], [])

    def test_tenant_tokens_manage_only_their_own(self):
        mine, theirs = self.tenant(), self.tenant()
        _, tok = self.cp.new_token("tenant", tenant=mine)
        _, aud = self.cp.new_token("auditor")
        me, auditor = self.cp.client(tok), self.cp.client(aud)
        self.assertEqual(me.put("/v1/tenants/%s/domains/mine.example"
                                % mine).status, 201)
        self.assertEqual(self.admin.put("/v1/tenants/%s/domains/"
                                        "theirs.example" % theirs).status,
                         201)
        for r in (me.put("/v1/tenants/%s/domains/grab.example" % theirs),
                  me.delete("/v1/tenants/%s/domains/theirs.example"
                            % theirs),
                  me.get("/v1/tenants/%s/domains" % theirs)):
            self.assertError(r, 404, "tenant_not_found")
        # a domain another tenant holds: taken, and it stays theirs
        self.assertError(me.put("/v1/tenants/%s/domains/theirs.example"
                                % mine), 409, "domain_taken")
        self.assertEqual([i["domain"] for i in self.admin.get(
            "/v1/tenants/%s/domains" % theirs).json()["items"]],
            ["theirs.example"])
        self.assertEqual(auditor.get("/v1/tenants/%s/domains" % mine)
                         .status, 200)
        self.assertError(auditor.put("/v1/tenants/%s/domains/a.example"
                                     % mine), 403)
        self.assertEqual(self.anon.put("/v1/tenants/%s/domains/a.example"
                                       % mine).status, 401)
        self.assertEqual(me.delete("/v1/tenants/%s/domains/mine.example"
                                   % mine).status, 204)

    # 3
    def test_ask(self):
        slug = self.tenant()
        self.admin.put("/v1/tenants/%s/domains/ask.example.net" % slug)
        self.assertEqual(self.ask("ask.example.net"), 200)
        self.assertEqual(self.ask("ASK.example.net."), 200)
        self.assertEqual(self.ask("%s.%s" % (slug, BASE)), 200)
        for n in ("nope.example.net", "nobody." + BASE,
                  "x.%s.%s" % (slug, BASE), slug + ".other.test",
                  "127.0.0.1", "*." + BASE, ""):
            self.assertEqual(self.ask(n), 404, n)
        self.assertEqual(self.anon.get("/v1/edge/ask").status, 404)
        self.admin.delete("/v1/tenants/%s/domains/ask.example.net" % slug)
        self.assertEqual(self.ask("ask.example.net"), 404)
        gone = self.tenant()
        self.admin.put("/v1/tenants/%s/domains/gone.example.net" % gone)
        self.assertEqual(self.admin.delete("/v1/tenants/" + gone).status,
                         200)
        self.assertEqual(self.ask("gone.example.net"), 404)
        self.assertEqual(self.ask("%s.%s" % (gone, BASE)), 404)

    # 4
    def test_edge_routes_between_two_nodes(self):
        a, slug = self.edge_node_with_tenant("edge-a", "10.9.0.1:8443",
                                             "bot.example.com")
        b = self.join("edge-b", "[fd00::2]:8443")
        own = a.tenant(slug)
        self.assertEqual(own["public_host"], "%s.%s" % (slug, BASE))
        self.assertEqual(own["domains"], ["bot.example.com"])
        route = {"hosts": ["%s.%s" % (slug, BASE), "bot.example.com"],
                 "node": "edge-a", "upstream": "10.9.0.1:8443"}
        doc_b = b.assignments()
        self.assertIn(route, doc_b["edge_routes"])
        self.assertIsNone(b.tenant(slug))
        doc_a = a.assignments()
        for r in doc_a["edge_routes"]:
            self.assertNotEqual(r["node"], "edge-a", r)
            self.assertNotIn("bot.example.com", r["hosts"])
        # a later claim reaches B with a new generation
        gen = doc_b["generation"]
        self.admin.put("/v1/tenants/%s/domains/new.example.com" % slug)
        r = b.api.get(b.poll_path(gen, 5))
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.json()["generation"], gen)
        self.assertIn(dict(route, hosts=route["hosts"] + [
            "new.example.com"]), r.json()["edge_routes"])
        # A's edge moves: B's route follows
        gen = r.json()["generation"]
        a.edge_address = "10.9.0.9:8443"
        a.heartbeat()
        r = b.api.get(b.poll_path(gen, 5))
        self.assertEqual(r.status, 200, r)
        ups = [x["upstream"] for x in r.json()["edge_routes"]
               if x["node"] == "edge-a"]
        self.assertEqual(ups, ["10.9.0.9:8443"])
        # a redeploy in place changes no route: B is not woken
        gen = b.assignments()["generation"]
        r = self.admin.post("/v1/tenants/%s/deploy" % slug, IMG)
        self.assertEqual(r.status, 202, r)
        r = b.api.get(b.poll_path(gen, 1))
        self.assertEqual(r.status, 204, r)
        # stopped: no route
        self.admin.post("/v1/tenants/%s/stop" % slug)
        r = b.api.get(b.poll_path(gen, 5))
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("edge-a", [x["node"] for x in
                                    b.assignments()["edge_routes"]])
        for bad in ("nohost", "a b:1", "h:0", "h:65536", "::1:80",
                    "[zz]:1", "Upper.Case:80", "x" * 300 + ":1"):
            r = b.api.post("/v1/agent/heartbeat", {"edge_address": bad})
            self.assertError(r, 422, "invalid_field")
            r = b.api.post("/v1/agent/status", {"tenants": [],
                                                "edge_address": bad})
            self.assertError(r, 422, "invalid_field")
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    # 5
    def test_edge_changes_leave_nodes_without_an_edge_asleep(self):
        a, far = self.edge_node_with_tenant("edge-e", "10.9.0.5:8443",
                                            "far.example.com")
        plain = self.join("plain-p", None)  # no edge: polls without edge=1
        self.assertFalse(plain.edge)
        mine = self.tenant()
        self.admin.put("/v1/tenants/%s/domains/mine.example.com" % mine)
        self.assertEqual(self.admin.post("/v1/tenants/%s/deploy" % mine,
                                         IMG).status, 202)
        doc = plain.assignments()
        # what only an edge uses is left out: routes, and domains
        self.assertNotIn("edge_routes", doc)
        own = plain.tenant(mine)
        self.assertEqual(own["public_host"], "%s.%s" % (mine, BASE))
        self.assertNotIn("domains", own)
        # the same node asking as an edge gets both
        r = plain.api.get("/v1/agent/assignments?generation=0&edge=1")
        self.assertEqual(r.status, 200, r)
        self.assertIn("far.example.com", [h for x in r.json()["edge_routes"]
                                          for h in x["hosts"]])
        self.assertEqual([t["domains"] for t in r.json()["tenants"]
                          if t["tenant"] == mine], [["mine.example.com"]])
        # edge changes (a claim, a release, an edge that moves) do not
        # wake it, and its generation stays
        # kept ready (heartbeat-ms 500: down after 1.5 s without one)
        plain.heartbeat()
        gen = plain.assignments()["generation"]
        self.admin.put("/v1/tenants/%s/domains/more.example.com" % far)
        self.admin.delete("/v1/tenants/%s/domains/mine.example.com" % mine)
        a.edge_address = "10.9.0.6:8443"
        a.heartbeat()
        plain.heartbeat()
        r = plain.api.get(plain.poll_path(gen, 1))
        self.assertEqual(r.status, 204, r)
        self.assertEqual(plain.assignments()["generation"], gen)
        # its own tenants' changes still do
        self.admin.post("/v1/tenants/%s/stop" % mine)
        r = plain.api.get(plain.poll_path(gen, 5))
        self.assertEqual(r.status, 200, r)
        self.assertGreater(r.json()["generation"], gen)
        for bad in ("2", "yes", "-1", ""):
            self.assertError(plain.api.get(
                "/v1/agent/assignments?generation=0&edge=" + bad), 400,
                "invalid_parameter")
        for slug in (far, mine):
            self.admin.delete("/v1/tenants/%s/deployment" % slug)
        # gone now, not down later (an edge change in another test)
        for n in (a, plain):
            self.assertEqual(self.admin.delete("/v1/nodes/" + n.id).status,
                             204)


if __name__ == "__main__":
    unittest.main(verbosity=2)
