#!/usr/bin/env python3
"""cp_failover.py - prints (never asserts) the control plane's replica
failover time on this machine: three replicas over one PostgreSQL; N times,
the replica holding the sweep lock is killed (SIGKILL) while a tenant waits
homeless for a node (every node cordoned), the node is uncordoned through
another replica, and the time from the kill until that tenant is placed by
another replica's sweep and healthy is taken. A fresh replica replaces
each one killed, so every kill is of one of three. Target: 10 s.

Run from the source tree after a build:
  CLAW_BUILD_DIR=build python3 bench/ha/cp_failover.py [N]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
benchlib.harness("tests/integration/controlplane")
from replicas import Replicas  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402


def main():
    n = benchlib.parser(__doc__, count=5).parse_args().n
    pg = PgCluster().start()
    cl = None
    stops = []
    try:
        cl = Replicas(pg, "bench_failover", n=3).start()
        times, nodes = [], []
        for i in range(n):
            other = [cp for cp in cl.alive() if cp is not cl.leader()][0]
            node = cl.join(other, "bf-node-%d" % i)
            stops.append(node.autopilot(interval=0.05))
            nodes.append(node.id)  # the earlier ones stay cordoned
            cl.homeless(other, nodes, "bf-home-%d" % i)
            secs, dead, _ = cl.failover(node, "bf-home-%d" % i)
            print("kill %d: %s killed, sweeps now on %s: %.3f s" %
                  (i + 1, dead.daemon.name, cl.leader().daemon.name, secs),
                  flush=True)
            times.append(secs)
            stops.pop().set()  # its replica may be the next one killed
            cl.add()
        benchlib.show("replica failover (kill to placed, target 10 s)",
                      times)
    finally:
        for s in stops:
            s.set()
        if cl:
            cl.stop()
        pg.stop()


if __name__ == "__main__":
    main()
