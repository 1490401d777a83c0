"""Integration: start-up of claw-controlplane. Two daemons started at once
against one database both come up and apply each migration once; a
changed migration file is refused; the embedded PostgreSQL is created on
first start, survives a SIGKILL of the daemon and stops with it; /readyz
follows the database; TLS serves HTTPS."""

import glob
import json
import os
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time
import unittest
import urllib.request

from clawtest.cp import ControlPlane, binary, source_dir
from clawtest.http import read_head, request
from clawtest.pg import PgCluster
from clawtest.proc import wait_for


def migration_files():
    return sorted(os.path.basename(p) for p in glob.glob(
        os.path.join(source_dir(), "migrations", "[0-9][0-9][0-9][0-9]_*.sql")))


class ExternalDatabaseTest(unittest.TestCase):

    def setUp(self):
        self.pg = PgCluster().start()
        self.addCleanup(self.pg.stop)

    def test_start_at_once(self):
        url = self.pg.create_database("twice")
        # replicas share the master key (it wraps the tenants' data keys)
        key = {"CLAW_MASTER_KEY": os.urandom(32).hex()}
        cps = [ControlPlane(database_url=url, name="cp%d" % i, env=key)
               for i in range(2)]
        for cp in cps:
            cp.daemon.start()
            self.addCleanup(cp.stop)
        for cp in cps:
            cp.url = cp.daemon.wait_stdout(r"listening on (\S+)").group(1)
            r = request("GET", cp.url + "/readyz")
            self.assertEqual(r.status, 200, r)
        files = migration_files()
        self.assertEqual(self.pg.psql("SELECT string_agg(name, ',' ORDER BY "
                                      "version) FROM schema_migrations",
                                      dbname="twice"), ",".join(files))
        applied = sum(len(re.findall(r"migration \S+ applied",
                                     cp.daemon.log_text())) for cp in cps)
        self.assertEqual(applied, len(files))
        # one admin token between them, written by the one that made it
        self.assertEqual(self.pg.psql("SELECT count(*) FROM api_tokens "
                                      "WHERE role = 'admin'",
                                      dbname="twice"), "1")
        have = [os.path.exists(os.path.join(cp.data_dir, "admin.token"))
                for cp in cps]
        self.assertEqual(sorted(have), [False, True])
        maker = cps[have.index(True)]
        for cp in cps:  # the token works on both
            r = request("GET", cp.url + "/v1/tenants",
                        token=maker.admin_token)
            self.assertEqual(r.status, 200, r)

    def test_changed_migration_is_refused(self):
        url = self.pg.create_database("changed")
        mig = tempfile.mkdtemp(prefix="clawmig-")
        self.addCleanup(shutil.rmtree, mig, True)
        for f in migration_files():
            shutil.copy(os.path.join(source_dir(), "migrations", f), mig)
        data = tempfile.mkdtemp(prefix="clawchg-")
        self.addCleanup(shutil.rmtree, data, True)
        cp = ControlPlane(database_url=url, data_dir=data,
                          extra_args=["--migrations-dir", mig]).start()
        cp.stop()
        with open(os.path.join(mig, migration_files()[0]), "a") as f:
            f.write("-- an edit after the fact\n")
        cp2 = ControlPlane(database_url=url, data_dir=data,
                           extra_args=["--migrations-dir", mig],
                           name="again")
        cp2.daemon.start()
        self.assertNotEqual(cp2.daemon.wait(60), 0)
        self.assertIn("was changed after it was applied",
                      cp2.daemon.log_text())

    def test_older_binary_refuses_a_newer_schema(self):
        # a replica of an older version: its migrations lack the newest
        # one the database has, so it refuses to run against it
        url = self.pg.create_database("newer")
        mig = tempfile.mkdtemp(prefix="clawmig-")
        self.addCleanup(shutil.rmtree, mig, True)
        for f in migration_files():
            shutil.copy(os.path.join(source_dir(), "migrations", f), mig)
        data = tempfile.mkdtemp(prefix="clawnew-")
        self.addCleanup(shutil.rmtree, data, True)
        ControlPlane(database_url=url, data_dir=data,
                     extra_args=["--migrations-dir", mig]).start().stop()
        newest = migration_files()[-1]
        os.unlink(os.path.join(mig, newest))
        old = ControlPlane(database_url=url, data_dir=data,
                           extra_args=["--migrations-dir", mig],
                           name="older")
        old.daemon.start()
        self.assertNotEqual(old.daemon.wait(60), 0)
        log = old.daemon.log_text()
        self.assertIn("the database has migration '%s'" % newest, log)
        self.assertIn("or a newer one", log)


    def test_readyz_follows_the_database(self):
        url = self.pg.create_database("ready")
        cp = ControlPlane(database_url=url).start()
        self.addCleanup(cp.stop)
        self.assertEqual(request("GET", cp.url + "/readyz").status, 200)
        self.pg.server_stop()
        r = request("GET", cp.url + "/readyz")
        self.assertEqual(r.status, 503, r)
        self.assertEqual(r.error_code(), "unavailable")
        self.assertEqual(request("GET", cp.url + "/healthz").status, 200)
        r = request("GET", cp.url + "/v1/tenants", token=cp.admin_token)
        self.assertEqual(r.status, 503, r)
        self.pg.server_start()
        wait_for(lambda: request("GET", cp.url + "/readyz").status == 200,
                 60, what="readyz after the database came back")
        r = request("GET", cp.url + "/v1/tenants", token=cp.admin_token)
        self.assertEqual(r.status, 200, r)

    def test_sigterm_lets_requests_finish(self):
        url = self.pg.create_database("drain")
        cp = ControlPlane(database_url=url).start()
        self.addCleanup(cp.kill)
        host, port = cp.url.split("//")[1].split(":")
        body = json.dumps({"slug": "drained", "name": "D"}).encode()
        s = socket.create_connection((host, int(port)), timeout=30)
        s.sendall(("POST /v1/tenants HTTP/1.1\r\nHost: x\r\n"
                   "Authorization: Bearer %s\r\nContent-Type: "
                   "application/json\r\nContent-Length: %d\r\n\r\n"
                   % (cp.admin_token, len(body))).encode() + body[:5])
        # the request is in flight (its body half sent) when SIGTERM comes:
        # give the server a moment to read its headers (a later request on
        # another connection is answered after that one was accepted)
        self.assertEqual(request("GET", cp.url + "/healthz").status, 200)
        time.sleep(0.5)
        cp.daemon.send_signal(signal.SIGTERM)
        s.sendall(body[5:])
        reply = read_head(s)
        s.close()
        self.assertTrue(reply.startswith(b"HTTP/1.1 201"), reply[:200])
        self.assertEqual(cp.daemon.wait(60), 0)
        self.assertEqual(self.pg.psql("SELECT count(*) FROM tenants WHERE "
                                      "slug = 'drained'", dbname="drain"),
                         "1")

    def test_tls(self):
        url = self.pg.create_database("tls")
        d = tempfile.mkdtemp(prefix="clawtls-")
        self.addCleanup(shutil.rmtree, d, True)
        cert, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                        "-nodes", "-keyout", key, "-out", cert, "-days",
                        "1", "-subj", "/CN=127.0.0.1"], check=True,
                       capture_output=True)
        cp = ControlPlane(database_url=url, extra_args=[
            "--tls-cert", cert, "--tls-key", key]).start()
        self.addCleanup(cp.stop)
        self.assertTrue(cp.url.startswith("https://"), cp.url)
        ctx = ssl.create_default_context(cafile=cert)
        ctx.check_hostname = False
        with urllib.request.urlopen(cp.url + "/healthz", context=ctx,
                                    timeout=10) as r:
            self.assertEqual(r.status, 200)


