#!/usr/bin/env python3
"""bench_ha.py - the database half of issue 15's high-availability
figures: PostgreSQL failover under Patroni, and backup and restore at
size; prints figures, never asserts (bench/ha/README.md).

(a) pg: a primary and a synchronous standby under Patroni with etcd
    (clawtest.patroni, 127.0.0.1 only), the control plane's --database-url
    naming both with target_session_attrs=read-write, and --clients
    clients creating tenants, putting secrets and deploying through its
    API the whole time (clawtest.patroni.WriteLoad). The primary is killed
    --kills times, alternately its postmaster alone (PostgreSQL crashes,
    Patroni stays and hands over) and its Patroni with it (the host is
    lost: the leader key expires after --ttl); a lost member's Patroni is
    started again and each kill waits for a synchronous standby. Printed:
    kill -> standby promoted (it takes writes), the write outage (the
    first write that failed or stalled after the kill -> the first
    acknowledged one after the outage) and the writes that failed once
    the new primary took writes, per kind of kill; then every
    acknowledged write checked in the database (lost: should be 0).
(b) backup: a control plane on its embedded PostgreSQL, --tenants
    tenants with --secrets secrets each made through the API (8 clients),
    then, with the daemon running, `claw-controlplane backup` (archive
    size too), `restore` into an empty data directory, and the restored
    daemon's start; the restored tenants and secrets are counted.

The control-plane replica failover figure is bench/ha/cp_failover.py's.

Usage (root: PostgreSQL and Patroni run as the postgres user; release
build; patroni and etcd-server installed, as scripts/lib/common.sh does):
  CLAW_BUILD_DIR=build-release python3 bench/ha/bench_ha.py \\
      [--only pg|backup] [--kills 6] [--ttl 10] [--loop-wait 1] \\
      [--clients 3] [--tenants 1000] [--secrets 10]
"""

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
benchlib.harness()
from clawtest import cp as cpmod  # noqa: E402
from clawtest.cp import ControlPlane  # noqa: E402
from clawtest.patroni import PatroniCluster, WriteLoad  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402

IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}


def bench_pg(a):
    print("== PostgreSQL failover under Patroni (ttl %d s, loop_wait %d s, "
          "retry_timeout %d s, %d clients)" % (a.ttl, a.loop_wait,
                                               a.retry_timeout, a.clients),
          flush=True)
    pc = PatroniCluster(ttl=a.ttl, loop_wait=a.loop_wait,
                        retry_timeout=a.retry_timeout).start()
    cp = load = None
    figures = {False: ([], []), True: ([], [])}
    try:
        pc.psql(pc.primary(), "CREATE DATABASE claw")
        cp = ControlPlane(database_url=pc.url("claw")).start()
        load = WriteLoad(cp, clients=a.clients, deploy_body=IMG).start()
        for k in range(a.kills):
            host_lost = bool(k % 2)
            f = pc.fail_over(load, host_lost)
            what = "patroni + postmaster" if host_lost else "postmaster"
            print("kill %d (%s of pg%d): promoted pg%d%s after %.2f s, "
                  "write outage %s, %d failed after" % (
                      k + 1, what, f["old"], f["new"],
                      "" if f["new"] == f["standby"] else
                      " (NOT the synchronous standby)", f["promoted_s"],
                      "%.2f s" % f["outage_s"] if f["outage_s"] is not None
                      else "unbounded", len(f["failed_after"])), flush=True)
            figures[host_lost][0].append(f["promoted_s"])
            if f["outage_s"] is not None:
                figures[host_lost][1].append(f["outage_s"])
            if host_lost:
                pc.start_member(f["old"])
            if k + 1 < a.kills:
                pc.wait_sync()
        load.stop()
        lost = load.lost(lambda q: pc.psql(pc.primary(), q, dbname="claw"))
        for host_lost, (promo, outage) in figures.items():
            what = "host lost" if host_lost else "postmaster killed"
            if promo:
                benchlib.show("pg failover, %s: promotion" % what, promo)
            if outage:
                benchlib.show("pg failover, %s: write outage" % what, outage)
        acked = sum(1 for w in load.snapshot() if w.ok)
        print("writes %s: %d acknowledged, %d lost" % (
            sorted(load.counts().items()), acked, len(lost)), flush=True)
    finally:
        if load:
            load.stop()
        if cp:
            cp.stop()
        pc.stop()


