"""replicas - control-plane replicas over one PostgreSQL, for
test_replicas.py and bench/ha/cp_failover.py: start them, find the one
that holds the sweep lock, kill it, and time how long until a deploy that
only a sweep can place (its tenant waited homeless for a node) is placed
and healthy through another replica.

    cl = Replicas(pg, "dbname", n=3).start()
    leader = cl.leader()              # the ControlPlane that sweeps now
    cl.homeless(cp, [node.id], "slug")  # deployed, every node cordoned
    secs, dead, other = cl.failover(node, "slug")  # SIGKILL the leader
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.normpath(os.path.join(HERE, "..", "cli")))
from clawtest.cp import ControlPlane  # noqa: E402
from clawtest.http import Client  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from fakenode import FakeNode  # noqa: E402

LEADS = "this replica runs the scheduler and health sweeps"
IMAGES = {"gateway_image": "registry.test/gw:1",
          "runtime_image": "registry.test/rt:1"}


class Replicas:
    def __init__(self, pg, dbname, n=3, extra_args=()):
        self.url = pg.create_database(dbname)
        # replicas share the master key (it wraps the tenants' data keys)
        self.env = {"CLAW_MASTER_KEY": os.urandom(32).hex()}
        self.extra = ["--heartbeat-ms", "500", "--sweep-ms", "200"] + \
            list(extra_args)
        self.cps = [ControlPlane(database_url=self.url, name="cp%d" % i,
                                 env=self.env, extra_args=self.extra)
                    for i in range(n)]
        self.token = None

    def start(self):
        # the first makes the admin token; the others share it
        for cp in self.cps:
            cp.start()
        self.token = self.cps[0].admin_token
        return self

    def add(self):
        """One more replica (after a kill: the fleet keeps its count)."""
        cp = ControlPlane(database_url=self.url,
                          name="cp%d" % len(self.cps), env=self.env,
                          extra_args=self.extra).start()
        self.cps.append(cp)
        return cp

    def alive(self):
        return [cp for cp in self.cps if cp.daemon.running()]

    def client(self, cp):
        return Client(cp.url, self.token)

    def join(self, cp, name):
        r = self.client(cp).post("/v1/nodes/join-tokens", {"ttl_s": 600})
        assert r.status == 201, r
        return FakeNode(cp.url, r.json()["token"], name)

    def leader(self, timeout=60):
        """The live replica that holds the sweep lock (its log says so
        last: a replica that lost it says so too, and is dead)."""
        def find():
            live = [cp for cp in self.alive()
                    if LEADS in cp.daemon.log_text()]
            return live[0] if len(live) == 1 else None
        return wait_for(find, timeout, interval=0.1, what="a sweep leader")

    def stop(self):
        for cp in self.cps:
            if cp.daemon.running():
                cp.stop_clean()
            else:
                cp.stop()

    def homeless(self, cp, node_ids, slug):
        """A tenant deployed while every node of node_ids is cordoned: it
        waits, placed nowhere, until a sweep places it."""
        c = self.client(cp)
        for n in node_ids:
            assert c.post("/v1/nodes/%s/cordon" % n, {}).status == 200
        r = c.post("/v1/tenants", {"slug": slug, "name": slug})
        assert r.status == 201, r
        r = c.post("/v1/tenants/%s/deploy" % slug, IMAGES)
        assert r.status == 202, r

    def failover(self, node, slug, before_kill=None, timeout=60):
        """SIGKILL the sweep leader while slug waits homeless (homeless()),
        uncordon node through another replica, and return the seconds
        from the kill until slug is placed on node and healthy (a sweep of
        another replica placed it), with the leader and that replica.
        before_kill(leader, other) runs just before the kill."""
        leader = self.leader()
        other = [cp for cp in self.alive() if cp is not leader][0]
        c = self.client(other)
        if before_kill:
            before_kill(leader, other)
        t0 = time.monotonic()
        leader.kill()
        assert c.post("/v1/nodes/%s/uncordon" % node.id,
                      {}).status == 200

        def healthy():
            r = c.get("/v1/tenants/%s/placement" % slug)
            j = r.json() if r.status == 200 else {}
            return j.get("node_name") == node.name and \
                j.get("phase") == "healthy"
        wait_for(healthy, timeout, interval=0.05,
                 what=slug + " placed after the failover")
        return time.monotonic() - t0, leader, other