class ConfigTest(unittest.TestCase):

    def run_cp(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([binary()] + list(args), capture_output=True,
                              text=True, env=e, timeout=60)

    def test_help_and_bad_options(self):
        r = self.run_cp("--help")
        self.assertEqual(r.returncode, 0)
        for opt in ("--listen", "--data-dir", "--database-url", "--config",
                    "--tls-cert", "--master-key-file", "CLAW_LISTEN"):
            self.assertIn(opt, r.stdout)
        r = self.run_cp("--no-such-flag")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no-such-flag", r.stderr)
        r = self.run_cp("--log-level", "loud")
        self.assertEqual(r.returncode, 2)
        self.assertIn("log-level", r.stderr)
        r = self.run_cp("--tls-cert", "/x.pem")
        self.assertEqual(r.returncode, 2)
        self.assertIn("tls-key", r.stderr)

    def test_file_env_and_flags(self):
        pg = PgCluster().start()
        self.addCleanup(pg.stop)
        url = pg.create_database("cfg")
        d = tempfile.mkdtemp(prefix="clawcfg-")
        self.addCleanup(shutil.rmtree, d, True)
        conf = os.path.join(d, "cp.conf")
        with open(conf, "w") as f:
            f.write("# the database comes from the file\n"
                    "database-url = %s\nlisten = 127.0.0.1:1\n" % url)
        # the environment beats the file, the flag beats the environment
        cp = ControlPlane(data_dir=os.path.join(d, "data"),
                          extra_args=["--config", conf, "--listen",
                                      "127.0.0.1:0"],
                          env={"CLAW_LOG_LEVEL": "warn",
                               "CLAW_MAX_BODY": "2048"})
        cp.start()
        self.addCleanup(cp.stop)
        r = request("POST", cp.url + "/v1/tenants", {"slug": "s", "name":
                                                      "x" * 3000},
                    token=cp.admin_token)
        self.assertEqual(r.status, 413, r)
        self.assertFalse(os.path.exists(os.path.join(d, "data", "pg")))
        self.assertNotIn('"level":"info"', cp.daemon.log_text())


class EmbeddedPostgresTest(unittest.TestCase):

    def test_lifecycle(self):
        top = tempfile.mkdtemp(prefix="clawemb-")
        os.chmod(top, 0o711)  # under root postgres runs as another user
        self.addCleanup(shutil.rmtree, top, True)
        data = os.path.join(top, "data")
        cp = ControlPlane(data_dir=data).start()
        self.addCleanup(cp.kill)
        tok_path = os.path.join(data, "admin.token")
        self.assertEqual(stat.S_IMODE(os.stat(tok_path).st_mode), 0o600)
        self.assertTrue(any(cp.admin_token in l
                            for l in cp.daemon.stdout_lines()))
        r = cp.client().post("/v1/tenants", {"slug": "keep", "name": "K"})
        self.assertEqual(r.status, 201, r)
        self.assertTrue(os.path.exists(os.path.join(data, "pg",
                                                    "postmaster.pid")))
        # a crash: the daemon dies, postgres follows (parent-death signal)
        cp.daemon.stop(signal.SIGKILL)
        cp2 = ControlPlane(data_dir=data, name="restarted").start()
        self.addCleanup(cp2.kill)
        r = cp2.client().get("/v1/tenants/keep")
        self.assertEqual(r.status, 200, r)
        self.assertFalse(any("admin token" in l
                             for l in cp2.daemon.stdout_lines()))
        self.assertEqual(cp2.stop(), 0)
        wait_for(lambda: not os.path.exists(
            os.path.join(data, "pg", "postmaster.pid")), 30,
            what="postgres to stop")


if __name__ == "__main__":
    unittest.main(verbosity=2)
