"""Integration: the tenants and tokens API of claw-controlplane against a
real PostgreSQL: CRUD, pagination and filters, optimistic concurrency, soft
delete/restore/purge, token issue/list/revoke, the error shape, audit rows
written with each change, and the operations endpoints."""

import unittest

from clawtest.http import request
from common import CpTestCase


class TenantsTest(CpTestCase):

    def test_crud_by_id_and_slug(self):
        t = self.make_tenant("crud-one", "Crud One")
        self.assertTrue(t["id"].startswith("tnt_"))
        self.assertEqual((t["slug"], t["name"], t["version"], t["status"]),
                         ("crud-one", "Crud One", 1, "active"))
        for key in (t["id"], "crud-one"):
            r = self.admin.get("/v1/tenants/" + key)
            self.assertEqual(r.status, 200)
            self.assertEqual(r.json()["id"], t["id"])
            self.assertEqual(r.headers["ETag"], '"1"')
        r = self.admin.patch("/v1/tenants/crud-one", {"name": "Renamed"},
                             headers={"If-Match": '"1"'})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["name"], r.json()["version"]),
                         ("Renamed", 2))
        self.assertEqual(r.headers["ETag"], '"2"')
        # stale ETag and stale body version both give 409
        r = self.admin.patch("/v1/tenants/crud-one", {"name": "X"},
                             headers={"If-Match": '"1"'})
        self.assertError(r, 409, "version_conflict")
        r = self.admin.patch("/v1/tenants/crud-one",
                             {"name": "X", "version": 1})
        self.assertError(r, 409, "version_conflict")
        r = self.admin.patch("/v1/tenants/crud-one",
                             {"name": "Y", "version": 2})
        self.assertEqual(r.status, 200, r)
        r = self.admin.patch("/v1/tenants/crud-one", {"name": "Z"},
                             headers={"If-Match": "garbage"})
        self.assertError(r, 400, "bad_if_match")
        # slug is not updatable: the unknown key is named by its position
        # (never by its bytes), beside the fields the route accepts
        r = self.admin.patch("/v1/tenants/crud-one", {"slug": "other"})
        self.assertError(r, 422, "unknown_field")
        self.assertIn("#1", r.json()["error"]["message"])
        self.assertNotIn("slug", r.json()["error"]["message"])

    def test_slug_rules(self):
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", "x" * 64, "ü"]:
            r = self.admin.post("/v1/tenants", {"slug": bad, "name": "n"})
            self.assertEqual(r.status, 422, (bad, r))
        self.make_tenant("a")
        self.make_tenant("x" * 63)
        self.make_tenant("0-9")
        r = self.admin.post("/v1/tenants", {"slug": "a", "name": "again"})
        self.assertError(r, 409, "slug_taken")
        r = self.admin.post("/v1/tenants", {"slug": "ok-name", "name": ""})
        self.assertError(r, 422, "invalid_field")
        r = self.admin.post("/v1/tenants", {"slug": "ok-name",
                                            "name": "a\nb"})
        self.assertError(r, 422, "invalid_field")
        r = self.admin.post("/v1/tenants", {"name": "no slug"})
        self.assertError(r, 422, "missing_field")

    def test_list_pagination_and_filters(self):
        made = [self.make_tenant("page-%02d" % i)["id"] for i in range(7)]
        seen, cursor = [], None
        while True:
            path = "/v1/tenants?slug_prefix=page-&limit=3"
            if cursor:
                path += "&cursor=" + cursor
            r = self.admin.get(path)
            self.assertEqual(r.status, 200, r)
            page = r.json()
            self.assertLessEqual(len(page["items"]), 3)
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seen, made)
        self.admin.delete("/v1/tenants/page-03")
        r = self.admin.get("/v1/tenants?slug_prefix=page-&limit=200")
        self.assertEqual(len(r.json()["items"]), 6)
        r = self.admin.get("/v1/tenants?slug_prefix=page-&status=deleted")
        self.assertEqual([t["slug"] for t in r.json()["items"]], ["page-03"])
        r = self.admin.get("/v1/tenants?slug_prefix=page-&status=all")
        self.assertEqual(len(r.json()["items"]), 7)
        for bad in ["status=gone", "limit=0", "limit=201", "limit=x",
                    "cursor=abc", "slug_prefix=A_"]:
            r = self.admin.get("/v1/tenants?" + bad)
            self.assertError(r, 400, "invalid_parameter")

    def test_soft_delete_restore_purge(self):
        t = self.make_tenant("doomed")
        _, tok = self.cp.new_token("tenant", tenant="doomed")
        me = self.cp.client(tok)
        self.assertEqual(me.get("/v1/tenants/doomed").status, 200)
        r = self.admin.post("/v1/tenants/doomed/purge")
        self.assertError(r, 409, "tenant_not_deleted")
        r = self.admin.delete("/v1/tenants/doomed")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "deleted")
        self.assertIsNotNone(r.json()["deleted_at"])
        # the tenant's tokens stop working; admin still sees it
        self.assertError(me.get("/v1/tenants/doomed"), 401, "unauthorized")
        self.assertEqual(self.admin.get("/v1/tenants/doomed").json()
                         ["status"], "deleted")
        self.assertError(self.admin.delete("/v1/tenants/doomed"), 409,
                         "tenant_deleted")
        r = self.admin.post("/v1/tenants/doomed/restore")
        self.assertEqual(r.json()["status"], "active")
        self.assertEqual(me.get("/v1/tenants/doomed").status, 200)
        r = self.admin.put("/v1/tenants/doomed/secrets/API_KEY",
                           {"value": "s3cr3t"})
        self.assertIn(r.status, (200, 201), r)
        self.admin.delete("/v1/tenants/doomed")
        r = self.admin.post("/v1/tenants/doomed/purge")
        self.assertEqual(r.status, 204, r)
        # what was the tenant's own goes with it
        self.assertEqual(self.sql("SELECT count(*) FROM secrets WHERE "
                                  "tenant_id = '%s'" % t["id"]), "0")
        self.assertError(self.admin.get("/v1/tenants/" + t["id"]), 404,
                         "tenant_not_found")
        self.assertEqual(self.sql("SELECT count(*) FROM api_tokens WHERE "
                                  "tenant_id = '%s'" % t["id"]), "0")
        # the slug is free again
        self.make_tenant("doomed")

    def test_changes_write_audit_rows(self):
        t = self.make_tenant("audited")
        self.admin.patch("/v1/tenants/audited", {"name": "A2"})
        tid, _ = self.cp.new_token("tenant", tenant="audited")
        self.admin.delete("/v1/tokens/" + tid)
        self.admin.delete("/v1/tenants/audited")
        self.admin.post("/v1/tenants/audited/restore")
        self.admin.delete("/v1/tenants/audited")
        self.admin.post("/v1/tenants/audited/purge")
        rows = self.sql("SELECT action FROM audit_log WHERE tenant_id = '%s' "
                        "ORDER BY id" % t["id"]).split("\n")
        self.assertEqual(rows, ["tenant.create", "tenant.update",
                                "token.create", "token.revoke",
                                "tenant.delete", "tenant.restore",
                                "tenant.delete", "tenant.purge"])
        actor = self.sql("SELECT DISTINCT actor_role || ' ' || "
                         "(request_id IS NOT NULL) || ' ' || source_addr "
                         "FROM audit_log WHERE tenant_id = '%s'" % t["id"])
        self.assertEqual(actor, "admin true 127.0.0.1")
        boot = self.sql("SELECT actor_role FROM audit_log "
                        "WHERE action = 'token.bootstrap'")
        self.assertEqual(boot, "system")


