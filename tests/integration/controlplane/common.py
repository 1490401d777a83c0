"""common - set-up shared by the control plane's integration tests: one
PostgreSQL cluster per test module, a fresh database per control plane."""

import itertools
import unittest

from clawtest.cp import ControlPlane
from clawtest.pg import PgCluster

_db_names = itertools.count(1)


def stop_clean_with_pg(cp, pg):
    """Stop cp asserting a clean exit (no sanitizer report, no leak),
    then pg whatever happened: the tear-down of clawtest.cp.with_pg."""
    try:
        cp.stop_clean()
    finally:
        pg.stop()


class CpTestCase(unittest.TestCase):
    """A PgCluster for the class and one ControlPlane on a fresh database."""

    pg = None
    cp = None

    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        cls.db = "cp%d" % next(_db_names)
        cls.db_url = cls.pg.create_database(cls.db)
        cls.cp = ControlPlane(database_url=cls.db_url).start()
        cls.admin = cls.cp.client()

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.cp:
                # a clean exit: no sanitizer report, no leak
                cls.cp.stop_clean()
        finally:
            if cls.pg:
                cls.pg.stop()

    def sql(self, q):
        return self.pg.psql(q, dbname=self.db)

    def make_tenant(self, slug, name=None):
        r = self.admin.post("/v1/tenants", {"slug": slug,
                                            "name": name or slug.title()})
        self.assertEqual(r.status, 201, r)
        return r.json()

    def assertError(self, r, status, code=None):
        self.assertEqual(r.status, status, r)
        j = r.json()
        self.assertEqual(set(j), {"error"})
        self.assertEqual(set(j["error"]), {"code", "message", "request_id"})
        self.assertEqual(j["error"]["request_id"], r.headers["X-Request-Id"])
        if code:
            self.assertEqual(j["error"]["code"], code, r)
