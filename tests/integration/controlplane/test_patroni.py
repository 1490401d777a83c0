"""test_patroni - the control plane through PostgreSQL failovers under
Patroni (issue 15, item 5; docs/operations.md, "PostgreSQL under
Patroni").

A primary and a synchronous standby under Patroni, with etcd, all on
127.0.0.1 (clawtest.patroni). The control plane's --database-url names
both hosts with target_session_attrs=read-write, as an operator would.
Three clients create tenants, put secrets and deploy through its API the
whole time (clawtest.patroni.WriteLoad), while the primary fails twice:

1. its postmaster is SIGKILLed (PostgreSQL crashes, its Patroni lives:
   with primary_start_timeout 0 it hands over at once, unless it finds
   the standby lagging or its REST API slow on a loaded machine: then it
   restarts PostgreSQL and the harness kills it again, clawtest.patroni);
2. once the old primary is back as the synchronous standby, the new
   primary's Patroni and then its postmaster are SIGKILLed (the host is
   lost: the leader key expires after ttl).

Each time the synchronous standby is promoted, and the control plane
writes again on it with no restart: libpq finds the new read-write host,
and no write that starts once it takes writes fails (when the pool finds
one connection broken it closes the idle ones too, which led to the dead
primary: lib/src/db.c). At the end every write answered 2xx, before,
during or after a failover, is in the database: each tenant by slug, each
secret by tenant and name, each deployment by id (and the check reports a
write that is not there); the API still serves every acknowledged tenant;
and the sweeper reconnected as well: a node joins and the tenants deployed
while there was none are placed on it, which only its sweep does (it used
to keep a connection to the dead primary and never sweep again:
controlplane/scheduler.c). The write outage of each failover is printed
(not asserted: it is a measurement; bench/ha/bench_ha.py repeats it).
"""

import os
import sys
import unittest

from clawtest.cp import ControlPlane
from clawtest.patroni import PatroniCluster, Write, WriteLoad, available
from clawtest.proc import wait_for
from common import stop_clean_with_pg

sys.path.insert(0, os.path.join(os.environ.get("CLAW_SOURCE_DIR", "."),
                                "tests", "integration", "cli"))
from fakenode import FakeNode  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
DB = "claw"


class PatroniFailoverTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        missing = available()
        if missing:
            raise RuntimeError("not installed: %s (apt-get install patroni "
                               "etcd-server; scripts/lib/common.sh does)"
                               % missing)
        cls.pc = PatroniCluster().start()
        cls.cp = None
        try:
            cls.pc.psql(cls.pc.primary(), "CREATE DATABASE %s" % DB)
            cls.cp = ControlPlane(database_url=cls.pc.url(DB)).start()
        except BaseException:
            cls.pc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        stop_clean_with_pg(cls.cp, cls.pc)

    def sql(self, q):
        return self.pc.psql(self.pc.primary(), q, dbname=DB)

    def test_failover_under_writes_loses_no_acknowledged_write(self):
        load = WriteLoad(self.cp, clients=3, deploy_body=IMG).start()
        try:
            figures = []
            for host_lost in (False, True):
                f = self.pc.fail_over(load, host_lost)
                self.assertEqual(f["new"], f["standby"],
                                 "the synchronous standby is promoted")
                # the control plane wrote again on the new primary, and
                # no write failed once it took writes: the pool kept no
                # connection to the dead one
                self.assertIsNotNone(f["outage_s"])
                self.assertEqual(f["failed_after"], [])
                figures.append((host_lost, f["promoted_s"], f["outage_s"],
                                f["kills"]))
                if not host_lost:
                    # the old primary rejoins as the synchronous standby
                    self.pc.wait_sync()
        finally:
            load.stop()
        lost = load.lost(self.sql)
        acked = [w for w in load.snapshot() if w.ok]
        for host_lost, promo, outage, kills in figures:
            print("patroni failover (%s killed, %d time(s)): promoted "
                  "after %.1f s, write outage %.1f s" % (
                      "patroni + postmaster" if host_lost else "postmaster",
                      kills, promo, outage), file=sys.stderr)
        print("writes: %s; %d acknowledged, %d lost" % (
            sorted(load.counts().items()), len(acked), len(lost)),
            file=sys.stderr)
        self.assertEqual(lost, [], "acknowledged writes lost")
        # and the check sees an acknowledged write that is not there
        ghost = Write("secret", "%s-0-0/K1" % load.prefix, 0.0)
        ghost.status = 201
        load.writes.append(ghost)
        self.assertEqual(load.lost(self.sql), [ghost])
        self.assertGreater(len([w for w in acked if w.kind == "deploy"]), 0)
        self.assertGreater(len([w for w in acked if w.kind == "secret"]), 0)
        client = self.cp.client()
        for w in acked:
            if w.kind == "tenant":
                r = client.get("/v1/tenants/" + w.key)
                self.assertEqual(r.status, 200, (w, r))
        self.check_sweeps_run(client, acked)

    def check_sweeps_run(self, client, acked):
        """The sweeper reconnected too: the tenants deployed while no node
        existed are homeless, and only its sweep places them once a node
        joins (before the fix it kept a connection to the dead primary
        and never swept again)."""
        r = client.post("/v1/nodes/join-tokens", {})
        self.assertEqual(r.status, 201, r)
        node = FakeNode(self.cp.url, r.json()["token"], "patroni-node")
        stop = node.autopilot()
        self.addCleanup(stop.set)
        deployed = {w.tenant for w in acked if w.kind == "deploy"}

        def placed():
            out = self.sql("SELECT t.slug FROM placements p JOIN tenants t "
                           "ON t.id = p.tenant_id WHERE p.node_id = '%s'"
                           % node.id).split()
            return set(out) & deployed
        wait_for(placed, timeout=60, interval=0.2,
                 what="homeless tenants placed by the sweep")


if __name__ == "__main__":
    unittest.main()
