"""test_external_pg - claw-controlplane on a separately started PostgreSQL
(issue 15, item 4; docs/operations-backup.md, "External PostgreSQL").

Two clusters (clawtest.pg, TCP on 127.0.0.1) serve TLS with a certificate
for "localhost" signed by a CA made here with openssl, and take only
hostssl + scram-sha-256 over TCP. One is made read-only
(default_transaction_read_only, as a hot standby reports itself). The
roles are not superusers: an owner role with CONNECT on the database and
USAGE, CREATE on schema public (it migrates), and an app role with CONNECT
only (the daemon serves as it; the owner grants it the rest).

- the daemon starts with database-url and migration-database-url naming
  three hosts (a dead port, the read-only server, the primary) with
  target_session_attrs=read-write and sslmode=verify-full; its writes land
  on the primary, over TLS, as the app role;
- verify-full is enforced: the same URL with host 127.0.0.1 (not in the
  certificate) or another CA makes the daemon refuse to start;
- one non-superuser role that migrates and serves works too;
- backup --database-url (the owner's URL, with its password) over the
  same TLS multi-host URL, restored into an embedded data directory, starts
  and holds the tenant.
"""

import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from clawtest import cp as cpmod
from clawtest.cp import ControlPlane
from clawtest.http import free_port
from clawtest.pg import PgCluster

DB = "clawext"
OWNER, APP, SOLO = "bk_owner", "bk_app", "bk_solo"
PW = {OWNER: "own-" + os.urandom(6).hex(), APP: "app-" + os.urandom(6).hex(),
      SOLO: "solo-" + os.urandom(6).hex()}
HBA = ("local all all trust\n"
       "hostssl all all 127.0.0.1/32 scram-sha-256\n"
       "hostssl all all ::1/128 scram-sha-256\n")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True,
                   capture_output=True)


def make_ca(d, name):
    """A CA (name.crt) and a server certificate for DNS:localhost signed
    by it (name-server.crt/.key)."""
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", name + ".key", "-out",
            name + ".crt", "-subj", "/CN=%s" % name, "-days", "2", cwd=d)
    openssl("req", *ec, "-keyout", name + "-server.key", "-out",
            name + "-server.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", name + "-server.csr", "-CA", name + ".crt",
            "-CAkey", name + ".key", "-CAcreateserial", "-out",
            name + "-server.crt", "-days", "2", "-extfile", "san.ext", cwd=d)


def tls_cluster(ca_dir, read_only=False):
    """A TCP cluster with TLS on, the roles and the database."""
    pg = PgCluster(tcp=True).start()
    try:
        for n in ("test-ca-server.crt", "test-ca-server.key"):
            dst = os.path.join(pg.dir, n)
            shutil.copy(os.path.join(ca_dir, n), dst)
            os.chmod(dst, 0o600)
            if os.geteuid() == 0:
                shutil.chown(dst, pg._user, pg._user)
        with open(os.path.join(pg.data, "pg_hba.conf"), "w") as f:
            f.write(HBA)
        if os.geteuid() == 0:
            shutil.chown(os.path.join(pg.data, "pg_hba.conf"), pg._user,
                         pg._user)
        pg.psql("ALTER SYSTEM SET ssl = on")
        pg.psql("ALTER SYSTEM SET ssl_cert_file = '%s'"
                % os.path.join(pg.dir, "test-ca-server.crt"))
        pg.psql("ALTER SYSTEM SET ssl_key_file = '%s'"
                % os.path.join(pg.dir, "test-ca-server.key"))
        for role in (OWNER, APP, SOLO):
            pg.psql("CREATE ROLE %s LOGIN NOSUPERUSER NOCREATEDB "
                    "NOCREATEROLE PASSWORD '%s'" % (role, PW[role]))
        pg.psql("CREATE DATABASE %s" % DB)
        pg.psql("CREATE DATABASE %s_solo" % DB)
        # the documented GRANTs (docs/operations-backup.md)
        pg.psql("REVOKE ALL ON DATABASE %s FROM PUBLIC" % DB)
        pg.psql("GRANT CONNECT ON DATABASE %s TO %s, %s" % (DB, OWNER, APP))
        pg.psql("GRANT USAGE, CREATE ON SCHEMA public TO %s" % OWNER,
                dbname=DB)
        pg.psql("GRANT CONNECT ON DATABASE %s_solo TO %s" % (DB, SOLO))
        pg.psql("GRANT USAGE, CREATE ON SCHEMA public TO %s" % SOLO,
                dbname=DB + "_solo")
        if read_only:
            pg.psql("ALTER SYSTEM SET default_transaction_read_only = on")
        pg.psql("SELECT pg_reload_conf()")
        return pg
    except BaseException:
        pg.stop()
        raise


class ExternalPgTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="clawext-")
        os.chmod(cls.tmp, 0o711)
        make_ca(cls.tmp, "test-ca")
        make_ca(cls.tmp, "other-ca")
        cls.ca = os.path.join(cls.tmp, "test-ca.crt")
        cls.standby = cls.primary = None
        cls.standby = tls_cluster(cls.tmp, read_only=True)
        cls.primary = tls_cluster(cls.tmp)
        cls.dead = free_port()

    @classmethod
    def tearDownClass(cls):
        for pg in (cls.primary, cls.standby):
            if pg:
                pg.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def url(self, role, db=DB, host="localhost", ca=None):
        hosts = ",".join("%s:%d" % (host, p) for p in
                         (self.dead, self.standby.port, self.primary.port))
        q = urllib.parse.urlencode({
            "sslmode": "verify-full", "sslrootcert": ca or self.ca,
            "target_session_attrs": "read-write", "connect_timeout": "10"})
        return "postgresql://%s:%s@%s/%s?%s" % (role, PW[role], hosts, db, q)

    def start_cp(self, url, extra=()):
        cp = ControlPlane(database_url=url, extra_args=list(extra)).start()
        self.addCleanup(cp.stop_clean)
        return cp

    def start_fails(self, url):
        d = tempfile.mkdtemp(prefix="clawext-dd-")
        self.addCleanup(shutil.rmtree, d, True)
        r = subprocess.run(
            [cpmod.binary(), "--listen", "127.0.0.1:0", "--data-dir", d,
             "--migrations-dir",
             os.path.join(cpmod.source_dir(), "migrations"),
             "--database-url", url], capture_output=True, text=True,
            timeout=300)
        self.assertNotEqual(r.returncode, 0)
        for role in PW:
            self.assertNotIn(PW[role], r.stdout + r.stderr)
        return r.stdout + r.stderr

    def test_split_roles_tls_multi_host(self):
        cp = self.start_cp(self.url(APP), ["--migration-database-url",
                                           self.url(OWNER)])
        r = cp.client().post("/v1/tenants", {"slug": "ext1", "name": "E"})
        self.assertEqual(r.status, 201, r)
        r = cp.client().put("/v1/tenants/ext1/secrets/K", {"value": "v1"})
        self.assertIn(r.status, (200, 201), r)
        self.assertEqual(self.primary.psql(
            "SELECT count(*) FROM tenants WHERE slug = 'ext1'", dbname=DB),
            "1")
        self.assertEqual(self.standby.psql(
            "SELECT count(*) FROM pg_tables WHERE tablename = 'tenants'",
            dbname=DB), "0")
        # the daemon's connections: TLS, as the app role, no superuser
        self.assertEqual(self.primary.psql(
            "SELECT count(*) > 0 AND bool_and(s.ssl) FROM pg_stat_activity a"
            " JOIN pg_stat_ssl s USING (pid) WHERE a.usename = '%s'" % APP),
            "t")
        self.assertEqual(self.primary.psql(
            "SELECT count(*) FROM pg_roles WHERE rolsuper AND rolname IN "
            "('%s', '%s')" % (APP, OWNER)), "0")
        # the app role cannot rewrite the audit log
        self.assertNotIn("UPDATE", self.primary.psql(
            "SELECT string_agg(privilege_type, ',') FROM "
            "information_schema.role_table_grants WHERE grantee = '%s' AND "
            "table_name = 'audit_log'" % APP, dbname=DB))

        # backup over the same URL as the owner, restore as embedded
        key = os.path.join(self.tmp, "bk.key")
        r = subprocess.run([cpmod.binary(), "backup-keygen", "--out", key],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        archive = os.path.join(self.tmp, "ext.archive")
        r = subprocess.run([cpmod.binary(), "backup", "--out", archive,
                            "--to-key", key + ".pub", "--data-dir",
                            cp.data_dir, "--database-url", self.url(OWNER)],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        target = os.path.join(self.tmp, "restored-ext")
        r = subprocess.run([cpmod.binary(), "restore", "--from", archive,
                            "--key", key, "--data-dir", target],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        rcp = ControlPlane(data_dir=target).start()
        self.addCleanup(shutil.rmtree, target, True)
        self.addCleanup(rcp.stop_clean)
        r = rcp.client().get("/v1/tenants/ext1")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(rcp.client().get("/v1/audit/verify").json()["ok"])

    def test_one_non_superuser_role(self):
        cp = self.start_cp(self.url(SOLO, db=DB + "_solo"))
        r = cp.client().post("/v1/tenants", {"slug": "solo1", "name": "S"})
        self.assertEqual(r.status, 201, r)

    def test_verify_full_is_enforced(self):
        out = self.start_fails(self.url(SOLO, db=DB + "_solo",
                                        host="127.0.0.1"))
        self.assertIn("does not match host name", out)
        out = self.start_fails(self.url(
            SOLO, db=DB + "_solo", ca=os.path.join(self.tmp, "other-ca.crt")))
        self.assertIn("certificate verify failed", out)


if __name__ == "__main__":
    unittest.main()
