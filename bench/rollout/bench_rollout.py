#!/usr/bin/env python3
"""bench_rollout.py - prints figures (never asserts) for fleet rollouts on
this machine, the image cached: control plane (real PostgreSQL) + one node
agent joined to it + the real dockerd and local registry.

N tenants (default 50) are deployed and healthy; then, in the same run:

  1. the floor: N sequential deploys to the new image, each waited for
     until healthy before the next (what one `clawctl deploy` per tenant
     gives);
  2. a rollout of all N to another image at max_unavailable 5;
  3. the same at max_unavailable 10.

Each is timed from the first request to the last tenant healthy (the
rollout's "completed", as the API reports it). The "new images" are
further tags of the same image, so pulls are cached and the figures are
the platform's own time.

Run from the source tree after a build (claw-controlplane, claw-node-agent,
na-healthsrv):
  CLAW_BUILD_DIR=build python3 bench/rollout/bench_rollout.py [N]
"""

import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
benchlib.harness("tests/integration/controlplane-fleet")
from clawtest.docker import HEALTHSRV, DockerEnv  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from fleet import Fleet  # noqa: E402

PLAN = {"plan": {"cpus_milli": 50, "memory_mb": 64, "pids": 64}}
REPO = "claw-test/healthsrv"


def tag_of(env, name):
    """A further tag of the bench image, by tag in the local registry."""
    env.build_image(HEALTHSRV, "%s:%s" % (REPO, name))
    return "%s/%s:%s" % (env.registry, REPO, name)


def sequential(fleet, slugs, image):
    t0 = time.time()
    for s in slugs:
        dep = fleet.deploy(s, dict(PLAN, gateway_image=image,
                                   runtime_image=image))
        while fleet.dep(s, dep["id"])["phase"] not in ("healthy", "failed"):
            time.sleep(0.02)
    return time.time() - t0


def rollout(fleet, group, image, max_unavailable):
    t0 = time.time()
    r = fleet.admin.post("/v1/rollouts", {
        "selector": {"labels": {"group": group}},
        "images": {"gateway": image, "runtime": image},
        "max_unavailable": max_unavailable})
    assert r.status == 201, r
    rid = r.json()["id"]
    while True:
        ro = fleet.admin.get("/v1/rollouts/" + rid).json()
        if ro["state"] != "running":
            break
        time.sleep(0.05)
    return time.time() - t0, ro


def main():
    n = benchlib.parser(__doc__, count=50).parse_args().n
    env = DockerEnv()
    run = secrets.token_hex(2)
    base = tag_of(env, "bench-ro-0-" + run)
    print("rollout benchmark: %d tenants, one node; images are tags of "
          "one cached image" % n, flush=True)
    pg = PgCluster().start()
    # a generous heartbeat grace: a 2-core machine starting 100
    # containers must not lose its node (that is bench_fleet's figure)
    fleet = Fleet(pg, env, gateway_image=base, runtime_image=base,
                  extra=["--node-grace-intervals", "40"])
    try:
        fleet.agent(env, "bench-ro-" + run)
        group = "bench-" + run
        slugs = []
        for i in range(n):  # seeded in waves of 10
            s = "br-%d-%s" % (i, run)
            r = fleet.admin.post("/v1/tenants", {
                "slug": s, "name": s, "labels": {"group": group}})
            assert r.status == 201, r
            fleet.deploy(s, PLAN)
            slugs.append(s)
            if len(slugs) % 10 == 0 or len(slugs) == n:
                fleet.wait(lambda: all(
                    fleet.placement(x)["phase"] == "healthy"
                    for x in slugs), 900, "seeded tenants healthy")
        secs = sequential(fleet, slugs, tag_of(env, "bench-ro-1-" + run))
        print("%-44s %7.1f s  (%.2f s a tenant)" % (
            "%d sequential deploys (floor)" % n, secs, secs / n),
            flush=True)
        for mu, name in ((5, "bench-ro-2-"), (10, "bench-ro-3-")):
            secs, ro = rollout(fleet, group, tag_of(env, name + run), mu)
            print("%-44s %7.1f s  (%s, %d batches, %d ok, %d failed)" % (
                "rollout of %d, max_unavailable %d" % (n, mu), secs,
                ro["state"], ro["batch"], ro["succeeded"], ro["failed"]),
                flush=True)
    finally:
        fleet.close()
        pg.stop()


if __name__ == "__main__":
    main()
