"""test_secrets - secrets, master keys and the audit log of
claw-controlplane against a real PostgreSQL.

- a canary secret value never appears in a response body, the daemon's
  log, an audit row or the stored ciphertext;
- who may touch secrets and the audit log (cross-tenant access is 404);
- UPDATE/DELETE/TRUNCATE on audit_log are refused; tampering done as
  superuser with the trigger disabled is found by /v1/audit/verify at the
  right row, and so are rows removed from the end;
- a wrong, missing or world-readable master key is refused at start-up
  with a clear error;
- master key rotation while requests keep being served, from a key file and
  from the environment.
"""

import os
import secrets as pysecrets
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.parse

from clawtest import cp as cpmod
from clawtest.cp import ControlPlane
from clawtest.pg import PgCluster

CANARY = "canary-" + pysecrets.token_hex(16)

PG = None
DB_SEQ = [0]


def setUpModule():
    global PG
    PG = PgCluster().start()


def tearDownModule():
    PG.stop()


def new_db():
    DB_SEQ[0] += 1
    return PG.create_database("sec%d" % DB_SEQ[0])


def db_name(url):
    return urllib.parse.urlsplit(url).path.lstrip("/")


def start_fails(db_url, data_dir, extra=(), env=None, timeout=120):
    """Run the daemon expecting it to refuse to start: (rc, stderr)."""
    argv = [cpmod.binary(), "--listen", "127.0.0.1:0", "--data-dir",
            data_dir, "--migrations-dir",
            os.path.join(cpmod.source_dir(), "migrations"),
            "--database-url", db_url] + list(extra)
    e = dict(os.environ)
    e.pop("CLAW_MASTER_KEY", None)
    e.update(env or {})
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, env=e, timeout=timeout)
    return r.returncode, r.stderr + r.stdout


