"""test_audit_checkpoints - the audit log can prove it was not truncated.

- The daemon serves as a database role that may only SELECT and INSERT
  audit rows: UPDATE, DELETE, TRUNCATE, moving the chain head, disabling a
  trigger, rewinding the id sequence and inserting a row that does not
  extend the head are all refused to it. Migrations run as the owner role:
  the embedded cluster makes claw_owner and claw_app; an external database
  takes migration-database-url for the owner.
- The daemon signs checkpoints (Ed25519, key outside the database) at
  start, periodically and at a clean stop, into a file outside PostgreSQL.
- Tampering done with a superuser connection, as the issue's reviewer did,
  is reported by GET /v1/audit/verify and clawctl audit verify
  --checkpoints, naming the checkpoint: the newest rows deleted with
  audit_chain_head rewound (truncated), the last row rewritten with its
  hash and the head recomputed (rewritten), the counter moved, ids reused
  after the sequence was rewound. A forged checkpoint line fails its
  signature; a line signed by a key not accepted is unknown_key.
"""

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from clawtest import cp as cpmod
from clawtest.cp import ControlPlane, build_dir
from clawtest.pg import PgCluster
from clawtest.proc import wait_for

CLAWCTL = os.path.join(build_dir(), "cli", "clawctl")
OWNER, APP = "audit_owner", "audit_app"

PG = None
SEQ = [0]


def setUpModule():
    global PG
    PG = PgCluster().start()
    PG.psql("CREATE ROLE %s LOGIN; CREATE ROLE %s LOGIN" % (OWNER, APP))


def tearDownModule():
    PG.stop()


def role_url(role, db):
    return "postgresql://%s@/%s?host=%s&port=%d" % (role, db, PG.sock,
                                                     PG.port)