class TokensTest(CpTestCase):

    def test_issue_list_revoke(self):
        self.make_tenant("tok-t")
        r = self.admin.post("/v1/tokens", {"role": "tenant", "tenant":
                                           "tok-t", "name": "ci"})
        self.assertEqual(r.status, 201, r)
        j = r.json()
        self.assertTrue(j["token"].startswith("claw_"))
        self.assertTrue(j["id"].startswith("tok_"))
        # only the hash is stored
        stored = self.sql("SELECT token_hash FROM api_tokens WHERE id = '%s'"
                          % j["id"])
        self.assertEqual(len(stored), 64)
        self.assertNotIn(j["token"], self.sql("SELECT * FROM api_tokens"))
        listed = self.admin.get("/v1/tokens?role=tenant").json()["items"]
        self.assertIn(j["id"], [t["id"] for t in listed])
        self.assertNotIn(j["token"], self.admin.get("/v1/tokens").text)
        r = self.admin.get("/v1/tokens?tenant=tok-t")
        self.assertEqual([t["id"] for t in r.json()["items"]], [j["id"]])
        me = self.cp.client(j["token"])
        self.assertEqual(me.get("/v1/tenants/tok-t").status, 200)
        self.assertEqual(self.admin.delete("/v1/tokens/" + j["id"]).status,
                         204)
        self.assertError(me.get("/v1/tenants/tok-t"), 401, "unauthorized")
        self.assertError(self.admin.delete("/v1/tokens/" + j["id"]), 404,
                         "token_not_found")
        r = self.admin.get("/v1/tokens?tenant=tok-t").json()["items"][0]
        self.assertIsNotNone(r["revoked_at"])

    def test_pagination(self):
        ids = sorted(self.cp.new_token("auditor")[0] for _ in range(5))
        seen, cursor = [], None
        while True:
            path = "/v1/tokens?role=auditor&limit=2"
            if cursor:
                path += "&cursor=" + cursor
            page = self.admin.get(path).json()
            seen += [t["id"] for t in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        # other tests of the class may add auditor tokens too
        self.assertEqual(seen, sorted(set(seen)))
        self.assertLessEqual(set(ids), set(seen))

    def test_bad_requests(self):
        cases = [({"role": "king"}, "invalid_field"),
                 ({"role": "tenant"}, "missing_field"),
                 ({"role": "admin", "tenant": "x"}, "invalid_field"),
                 ({"role": "tenant", "tenant": "nope"}, "invalid_field"),
                 ({"role": "admin", "expires_in": 5}, "invalid_field"),
                 ({"role": "admin", "extra": 1}, "unknown_field"),
                 ({"role": 7}, "invalid_field")]
        for body, code in cases:
            self.assertError(self.admin.post("/v1/tokens", body), 422, code)
        self.assertError(self.admin.delete("/v1/tokens/tok_nothing"), 404)

    def test_expiring_token(self):
        r = self.admin.post("/v1/tokens", {"role": "auditor",
                                           "expires_in": 3600})
        self.assertEqual(r.status, 201, r)
        self.assertIsNotNone(r.json()["expires_at"])
        tid = r.json()["id"]
        # expire it in the database: it stops working at once
        self.sql("UPDATE api_tokens SET expires_at = now() - interval '1 s' "
                 "WHERE id = '%s'" % tid)
        r = self.cp.client(r.json()["token"]).get("/v1/tenants")
        self.assertError(r, 401, "unauthorized")


class ErrorsAndOpsTest(CpTestCase):

    def test_auth_errors(self):
        url = self.cp.url + "/v1/tenants"
        self.assertError(request("GET", url), 401, "unauthorized")
        self.assertError(request("GET", url, headers={
            "Authorization": "Basic abc"}), 401, "unauthorized")
        self.assertError(request("GET", url, token="claw_short"), 401)
        self.assertError(request("GET", url, token="claw_" + "A" * 43), 401)

    def test_error_shapes(self):
        base = self.cp.url
        tok = self.cp.admin_token
        h = {"Content-Type": "application/json"}
        r = request("POST", base + "/v1/tenants", b"{bad", tok, h)
        self.assertError(r, 400, "bad_json")
        r = request("POST", base + "/v1/tenants", b"[1]", tok, h)
        self.assertError(r, 400)
        r = request("POST", base + "/v1/tenants",
                    b'{"slug":"big","name":"' + b"x" * (1 << 20) + b'"}',
                    tok, h)
        self.assertError(r, 413, "body_too_large")
        r = request("POST", base + "/v1/tenants",
                    {"slug": "s", "name": "n", "colour": "red"}, tok)
        self.assertError(r, 422, "unknown_field")
        self.assertIn("#3", r.json()["error"]["message"])
        self.assertNotIn("colour", r.json()["error"]["message"])
        r = request("PUT", base + "/v1/tenants", {}, tok)
        self.assertError(r, 405, "method_not_allowed")
        self.assertIn("GET", r.headers["Allow"])
        r = request("GET", base + "/v1/nothing-here", None, tok)
        self.assertError(r, 404, "not_found")
        r = request("GET", base + "/v1/tenants/no-such", None, tok)
        self.assertError(r, 404, "tenant_not_found")
        # the client's request id is echoed
        r = request("GET", base + "/healthz",
                    headers={"X-Request-Id": "test-req-1"})
        self.assertEqual(r.headers["X-Request-Id"], "test-req-1")

    def test_ops(self):
        r = request("GET", self.cp.url + "/healthz")
        self.assertEqual((r.status, r.json()["status"]), (200, "ok"))
        r = request("GET", self.cp.url + "/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertGreaterEqual(r.json()["schema_version"], 1)
        self.admin.get("/v1/tenants")
        r = request("GET", self.cp.url + "/metrics")
        self.assertEqual(r.status, 200)
        self.assertIn("text/plain", r.headers["Content-Type"])
        text = r.text
        self.assertRegex(text, r'claw_http_requests_total\{route="tenants'
                         r'\.list",status="200"\} \d+')
        self.assertIn('claw_http_request_duration_seconds_bucket{route='
                      '"tenants.list",le="+Inf"}', text)
        self.assertRegex(text, r"claw_db_pool_connections \d+")
        self.assertRegex(text, r"claw_db_pool_in_use \d+")

    def test_logs_are_json_with_request_ids(self):
        import json
        rid = "log-check-42"
        request("GET", self.cp.url + "/v1/tenants/nope",
                token=self.cp.admin_token, headers={"X-Request-Id": rid})
        self.make_tenant("logged")
        lines = [l for l in self.cp.daemon.log_text().splitlines() if l]
        parsed = [json.loads(l) for l in lines]
        self.assertTrue(all("level" in p and "msg" in p for p in parsed))
        self.assertTrue(any(p.get("request_id") for p in parsed))
        self.assertNotIn(self.cp.admin_token, self.cp.daemon.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