class Secrets(unittest.TestCase):
    """One daemon, one database: canary, authorisation, audit rows."""

    @classmethod
    def setUpClass(cls):
        cls.db = new_db()
        cls.cp = ControlPlane(database_url=cls.db).start()
        cls.admin = cls.cp.client()
        cls.bodies = []
        for slug in ("acme", "other"):
            r = cls.admin.post("/v1/tenants", {"slug": slug, "name": slug})
            assert r.status == 201, r
        cls.acme_id = cls.admin.get("/v1/tenants/acme").json()["id"]
        _, t = cls.cp.new_token("tenant", tenant="acme")
        cls.acme = cls.cp.client(t)
        _, t = cls.cp.new_token("tenant", tenant="other")
        cls.other = cls.cp.client(t)
        cls.roles = {}
        for role in ("operator", "auditor", "node"):
            _, t = cls.cp.new_token(role)
            cls.roles[role] = cls.cp.client(t)

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()

    def call(self, client, method, path, body=None, headers=None):
        r = client.request(method, path, body, headers)
        self.bodies.append(r.body)
        self.assertIn("X-Request-Id", r.headers)
        return r

    def test_1_put_list_delete(self):
        p = "/v1/tenants/acme/secrets/API_KEY"
        r = self.call(self.admin, "PUT", p, {"value": CANARY})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["version"], 1)
        r = self.call(self.acme, "PUT", p, {"value": CANARY + "2"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["version"], 2)
        r = self.call(self.acme, "PUT", "/v1/tenants/acme/secrets/db.pass",
                      {"value": CANARY})
        self.assertEqual(r.status, 201, r)
        r = self.call(self.acme, "GET", "/v1/tenants/acme/secrets")
        self.assertEqual(r.status, 200, r)
        items = r.json()["items"]
        self.assertEqual([i["name"] for i in items], ["API_KEY", "db.pass"])
        self.assertEqual(set(items[0]), {"name", "version", "created_at",
                                         "updated_at"})
        r = self.call(self.acme, "GET",
                      "/v1/tenants/acme/secrets?limit=1")
        self.assertEqual(r.json()["next_cursor"], "API_KEY")
        r = self.call(self.acme, "GET",
                      "/v1/tenants/acme/secrets?limit=1&cursor=API_KEY")
        self.assertEqual([i["name"] for i in r.json()["items"]],
                         ["db.pass"])
        self.assertIsNone(r.json()["next_cursor"])
        r = self.call(self.acme, "DELETE",
                      "/v1/tenants/acme/secrets/db.pass")
        self.assertEqual(r.status, 204, r)
        r = self.call(self.acme, "DELETE",
                      "/v1/tenants/acme/secrets/db.pass")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.error_code(), "secret_not_found")
        # A deleted name comes back with a higher version, so an old
        # ciphertext can never be replayed into it.
        r = self.call(self.acme, "PUT", "/v1/tenants/acme/secrets/db.pass",
                      {"value": CANARY})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["version"], 2)

    def test_2_bad_requests_never_echo_the_value(self):
        p = "/v1/tenants/acme/secrets/TOKEN"
        for body in ('{"value": "%s' % CANARY,           # unterminated
                     '{"value": "%s", }' % CANARY,       # trailing comma
                     '{"value": "%s" "x"}' % CANARY,
                     '{"value": %s}' % CANARY,           # bare word
                     '["%s"]' % CANARY):
            r = self.call(self.acme, "PUT", p, body,
                          {"Content-Type": "application/json"})
            self.assertEqual(r.status, 400, (body, r))
            self.assertEqual(r.error_code(), "bad_json")
        r = self.call(self.acme, "PUT", p,
                      {"value": CANARY, "extra": CANARY})
        self.assertEqual(r.status, 422, r)
        self.assertEqual(r.error_code(), "unknown_field")
        r = self.call(self.acme, "PUT", p, {"value": 5})
        self.assertEqual(r.status, 422, r)
        r = self.call(self.acme, "PUT", p, {})
        self.assertEqual(r.status, 422, r)
        r = self.call(self.acme, "PUT", p, {"value": "x" * 65537})
        self.assertEqual(r.status, 422, r)
        for bad in (".hidden", "-x", "a/b", "a%2Fb", "x" * 129, "%20"):
            r = self.call(self.acme, "PUT",
                          "/v1/tenants/acme/secrets/" + bad,
                          {"value": CANARY})
            self.assertIn(r.status, (400, 404), (bad, r))

    def test_3_authorisation(self):
        p = "/v1/tenants/acme/secrets"
        # Another tenant's token: 404 for everything of acme.
        for m, path, body in (("GET", p, None),
                              ("PUT", p + "/API_KEY", {"value": CANARY}),
                              ("DELETE", p + "/API_KEY", None)):
            r = self.call(self.other, m, path, body)
            self.assertEqual(r.status, 404, (m, path, r))
        # Operator: names yes, writes no.
        op = self.roles["operator"]
        self.assertEqual(self.call(op, "GET", p).status, 200)
        self.assertEqual(self.call(op, "PUT", p + "/X",
                                   {"value": CANARY}).status, 403)
        self.assertEqual(self.call(op, "DELETE", p + "/X").status, 403)
        # Auditor and node: no secrets at all.
        for role in ("auditor", "node"):
            c = self.roles[role]
            self.assertEqual(self.call(c, "GET", p).status, 403, role)
            self.assertEqual(self.call(c, "PUT", p + "/X",
                                       {"value": CANARY}).status, 403)
        # Audit log: admin and auditor only.
        for who, status in ((self.admin, 200), (self.roles["auditor"], 200),
                            (self.roles["operator"], 403),
                            (self.roles["node"], 403), (self.acme, 403)):
            self.assertEqual(self.call(who, "GET", "/v1/audit").status,
                             status)
            self.assertEqual(self.call(who, "GET",
                                       "/v1/audit/verify").status, status)
        # Keys: admin only.
        for who in (self.roles["operator"], self.roles["auditor"],
                    self.acme):
            self.assertEqual(self.call(who, "GET", "/v1/admin/keys").status,
                             403)
            self.assertEqual(self.call(who, "POST", "/v1/admin/keys/rotate",
                                       {}).status, 403)
        # No token at all.
        anon = self.cp.client("")
        self.assertEqual(self.call(anon, "GET", p).status, 401)

    def test_4_audit_rows_and_filters(self):
        self.call(self.acme, "PUT", "/v1/tenants/acme/secrets/AUDITED",
                  {"value": CANARY}, {"X-Request-Id": "req-audited-1"})
        aud = self.roles["auditor"]
        r = self.call(aud, "GET", "/v1/audit?tenant=acme&action=secret.put")
        self.assertEqual(r.status, 200, r)
        rows = r.json()["items"]
        self.assertTrue(rows)
        for row in rows:
            self.assertEqual(row["tenant_id"], self.acme_id)
            self.assertEqual(row["action"], "secret.put")
        top = rows[0]
        self.assertEqual(top["request_id"], "req-audited-1")
        self.assertEqual(top["actor_role"], "tenant")
        self.assertEqual(top["source_addr"], "127.0.0.1")
        self.assertEqual(top["details"]["name"], "AUDITED")
        # Cursor pagination walks every row once, newest first.
        seen, cursor = [], None
        while True:
            q = "/v1/audit?limit=2" + ("&cursor=" + cursor if cursor else "")
            j = self.call(aud, "GET", q).json()
            seen += [i["id"] for i in j["items"]]
            cursor = j["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seen, sorted(seen, reverse=True))
        self.assertEqual(len(seen), len(set(seen)))
        # Actor and time filters.
        actor = top["actor_id"]
        j = self.call(aud, "GET", "/v1/audit?actor=" + actor).json()
        self.assertTrue(all(i["actor_id"] == actor for i in j["items"]))
        j = self.call(aud, "GET", "/v1/audit?since=2999-01-01T00:00:00Z"
                      ).json()
        self.assertEqual(j["items"], [])
        j = self.call(aud, "GET", "/v1/audit?until=2000-01-01T00:00:00Z"
                      ).json()
        self.assertEqual(j["items"], [])
        t = top["time"]
        j = self.call(aud, "GET", "/v1/audit?since=%s&limit=1000" % t
                      ).json()
        self.assertIn(top["id"], [i["id"] for i in j["items"]])
        for bad in ("since=yesterday", "until=2026-13-45T00:00:00Z",
                    "limit=0", "cursor=abc"):
            r = self.call(aud, "GET", "/v1/audit?" + bad)
            self.assertEqual(r.status, 400, (bad, r))
        r = self.call(aud, "GET", "/v1/audit/verify")
        self.assertEqual(r.json()["ok"], True, r)

    def test_9_canary_nowhere(self):
        # Runs last (unittest sorts by name): everything above is in.
        for b in self.bodies:
            self.assertNotIn(CANARY.encode(), b)
        log = self.cp.daemon.log_text()
        self.assertIn("secret API_KEY", log)  # the log is the right one
        self.assertNotIn(CANARY, log)
        self.assertNotIn(CANARY, "\n".join(self.cp.daemon.stdout_lines()))
        dbn = db_name(self.db)
        self.assertEqual(PG.psql("SELECT count(*) FROM audit_log WHERE "
                                 "details::text LIKE '%%%s%%'" % CANARY,
                                 dbname=dbn), "0")
        self.assertEqual(PG.psql(
            "SELECT count(*) FROM secrets WHERE position("
            "convert_to('%s', 'UTF8') IN ciphertext) > 0" % CANARY[:16],
            dbname=dbn), "0")
        self.assertNotEqual(PG.psql("SELECT count(*) FROM secrets",
                                    dbname=dbn), "0")


class AuditTamper(unittest.TestCase):
    def setUp(self):
        self.db = new_db()
        self.dbn = db_name(self.db)
        self.cp = ControlPlane(database_url=self.db).start()
        c = self.cp.client()
        for i in range(6):
            r = c.post("/v1/tenants", {"slug": "t%d" % i, "name": "T"})
            self.assertEqual(r.status, 201, r)
        self.ids = [int(x) for x in PG.psql(
            "SELECT id FROM audit_log ORDER BY id", dbname=self.dbn).split()]
        self.assertGreaterEqual(len(self.ids), 7)

    def tearDown(self):
        self.cp.stop()

    def sql(self, q, check=True):
        return PG.psql(q, dbname=self.dbn, check=check)

    def verify(self):
        r = self.cp.client().get("/v1/audit/verify")
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_changes_refused(self):
        for q in ("UPDATE audit_log SET action = 'x'",
                  "DELETE FROM audit_log WHERE id = %d" % self.ids[-1],
                  "TRUNCATE audit_log",
                  "DELETE FROM audit_chain_head",
                  "UPDATE audit_chain_head SET last_id = 0"):
            with self.assertRaises(RuntimeError) as ctx:
                self.sql(q)
            self.assertIn("refused", str(ctx.exception))
        j = self.verify()
        self.assertTrue(j["ok"], j)
        self.assertEqual(j["rows_checked"], len(self.ids))

    def tamper(self, q):
        self.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;"
                 + q + ";ALTER TABLE audit_log ENABLE TRIGGER "
                 "audit_log_append_only")

    def test_changed_row_found(self):
        victim = self.ids[3]
        self.tamper("UPDATE audit_log SET details = '{\"slug\":\"evil\"}' "
                    "WHERE id = %d" % victim)
        j = self.verify()
        self.assertFalse(j["ok"])
        self.assertEqual(j["first_broken_id"], victim)
        self.assertEqual(j["rows_checked"], 4)

    def test_changed_time_found(self):
        victim = self.ids[2]
        self.tamper("UPDATE audit_log SET time = time + interval '1 "
                    "microsecond' WHERE id = %d" % victim)
        self.assertEqual(self.verify()["first_broken_id"], victim)

    def test_removed_row_found(self):
        self.tamper("DELETE FROM audit_log WHERE id = %d" % self.ids[1])
        j = self.verify()
        self.assertEqual(j["first_broken_id"], self.ids[2])
        self.assertIn("prev_hash", j["reason"])

    def test_removed_tail_found(self):
        self.tamper("DELETE FROM audit_log WHERE id = %d" % self.ids[-1])
        j = self.verify()
        self.assertFalse(j["ok"])
        self.assertEqual(j["first_broken_id"], self.ids[-1])

    def test_appends_continue_the_chain(self):
        c = self.cp.client()
        r = c.put("/v1/tenants/t1/secrets/K", {"value": "v"})
        self.assertEqual(r.status, 201, r)
        j = self.verify()
        self.assertTrue(j["ok"], j)
        self.assertEqual(j["rows_checked"], len(self.ids) + 1)


