"""Integration: the authorisation matrix of the control plane.

1. The core routes (tenants, tokens, plans, a tenant's bounds) x every
   role, with the exact status each role gets.
2. Every route of the OpenAPI document and the source (so other parts'
   routes too):
   without a token 401 (unless public); a tenant token of tenant A on any
   route naming tenant B gets 403 (its role may not use the route at all)
   or 404 (it may, but B does not exist for it), never anything else, and
   B is unchanged afterwards; the same for routes that name a tenant in
   their query (?tenant=B).
"""

import itertools
import re
import unittest

from clawtest.http import request
from common import CpTestCase
import routes

ROLES = ["admin", "operator", "auditor", "tenant", "node", "none"]
_slugs = itertools.count(1)


class AuthzTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for slug in ("alpha", "beta"):
            r = cls.admin.post("/v1/tenants", {"slug": slug, "name": slug})
            assert r.status == 201, r
        cls.tokens = {"admin": cls.cp.admin_token, "none": None}
        for role in ("operator", "auditor", "node"):
            cls.tokens[role] = cls.cp.new_token(role)[1]
        cls.tokens["tenant"] = cls.cp.new_token("tenant", tenant="alpha")[1]

    def call(self, role, method, path, body=None):
        return request(method, self.cp.url + path, body, self.tokens[role])

    def fresh_tenant(self, deleted=False):
        slug = "m%d" % next(_slugs)
        self.make_tenant(slug)
        if deleted:
            self.assertEqual(self.admin.delete("/v1/tenants/" + slug).status,
                             200)
        return slug

    def check(self, method, path_fn, body_fn, expected):
        """expected: role -> status. path_fn/body_fn make a fresh path and
        body per call (for changes that use up their target)."""
        for role in ROLES:
            want = expected.get(role, 401 if role == "none" else 403)
            r = self.call(role, method, path_fn(role), body_fn())
            self.assertEqual(r.status, want, "%s %s as %s: %r" % (
                method, path_fn(role), role, r))

    def test_core_matrix(self):
        none = lambda: None
        read = {"admin": 200, "operator": 200, "tenant": 200}
        self.check("GET", lambda r: "/v1/tenants", none, read)
        self.check("GET", lambda r: "/v1/tenants/alpha", none, read)
        self.check("GET", lambda r: "/v1/tenants/beta", none,
                   {"admin": 200, "operator": 200, "tenant": 404})
        self.check("POST", lambda r: "/v1/tenants",
                   lambda: {"slug": "n%d" % next(_slugs), "name": "n"},
                   {"admin": 201})
        self.check("PATCH", lambda r: "/v1/tenants/beta",
                   lambda: {"name": "Beta"}, {"admin": 200})
        self.check("DELETE", lambda r: "/v1/tenants/" + self.fresh_tenant(),
                   none, {"admin": 200})
        self.check("POST", lambda r: "/v1/tenants/%s/restore" %
                   self.fresh_tenant(True), none, {"admin": 200})
        self.check("POST", lambda r: "/v1/tenants/%s/purge" %
                   self.fresh_tenant(True), none, {"admin": 204})
        self.check("POST", lambda r: "/v1/tokens",
                   lambda: {"role": "auditor"}, {"admin": 201})
        self.check("GET", lambda r: "/v1/tokens", none, {"admin": 200})
        self.check("DELETE", lambda r: "/v1/tokens/" +
                   self.cp.new_token("auditor")[0], none, {"admin": 204})
        # a tenant token lists only its own tenant
        r = self.call("tenant", "GET", "/v1/tenants?status=all")
        self.assertEqual([t["slug"] for t in r.json()["items"]], ["alpha"])

    def test_plans_and_bounds_matrix(self):
        """Plans are the operator's: admins define them, operators read
        and assign them, a tenant reads only its own plan and sets none
        of its bounds; auditors and nodes get nothing."""
        none = lambda: None
        names = ("p%d" % next(_slugs) for _ in itertools.count())
        new_plan = lambda: {"name": next(names), "cpus_milli": 100,
                            "memory_mb": 64, "pids": 32}

        def made_plan():
            name = next(names)
            r = self.admin.post("/v1/plans", dict(new_plan(), name=name))
            self.assertEqual(r.status, 201, r)
            return name
        self.check("GET", lambda r: "/v1/plans", none,
                   {"admin": 200, "operator": 200})
        self.check("POST", lambda r: "/v1/plans", new_plan, {"admin": 201})
        self.check("GET", lambda r: "/v1/plans/default", none,
                   {"admin": 200, "operator": 200, "tenant": 200})
        self.check("PATCH", lambda r: "/v1/plans/" + made_plan(),
                   lambda: {"pids": 16}, {"admin": 200})
        self.check("DELETE", lambda r: "/v1/plans/" + made_plan(), none,
                   {"admin": 204})
        # a tenant token: another plan does not exist for it
        other = made_plan()
        r = self.call("tenant", "GET", "/v1/plans/" + other)
        self.assertEqual((r.status, r.error_code()),
                         (404, "plan_not_found"))
        # bounds of a tenant: admin and operator; a name: admin only
        for body in ({"plan": "default"}, {"egress_allow": []},
                     {"self_pause": False}):
            self.check("PATCH", lambda r: "/v1/tenants/alpha",
                       lambda: body, {"admin": 200, "operator": 200})

    def test_every_route_keeps_tenants_apart(self):
        doc = routes.openapi_doc()
        before = self.admin.get("/v1/tenants/beta").json()
        checked = 0
        ops = list(routes.doc_operations(doc))
        documented = {(m, p) for m, p, _ in ops}
        # routes not documented yet are checked too (tenant part only)
        ops += [(m, p, None) for m, p in sorted(routes.source_routes_raw())
                if (m, p) not in documented]
        for method, path, op in ops:
            concrete = re.sub(r"\{t\}", "beta", path)
            concrete = re.sub(r"\{[^}]+\}", "x", concrete)
            body = {} if method in ("POST", "PUT", "PATCH") else None
            r = self.call("none", method, concrete, body)
            if op is not None and not routes.is_public(op, doc):
                self.assertEqual(r.status, 401, "%s %s without a token: %r"
                                 % (method, path, r))
            if "{t}" not in path:
                continue
            checked += 1
            r = self.call("tenant", method, concrete, body)
            self.assertIn(r.status, (403, 404), "%s %s as tenant of "
                          "another tenant: %r" % (method, path, r))
            if r.status == 404:
                self.assertIn("not_found", r.error_code())
        self.assertGreater(checked, 0)
        # routes that name a tenant in their query: the other tenant does
        # not exist for a tenant token; auditor-only routes stay 403
        for path, want in (("/v1/events?tenant=beta", 404),
                           ("/v1/tokens?tenant=beta", 403),
                           ("/v1/audit?tenant=beta", 403)):
            r = self.call("tenant", "GET", path)
            self.assertEqual(r.status, want, "%s as tenant of another "
                             "tenant: %r" % (path, r))
            if want == 404:
                self.assertEqual(r.error_code(), "tenant_not_found")
        r = self.call("admin", "GET", "/v1/events?tenant=nope")
        self.assertEqual((r.status, r.error_code()),
                         (404, "tenant_not_found"))
        after = self.admin.get("/v1/tenants/beta").json()
        self.assertEqual(before, after)


if __name__ == "__main__":
    unittest.main(verbosity=2)
