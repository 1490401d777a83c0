"""Integration: a SIGKILL of claw-controlplane in the middle of writes
leaves no half-written change: every tenant row has its audit row and
every audit row its change (a tenant's version matches its updates), with
an external PostgreSQL and with the embedded one."""

import os
import shutil
import tempfile
import threading
import unittest

from clawtest.cp import ControlPlane
from clawtest.http import Client
from clawtest.pg import PgCluster
from clawtest.proc import wait_for

WRITERS = 4


def hammer(url, token, prefix, stop, counts):
    """Create tenants and rename them until the daemon goes away."""
    c = Client(url, token, timeout=10)
    n = 0
    while not stop.is_set():
        n += 1
        slug = "%s-%d" % (prefix, n)
        try:
            r = c.post("/v1/tenants", {"slug": slug, "name": "x"})
            if r.status == 201:
                c.patch("/v1/tenants/" + slug, {"name": "y"})
            counts[prefix] = counts.get(prefix, 0) + 1
        except OSError:
            return


class CrashTest(unittest.TestCase):

    def crash_rounds(self, make_cp, psql, rounds=3):
        cp = make_cp("round0")
        token = cp.admin_token
        for rnd in range(rounds):
            stop = threading.Event()
            counts = {}
            threads = [threading.Thread(target=hammer, args=(
                cp.url, token, "r%dw%d" % (rnd, i), stop, counts))
                for i in range(WRITERS)]
            for t in threads:
                t.start()
            # kill once a good number of writes went through
            wait_for(lambda: sum(counts.values()) >= 40 + 20 * rnd, 120,
                     what="writes")
            cp.kill()
            stop.set()
            for t in threads:
                t.join(30)
            cp = make_cp("round%d" % (rnd + 1))
            self.check_consistent(psql)
        cp.stop()

    def check_consistent(self, psql):
        # every tenant was created with its audit row, and every
        # tenant.create row has its tenant (none are purged here)
        orphans = psql(
            "SELECT count(*) FROM tenants t WHERE NOT EXISTS (SELECT 1 FROM "
            "audit_log a WHERE a.tenant_id = t.id AND "
            "a.action = 'tenant.create')")
        self.assertEqual(orphans, "0")
        ghosts = psql(
            "SELECT count(*) FROM audit_log a WHERE a.action = "
            "'tenant.create' AND NOT EXISTS (SELECT 1 FROM tenants t "
            "WHERE t.id = a.tenant_id)")
        self.assertEqual(ghosts, "0")
        # each update bumped the version once and wrote one row
        mismatched = psql(
            "SELECT count(*) FROM tenants t WHERE t.version - 1 <> (SELECT "
            "count(*) FROM audit_log a WHERE a.tenant_id = t.id AND "
            "a.action = 'tenant.update')")
        self.assertEqual(mismatched, "0")
        self.assertGreater(int(psql("SELECT count(*) FROM tenants")), 0)

    def test_external_postgres(self):
        pg = PgCluster().start()
        self.addCleanup(pg.stop)
        url = pg.create_database("crash")
        data = tempfile.mkdtemp(prefix="clawcrash-")
        self.addCleanup(shutil.rmtree, data, True)

        def make_cp(name):
            cp = ControlPlane(database_url=url, data_dir=data, name=name)
            self.addCleanup(cp.kill)
            return cp.start()

        self.crash_rounds(make_cp, lambda q: pg.psql(q, dbname="crash"))

    def test_embedded_postgres(self):
        top = tempfile.mkdtemp(prefix="clawcrashe-")
        os.chmod(top, 0o711)
        self.addCleanup(shutil.rmtree, top, True)
        data = os.path.join(top, "data")

        def make_cp(name):
            cp = ControlPlane(data_dir=data, name=name)
            self.addCleanup(cp.kill)
            return cp.start()

        def psql(q):
            # the embedded cluster's socket, as its superuser
            return PgCluster.psql_at(os.path.join(data, "pg-run"), 5432, q)

        self.crash_rounds(make_cp, psql, rounds=2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