class MasterKeys(unittest.TestCase):
    """Each test restarts the daemon on one data directory of its own
    (a ControlPlane that makes its own removes it when stopped)."""

    def data_dir(self):
        d = tempfile.mkdtemp(prefix="clawcp-keys-")
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def test_default_key_file_and_refusals(self):
        db = new_db()
        d = ControlPlane(database_url=db, data_dir=self.data_dir())
        d.start()
        key = os.path.join(d.data_dir, "master.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with open(key) as f:
            self.assertRegex(f.read(), r"^1:[0-9a-f]{64}\n$")
        self.assertEqual(d.client().post(
            "/v1/tenants", {"slug": "k", "name": "K"}).status, 201)
        self.assertEqual(d.client().put(
            "/v1/tenants/k/secrets/A", {"value": "x"}).status, 201)
        self.assertEqual(d.stop(), 0)

        # The same key again: fine.
        d2 = ControlPlane(database_url=db, data_dir=d.data_dir).start()
        self.assertEqual(d2.client().put(
            "/v1/tenants/k/secrets/A", {"value": "y"}).status, 200)
        d2.stop()

        # A wrong key file.
        wrong = os.path.join(d.data_dir, "wrong.key")
        with open(wrong, "w") as f:
            f.write("1:%s\n" % pysecrets.token_hex(32))
        os.chmod(wrong, 0o600)
        rc, err = start_fails(db, d.data_dir, ["--master-key-file", wrong])
        self.assertNotEqual(rc, 0)
        self.assertIn("wrong master key", err)
        self.assertNotIn("listening on", err)
        # A wrong key in the environment.
        rc, err = start_fails(db, d.data_dir,
                              env={"CLAW_MASTER_KEY": pysecrets.token_hex(32)})
        self.assertNotEqual(rc, 0)
        self.assertIn("wrong master key", err)
        # A key file others can read.
        os.chmod(wrong, 0o644)
        rc, err = start_fails(db, d.data_dir, ["--master-key-file", wrong])
        self.assertNotEqual(rc, 0)
        self.assertIn("chmod 600", err)
        # The default key file gone: never silently replaced.
        os.rename(key, key + ".bak")
        rc, err = start_fails(db, d.data_dir)
        self.assertNotEqual(rc, 0)
        self.assertIn("is missing", err)
        self.assertFalse(os.path.exists(key))
        # A malformed key file.
        with open(key, "w") as f:
            f.write("1:nothex\n")
        os.chmod(key, 0o600)
        rc, err = start_fails(db, d.data_dir)
        self.assertNotEqual(rc, 0)
        self.assertIn("64 hex characters", err)

    def test_rotation_while_serving(self):
        db = new_db()
        cp = ControlPlane(database_url=db, data_dir=self.data_dir()).start()
        c = cp.client()
        n = 30
        for i in range(n):
            self.assertEqual(c.post("/v1/tenants", {"slug": "r%d" % i,
                                                    "name": "R"}).status, 201)
            self.assertEqual(c.put("/v1/tenants/r%d/secrets/S" % i,
                                   {"value": CANARY}).status, 201)
        stop = threading.Event()
        failures, done = [], [0]

        def traffic():
            k = 0
            while not stop.is_set():
                t = "r%d" % (k % n)
                r = c.put("/v1/tenants/%s/secrets/S" % t, {"value": CANARY})
                if r.status != 200:
                    failures.append(r)
                r = c.get("/v1/tenants/%s/secrets" % t)
                if r.status != 200:
                    failures.append(r)
                k += 1
                done[0] += 1

        th = threading.Thread(target=traffic)
        th.start()
        try:
            for expect in (2, 3):
                r = c.post("/v1/admin/keys/rotate", {})
                self.assertEqual(r.status, 200, r)
                j = r.json()
                self.assertEqual(j["version"], expect)
                self.assertEqual(j["previous_version"], expect - 1)
                self.assertTrue(j["generated"])
        finally:
            stop.set()
            th.join()
        self.assertEqual(failures, [])
        self.assertGreater(done[0], 0)
        keys = c.get("/v1/admin/keys").json()
        self.assertEqual(keys["active_version"], 3)
        by_version = {v["version"]: v["data_keys"] for v in keys["versions"]}
        self.assertEqual(by_version, {1: 0, 2: 0, 3: n})
        with open(os.path.join(cp.data_dir, "master.key")) as f:
            self.assertEqual(len(f.read().split()), 3)
        self.assertTrue(c.get("/v1/audit/verify").json()["ok"])
        self.assertNotIn(CANARY, cp.daemon.log_text())
        cp.stop()
        # Restart: the key check passes and data keys still open.
        cp = ControlPlane(database_url=db, data_dir=cp.data_dir).start()
        self.assertEqual(cp.client().put("/v1/tenants/r7/secrets/S",
                                         {"value": "z"}).status, 200)
        cp.stop()

    def test_rotation_with_environment_keys(self):
        db = new_db()
        k1, k2 = pysecrets.token_hex(32), pysecrets.token_hex(32)
        cp = ControlPlane(database_url=db, data_dir=self.data_dir(),
                          env={"CLAW_MASTER_KEY": k1}).start()
        c = cp.client()
        self.assertEqual(c.post("/v1/tenants", {"slug": "e",
                                                "name": "E"}).status, 201)
        self.assertEqual(c.put("/v1/tenants/e/secrets/S",
                               {"value": "v"}).status, 201)
        r = c.post("/v1/admin/keys/rotate", {})
        self.assertEqual(r.status, 409, r)
        self.assertEqual(r.error_code(), "no_new_master_key")
        self.assertFalse(os.path.exists(os.path.join(cp.data_dir,
                                                     "master.key")))
        cp.stop()
        ring = "1:%s,2:%s" % (k1, k2)
        cp = ControlPlane(database_url=db, data_dir=cp.data_dir,
                          env={"CLAW_MASTER_KEY": ring}).start()
        r = cp.client().post("/v1/admin/keys/rotate", {})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json(), {"version": 2, "previous_version": 1,
                                    "rewrapped": 1, "generated": False})
        cp.stop()
        # Version 1 no longer wraps anything: the ring may drop it.
        cp = ControlPlane(database_url=db, data_dir=cp.data_dir,
                          env={"CLAW_MASTER_KEY": "2:" + k2}).start()
        self.assertEqual(cp.client().put("/v1/tenants/e/secrets/S",
                                         {"value": "w"}).status, 200)
        cp.stop()
        # But the active version may not be dropped.
        rc, err = start_fails(db, cp.data_dir,
                              env={"CLAW_MASTER_KEY": "1:" + k1})
        self.assertNotEqual(rc, 0)
        self.assertIn("master key version 2 is needed", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
