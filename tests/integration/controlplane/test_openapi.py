"""Integration: controlplane/openapi.json describes every route the
control plane has, and nothing else; the daemon serves it at
/v1/openapi.json and answers on every documented route."""

import json
import re
import unittest

from clawtest.http import request
from common import CpTestCase
import routes


class OpenApiTest(CpTestCase):

    def test_document_is_openapi_31(self):
        doc = routes.openapi_doc()
        self.assertTrue(doc["openapi"].startswith("3.1"))
        for method, path, op in routes.doc_operations(doc):
            self.assertIn("responses", op, (method, path))
            self.assertIn("operationId", op, (method, path))
            for name in re.findall(r"\{([^}]+)\}", path):
                params = op.get("parameters", []) + doc["paths"][path].get(
                    "parameters", [])
                names = set()
                for p in params:
                    if "$ref" in p:
                        p = doc["components"]["parameters"][
                            p["$ref"].split("/")[-1]]
                    names.add(p["name"])
                self.assertIn(name, names, (method, path))

    def test_every_route_is_documented(self):
        src = routes.source_routes()
        doc = routes.doc_routes()
        self.assertTrue(src)
        missing = sorted(src - doc)
        self.assertEqual(missing, [], "routes missing from openapi.json "
                         "(add them there): %s" % missing)
        extra = sorted(doc - src)
        self.assertEqual(extra, [], "documented routes that do not exist: "
                         "%s" % extra)

    def test_served_and_registered(self):
        r = request("GET", self.cp.url + "/v1/openapi.json")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json(), routes.openapi_doc())
        # every documented route is in the daemon's table (not a 404/405
        # of the router)
        for method, path, _ in routes.doc_operations():
            url = self.cp.url + re.sub(r"\{[^}]+\}", "x", path)
            r = request(method, url, b"{}" if method in ("POST", "PUT",
                                                         "PATCH") else None,
                        headers={"Content-Type": "application/json"})
            self.assertNotIn(r.error_code(), ("not_found",
                                              "method_not_allowed"),
                             "%s %s is documented but not served" %
                             (method, path))


if __name__ == "__main__":
    unittest.main(verbosity=2)