def populate(cp, tenants, secrets, clients=8):
    """tenants tenants with secrets secrets each, through the API."""
    errors = []

    def work(k):
        c = cp.client()
        for t in range(k, tenants, clients):
            slug = "bk-%05d" % t
            r = c.post("/v1/tenants", {"slug": slug, "name": slug})
            if r.status != 201:
                errors.append(r)
                continue
            for s in range(secrets):
                r = c.put("/v1/tenants/%s/secrets/S%02d" % (slug, s),
                          {"value": os.urandom(24).hex()})
                if r.status not in (200, 201):
                    errors.append(r)
    threads = [threading.Thread(target=work, args=(k,))
               for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("populate: %d errors, first %r" % (len(errors),
                                                             errors[0]))


def timed(argv):
    t0 = time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    dt = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError("%s failed: %s" % (argv[1], r.stderr[-2000:]))
    return dt


def count(data_dir, q):
    return PgCluster.psql_at(os.path.join(data_dir, "pg-run"), 5432, q)


def bench_backup(a):
    print("== backup and restore, %d tenants x %d secrets (embedded "
          "PostgreSQL)" % (a.tenants, a.secrets), flush=True)
    tmp = tempfile.mkdtemp(prefix="clawbench-ha-")
    os.chmod(tmp, 0o711)  # traversable by the cluster's user under root
    cp = rcp = None
    try:
        key = os.path.join(tmp, "op.key")
        timed([cpmod.binary(), "backup-keygen", "--out", key])
        cp = ControlPlane(data_dir=os.path.join(tmp, "src")).start()
        t0 = time.monotonic()
        populate(cp, a.tenants, a.secrets)
        print("populated in %.1f s" % (time.monotonic() - t0), flush=True)
        archive = os.path.join(tmp, "ha.cbk")
        dt = timed([cpmod.binary(), "backup", "--out", archive, "--to-key",
                    key + ".pub", "--data-dir", cp.data_dir])
        print("backup  (daemon running): %.2f s, archive %.1f MB" % (
            dt, os.path.getsize(archive) / 1e6), flush=True)
        target = os.path.join(tmp, "restored")
        dt = timed([cpmod.binary(), "restore", "--from", archive, "--key",
                    key, "--data-dir", target])
        print("restore (empty data dir): %.2f s" % dt, flush=True)
        t0 = time.monotonic()
        rcp = ControlPlane(data_dir=target).start()
        print("restored daemon listening after %.2f s" % (
            time.monotonic() - t0), flush=True)
        print("restored: %s tenants, %s secrets" % (
            count(target, "SELECT count(*) FROM tenants"),
            count(target, "SELECT count(*) FROM secrets")), flush=True)
    finally:
        for c in (rcp, cp):
            if c:
                c.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--only", choices=("pg", "backup"))
    ap.add_argument("--kills", type=int, default=6)
    ap.add_argument("--ttl", type=int, default=10)
    ap.add_argument("--loop-wait", type=int, default=1)
    ap.add_argument("--retry-timeout", type=int, default=3)
    ap.add_argument("--clients", type=int, default=3)
    ap.add_argument("--tenants", type=int, default=1000)
    ap.add_argument("--secrets", type=int, default=10)
    a = ap.parse_args()
    if a.only in (None, "pg"):
        bench_pg(a)
    if a.only in (None, "backup"):
        bench_backup(a)


if __name__ == "__main__":
    main()