def psql_as(role, db, sql, check=True):
    """sql as role on the test cluster: (ok, output)."""
    r = subprocess.run([os.path.join(PG.bin_dir, "psql"), "-X", "-q", "-A",
                        "-t", "-v", "ON_ERROR_STOP=1", "-h", PG.sock, "-p",
                        str(PG.port), "-U", role, "-d", db, "-c", sql],
                       capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError("psql failed: %s" % r.stderr.strip())
    return r.returncode == 0, (r.stdout + r.stderr).strip()


def field(h, v):
    if v is None:
        h.update(b"-\n")
    else:
        b = str(v).encode()
        h.update(b"%d:" % len(b) + b + b"\n")


def row_hash(row, prev):
    """controlplane/audit.c's cp_audit_row_hash, for a forger."""
    h = hashlib.blake2b(digest_size=32)
    h.update(b"claw-audit-v1\n")
    field(h, prev)
    for k in ("id", "time_us", "actor_id", "actor_role", "action", "target",
              "tenant_id", "request_id", "source_addr", "details"):
        field(h, row[k])
    return h.hexdigest()


class Tamper:
    """Superuser tampering, with the audit triggers disabled meanwhile."""

    def __init__(self, sql):
        self.sql = sql  # runs SQL as the cluster's superuser

    def quiet(self, q):
        return self.sql("ALTER TABLE audit_log DISABLE TRIGGER USER;"
                        "ALTER TABLE audit_chain_head DISABLE TRIGGER USER;"
                        + q + ";ALTER TABLE audit_log ENABLE TRIGGER USER;"
                        "ALTER TABLE audit_chain_head ENABLE TRIGGER USER")

    def ids(self):
        return [int(x) for x in
                self.sql("SELECT id FROM audit_log ORDER BY id").split()]

    def truncate(self, keep):
        """Delete every row after id keep and rewind the head to it."""
        self.quiet("DELETE FROM audit_log WHERE id > %d;"
                   "UPDATE audit_chain_head SET last_id = %d, last_hash = "
                   "(SELECT hash FROM audit_log WHERE id = %d), row_count = "
                   "(SELECT count(*) FROM audit_log)" % (keep, keep, keep))

    def row(self, rid):
        return json.loads(self.sql(
            "SELECT json_build_object('id', id, 'time_us', "
            "(extract(epoch FROM time) * 1000000)::bigint, 'actor_id', "
            "actor_id, 'actor_role', actor_role, 'action', action, "
            "'target', target, 'tenant_id', tenant_id, 'request_id', "
            "request_id, 'source_addr', source_addr, 'details', "
            "details::text, 'prev_hash', prev_hash) FROM audit_log "
            "WHERE id = %d" % rid))

    def rewrite_last(self):
        """Change the last row, re-hash it and move the head with it: the
        chain by itself still verifies."""
        last = self.ids()[-1]
        self.quiet("UPDATE audit_log SET details = "
                   "'{\"slug\": \"forged\"}' WHERE id = %d" % last)
        r = self.row(last)
        h = row_hash(r, r["prev_hash"])
        self.quiet("UPDATE audit_log SET hash = '%s' WHERE id = %d;"
                   "UPDATE audit_chain_head SET last_hash = '%s'"
                   % (h, last, h))
        return last


class Base(unittest.TestCase):
    def data_dir(self):
        d = tempfile.mkdtemp(prefix="clawcp-audit-")
        os.chmod(d, 0o700)
        self.addCleanup(shutil.rmtree, d, True)
        return d

    def tenants(self, cp, n, prefix):
        c = cp.client()
        for i in range(n):
            r = c.post("/v1/tenants", {"slug": "%s%d" % (prefix, i),
                                       "name": "T"})
            self.assertEqual(r.status, 201, r)

    def verify(self, cp, query=""):
        r = cp.client().get("/v1/audit/verify" + query)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def ckpt_file(self, cp):
        return os.path.join(cp.data_dir, "audit-checkpoints.jsonl")

    def lines(self, cp):
        with open(self.ckpt_file(cp)) as f:
            return [json.loads(x) for x in f if x.strip()]

    def cli(self, cp, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CLAW_TOKEN")}
        env["CLAW_URL"] = cp.url
        env["CLAW_TOKEN_FILE"] = os.path.join(cp.data_dir, "admin.token")
        return subprocess.run([CLAWCTL, "audit", "verify"] + list(args),
                              env=env, capture_output=True, text=True,
                              timeout=120)

    def assert_start_refused(self, says, role, migration_role=None):
        """A control plane on a new database (owned by OWNER) that the
        app connects to as role (and migrates as migration_role) must
        refuse to start, saying says."""
        SEQ[0] += 1
        db = "aud%d" % SEQ[0]
        PG.psql("CREATE DATABASE %s OWNER %s" % (db, OWNER))
        argv = [cpmod.binary(), "--listen", "127.0.0.1:0", "--data-dir",
                self.data_dir(), "--migrations-dir",
                os.path.join(cpmod.source_dir(), "migrations"),
                "--database-url", role_url(role, db)]
        if migration_role:
            argv += ["--migration-database-url", role_url(migration_role, db)]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(says, r.stdout + r.stderr)

    def copy_ckpts(self, cp):
        d = self.data_dir()
        dst = os.path.join(d, "copy.jsonl")
        shutil.copy(self.ckpt_file(cp), dst)
        return dst

    def assert_intact(self, cp):
        j = self.verify(cp)
        self.assertTrue(j["ok"], j)
        self.assertTrue(j["checkpoints"]["ok"], j)
        self.assertGreater(j["checkpoints"]["checked"], 0, j)
        return j


class ExternalSplitRoles(Base):
    """An external database: database-url is the app role,
    migration-database-url the owner."""

    def setUp(self):
        SEQ[0] += 1
        self.db = "aud%d" % SEQ[0]
        PG.psql("CREATE DATABASE %s OWNER %s" % (self.db, OWNER))
        self.dir = self.data_dir()
        self.cp = self.start()
        self.tamper = Tamper(lambda q: PG.psql(q, dbname=self.db))

    def start(self, extra=()):
        cp = ControlPlane(database_url=role_url(APP, self.db),
                          data_dir=self.dir,
                          extra_args=["--migration-database-url",
                                      role_url(OWNER, self.db)]
                          + list(extra)).start()
        self.addCleanup(cp.stop)
        return cp

    def restart(self, extra=()):
        """A clean stop (stop checkpoint), then a start (start checkpoint)."""
        self.cp.stop_clean()
        self.cp = self.start(extra)

    def app_sql(self, q):
        return psql_as(APP, self.db, q, check=False)

    def test_app_role_may_only_add_audit_rows(self):
        self.tenants(self.cp, 2, "r")
        refused = [
            "UPDATE audit_log SET action = 'x'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
            "UPDATE audit_chain_head SET last_id = 0",
            "UPDATE audit_chain_head SET last_id = last_id + 100",
            "DELETE FROM audit_chain_head",
            "ALTER TABLE audit_log DISABLE TRIGGER USER",
            "DROP TRIGGER audit_log_append_only ON audit_log",
            "SELECT setval(pg_get_serial_sequence('audit_log', 'id'), 1)",
            "INSERT INTO schema_migrations VALUES (99, 'x', 'y')",
            "CREATE TABLE evil (x int)",
            # a row that does not extend the head
            "INSERT INTO audit_log (id, time, action, prev_hash, hash) "
            "VALUES (1000000, now(), 'x', repeat('0', 64), "
            "repeat('1', 64))",
        ]
        for q in refused:
            ok, out = self.app_sql(q)
            self.assertFalse(ok, "%s was allowed: %s" % (q, out))
        # a temporary table cannot stand in for the head in the owner's
        # functions
        ok, out = self.app_sql(
            "CREATE TEMP TABLE audit_chain_head (last_id bigint, last_hash "
            "text, row_count bigint); INSERT INTO audit_chain_head VALUES "
            "(0, repeat('0', 64), 0); SELECT last_id FROM audit_head_lock()")
        self.assertTrue(ok, out)
        self.assertNotEqual(out.split()[-1], "0")
        # what it may do
        ok, out = self.app_sql("SELECT count(*) FROM audit_log")
        self.assertTrue(ok, out)
        self.assertEqual(PG.psql(
            "SELECT string_agg(p, ',' ORDER BY p) FROM unnest(ARRAY["
            "'SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p WHERE "
            "has_table_privilege('%s', 'audit_log', p)" % APP,
            dbname=self.db), "INSERT,SELECT")
        self.assertEqual(PG.psql(
            "SELECT string_agg(p, ',' ORDER BY p) FROM unnest(ARRAY["
            "'SELECT','INSERT','UPDATE','DELETE','TRUNCATE']) p WHERE "
            "has_table_privilege('%s', 'audit_chain_head', p)" % APP,
            dbname=self.db), "SELECT")
        self.assertEqual(PG.psql("SELECT tableowner FROM pg_tables WHERE "
                                 "tablename = 'audit_log'", dbname=self.db),
                         OWNER)
        # the daemon's sessions are the app role's only
        users = PG.psql("SELECT string_agg(DISTINCT usename, ',') FROM "
                        "pg_stat_activity WHERE datname = '%s' AND pid <> "
                        "pg_backend_pid()" % self.db)
        self.assertEqual(users, APP)
        # and it still works: appends, verify
        self.tenants(self.cp, 1, "more")
        self.assert_intact(self.cp)
        self.assertNotIn("can change or remove audit rows",
                         self.cp.daemon.log_text())

    def test_truncated_tail_with_rewound_head(self):
        self.tenants(self.cp, 5, "t")
        self.restart()  # a stop checkpoint covers every row
        lines = self.lines(self.cp)
        stop = [i for i, x in enumerate(lines, 1) if x["event"] == "stop"]
        self.assertEqual(len(stop), 1, lines)
        covered = lines[stop[0] - 1]
        ids = self.tamper.ids()
        self.assertEqual(covered["last_id"], ids[-1])
        self.assertEqual(covered["rows"], len(ids))
        self.assert_intact(self.cp)

        self.tamper.truncate(ids[-4])
        j = self.verify(self.cp)
        # the chain by itself is consistent: only the checkpoint shows it
        self.assertIsNone(j["first_broken_id"], j)
        self.assertFalse(j["ok"], j)
        f = j["checkpoints"]["failed"]
        self.assertEqual(f["problem"], "truncated", j)
        self.assertEqual(f["line"], stop[0], j)
        self.assertEqual(f["last_id"], ids[-1])
        self.assertIn("checkpoint at line %d" % stop[0], j["reason"])
        self.assertIn("removed from its end", j["reason"])
        self.assertEqual(j["head"]["last_id"], ids[-4])

        # clawctl: the daemon's own checkpoints and a copy of the file
        copy = self.copy_ckpts(self.cp)
        r = self.cli(self.cp)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("truncated", r.stdout)
        r = self.cli(self.cp, "--checkpoints", copy)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("checkpoints in the file: checkpoint at line %d"
                      % stop[0], r.stdout)
        self.assertIn("truncated", r.stdout)
        out = json.loads(self.cli(self.cp, "--checkpoints", copy, "-o",
                                  "json").stdout)
        self.assertEqual(out["file_checkpoints"]["failed"]["problem"],
                         "truncated")
        # the next checkpoint of the daemon notices the head going back
        self.cp.stop_clean()
        self.assertIn("audit chain head went back",
                      self.cp.daemon.log_text())

    def test_rewritten_head(self):
        self.tenants(self.cp, 3, "w")
        self.restart()
        last = self.tamper.rewrite_last()
        j = self.verify(self.cp)
        self.assertIsNone(j["first_broken_id"], j)  # re-hashed: chain ok
        self.assertFalse(j["ok"], j)
        self.assertEqual(j["checkpoints"]["failed"]["problem"], "rewritten")
        self.assertEqual(j["checkpoints"]["failed"]["last_id"], last)
        r = self.cli(self.cp, "--checkpoints", self.copy_ckpts(self.cp))
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("rewritten", r.stdout)

    def test_head_hash_or_counter_moved(self):
        self.tenants(self.cp, 2, "h")
        self.tamper.quiet("UPDATE audit_chain_head SET last_hash = "
                          "repeat('e', 64)")
        j = self.verify(self.cp)
        self.assertFalse(j["ok"], j)
        self.assertIn("chain head", j["reason"])
        self.tamper.quiet("UPDATE audit_chain_head SET last_hash = "
                          "(SELECT hash FROM audit_log ORDER BY id DESC "
                          "LIMIT 1), row_count = row_count - 1")
        j = self.verify(self.cp)
        self.assertFalse(j["ok"], j)
        self.assertIn("row count", j["reason"])

    def test_rewound_counter_reused_ids(self):
        self.tenants(self.cp, 4, "c")
        self.restart()
        ids = self.tamper.ids()
        keep = ids[-3]
        self.tamper.truncate(keep)
        self.tamper.sql("SELECT setval(pg_get_serial_sequence('audit_log', "
                        "'id'), %d)" % keep)
        # new rows take the removed ids again and chain on correctly
        self.tenants(self.cp, 3, "n")
        self.assertGreaterEqual(self.tamper.ids()[-1], ids[-1])
        j = self.verify(self.cp)
        self.assertIsNone(j["first_broken_id"], j)
        self.assertFalse(j["ok"], j)
        self.assertIn(j["checkpoints"]["failed"]["problem"],
                      ("truncated", "rewritten"), j)

    def test_forged_and_foreign_checkpoints(self):
        self.tenants(self.cp, 2, "f")
        self.restart()
        self.assert_intact(self.cp)
        lines = self.lines(self.cp)
        # a forged line: more rows than there are, the signature copied
        forged = dict(lines[-1])
        forged["rows"] += 1000
        forged["last_id"] += 1000
        copy = self.copy_ckpts(self.cp)
        with open(copy, "a") as f:
            f.write(json.dumps(forged) + "\n")
        r = self.cli(self.cp, "--checkpoints", copy)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("checkpoints in the file: checkpoint at line %d"
                      % (len(lines) + 1), r.stdout)
        self.assertIn("signature_invalid", r.stdout)
        # the same line in the daemon's own file
        with open(self.ckpt_file(self.cp), "a") as f:
            f.write(json.dumps(forged) + "\n")
        j = self.verify(self.cp)
        self.assertFalse(j["ok"], j)
        self.assertEqual(j["checkpoints"]["failed"]["problem"],
                         "signature_invalid", j)
        # a key the verifier does not accept
        keys = os.path.join(self.data_dir(), "keys")
        with open(keys, "w") as f:
            f.write("# not the daemon's key\n" + "ab" * 32 + "\n")
        r = self.cli(self.cp, "--checkpoints", copy, "--public-keys-file",
                     keys)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("unknown_key", r.stdout)
        # the daemon's own public key accepts the genuine lines
        good = os.path.join(self.data_dir(), "good.jsonl")
        with open(good, "w") as f:
            f.writelines(json.dumps(x) + "\n" for x in lines)
        r = self.cli(self.cp, "--checkpoints", good, "--public-keys-file",
                     os.path.join(self.cp.data_dir, "audit-signing.key.pub"))
        self.assertIn("checkpoints in the file: %d checked, the log "
                      "extends them all" % len(lines), r.stdout)

    def test_periodic_checkpoints(self):
        self.restart(["--audit-checkpoint-interval-s", "1"])
        before = len(self.lines(self.cp))
        self.tenants(self.cp, 1, "p")
        wait_for(lambda: any(x["event"] == "periodic"
                             for x in self.lines(self.cp)[before:]),
                 timeout=60, what="a periodic checkpoint")
        rows = int(self.tamper.sql("SELECT count(*) FROM audit_log"))
        periodic = [x for x in self.lines(self.cp)[before:]
                    if x["event"] == "periodic"]
        self.assertEqual(periodic[-1]["rows"], rows)
        self.assert_intact(self.cp)
        r = self.cli(self.cp, "--checkpoints", self.copy_ckpts(self.cp))
        self.assertEqual(r.returncode, 0, r)

    def test_app_role_alone_serves_a_migrated_schema(self):
        # the owner's credentials need not stay with the serving daemon
        self.cp.stop_clean()
        cp = ControlPlane(database_url=role_url(APP, self.db),
                          data_dir=self.dir, name="app-only").start()
        self.addCleanup(cp.stop)
        self.assertIn("migrated by the owner role", cp.daemon.log_text())
        self.tenants(cp, 1, "a")
        self.assert_intact(cp)
        # a schema not migrated yet: refused, saying what to set
        self.assert_start_refused("set migration-database-url", APP)

    def test_verify_at_and_bad_query(self):
        self.tenants(self.cp, 2, "q")
        ids = self.tamper.ids()
        j = self.verify(self.cp, "?at=%d,%d" % (ids[-1], ids[-1] + 50))
        self.assertEqual(j["at"][0], {"id": ids[-1], "known": True,
                                      "found": True, "rows": len(ids),
                                      "hash": j["head"]["hash"]})
        self.assertFalse(j["at"][1]["found"])
        for q in ("?at=", "?at=x", "?at=1,", "?at=0", "?at=-1",
                  "?at=" + ",".join(["1"] * 201)):
            r = self.cp.client().get("/v1/audit/verify" + q)
            self.assertEqual(r.status, 400, (q, r))
            self.assertEqual(r.error_code(), "invalid_parameter")
        # roles: admin and auditor only
        _, t = self.cp.new_token("operator")
        self.assertEqual(self.cp.client(t).get("/v1/audit/verify").status,
                         403)
        _, t = self.cp.new_token("auditor")
        self.assertEqual(self.cp.client(t).get("/v1/audit/verify").status,
                         200)


class Refusals(Base):
    def test_same_role_for_both_urls_refused(self):
        self.assert_start_refused("must not be the owner role", OWNER,
                                  OWNER)

    def test_one_role_warns(self):
        SEQ[0] += 1
        cp = ControlPlane(database_url=PG.create_database(
            "aud%d" % SEQ[0])).start()
        self.addCleanup(cp.stop)
        self.assertIn("can change or remove audit rows",
                      cp.daemon.log_text())
        self.assert_intact(cp)

    def test_readable_signing_key_refused(self):
        SEQ[0] += 1
        url = PG.create_database("aud%d" % SEQ[0])
        d = self.data_dir()
        key = os.path.join(d, "audit-signing.key")
        with open(key, "w") as f:
            f.write("00" * 32 + "\n")
        os.chmod(key, 0o644)
        argv = [cpmod.binary(), "--listen", "127.0.0.1:0", "--data-dir", d,
                "--migrations-dir",
                os.path.join(cpmod.source_dir(), "migrations"),
                "--database-url", url]
        r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=120)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("chmod 600", r.stdout + r.stderr)


class Embedded(Base):
    """No database URL: the embedded cluster gets claw_owner and claw_app."""

    def sql(self, q):
        return PgCluster.psql_at(os.path.join(self.dir, "pg-run"), 5432, q)

    def test_embedded_roles_and_truncation(self):
        self.dir = self.data_dir()
        cp = ControlPlane(data_dir=self.dir).start()
        self.addCleanup(cp.stop)
        self.tenants(cp, 3, "e")
        self.assertEqual(self.sql(
            "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity "
            "WHERE datname = 'postgres' AND pid <> pg_backend_pid()"),
            "claw_app")
        self.assertEqual(self.sql("SELECT tableowner FROM pg_tables WHERE "
                                  "tablename = 'audit_log'"), "claw_owner")
        self.assertEqual(self.sql(
            "SELECT has_table_privilege('claw_app', 'audit_log', 'DELETE')"
            " OR has_table_privilege('claw_app', 'audit_log', 'UPDATE')"
            " OR has_table_privilege('claw_app', 'audit_log', 'TRUNCATE')"
            " OR has_table_privilege('claw_app', 'audit_chain_head', "
            "'UPDATE')"), "f")
        with self.assertRaises(RuntimeError):
            PgCluster.psql_at(os.path.join(self.dir, "pg-run"), 5432,
                              "DELETE FROM audit_log", user="claw_app")
        # an object an older version made as superuser is handed over at
        # the next start
        self.sql("ALTER TABLE tenants OWNER TO claw")
        cp.stop_clean()
        cp = ControlPlane(data_dir=self.dir, name="restarted").start()
        self.addCleanup(cp.stop)
        self.assertEqual(self.sql("SELECT tableowner FROM pg_tables WHERE "
                                  "tablename = 'tenants'"), "claw_owner")
        self.assert_intact(cp)
        ids = Tamper(self.sql).ids()
        Tamper(self.sql).truncate(ids[-3])
        j = self.verify(cp)
        self.assertFalse(j["ok"], j)
        self.assertEqual(j["checkpoints"]["failed"]["problem"], "truncated")


if __name__ == "__main__":
    unittest.main(verbosity=2)
