#!/usr/bin/env python3
"""bench_fleet.py - prints figures (never asserts) for the whole fleet path
on this machine, the image cached: control plane (real PostgreSQL) + node
agents joined to it + real dockerd engines.

  1. one-click deploy to healthy over N deploys (POST .../deploy to the
     deployment's phase "healthy" as the API reports it), p50/p99, beside
     a plain `docker run` of the same image to a healthy /healthz (floor);
  2. node loss with 20 tenants: node A's agent is killed (SIGKILL), its
     tenants are placed on node B (its own dockerd); time from the kill to
     all 20 healthy on B, heartbeat grace (3 x 500 ms) included.

Run from the source tree after a build:
  CLAW_BUILD_DIR=build python3 bench/controlplane-fleet/bench_fleet.py [N]
"""

import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
from benchlib import show  # noqa: E402
benchlib.harness("tests/integration/controlplane-fleet")
from clawtest.docker import HEALTHSRV, DockerEnv  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from fleet import Fleet  # noqa: E402

W = 46  # the label column


def main():
    n = benchlib.parser(__doc__, count=20).parse_args().n
    env_a = DockerEnv()
    image = env_a.build_image(HEALTHSRV, "claw-test/healthsrv:bench-fleet")
    print("fleet benchmark; image %s (cached)" % image, flush=True)
    show("plain docker run to healthy (floor)",
         benchlib.plain_docker_run(env_a, image, n, "claw-benchf"), W)
    env_b = DockerEnv("node2")
    pg = PgCluster().start()
    fleet = Fleet(pg, env_a, gateway_image=image, runtime_image=image)
    try:
        a = fleet.agent(env_a, "bench-a-" + secrets.token_hex(2))
        times, slugs = [], []
        for i in range(n):
            slug = "bf-%d-%s" % (i, secrets.token_hex(2))
            fleet.tenant(slug)
            slugs.append(slug)
            t0 = time.time()
            dep = fleet.deploy(slug, {"plan": {"memory_mb": 64,
                                               "pids": 64}})
            while fleet.dep(slug, dep["id"])["phase"] != "healthy":
                time.sleep(0.01)
            times.append(time.time() - t0)
        show("one-click deploy to healthy (API phase)", times, W)

        b = fleet.agent(env_b, "bench-b-" + secrets.token_hex(2))
        fleet.admin.post("/v1/nodes/%s/cordon" % b.name)
        while len(slugs) < 20:
            slug = "bf-%d-%s" % (len(slugs), secrets.token_hex(2))
            fleet.tenant(slug)
            fleet.deploy(slug, {"plan": {"memory_mb": 64, "pids": 64}})
            slugs.append(slug)
        fleet.wait(lambda: all(fleet.placement(s)["phase"] == "healthy"
                               for s in slugs), 300, "all healthy on A")
        fleet.admin.post("/v1/nodes/%s/uncordon" % b.name)
        on_a = slugs
        t0 = time.time()
        a.kill()
        fleet.wait(lambda: all(
            (lambda p: p["node_name"] == b.name and p["phase"] == "healthy")(
                fleet.placement(s)) for s in on_a), 600, "moved")
        print("node loss: %d tenants from A healthy on B in %.2f s "
              "(detection grace 1.5 s included)" %
              (len(on_a), time.time() - t0), flush=True)
        a.remove_containers()
    finally:
        fleet.close()
        pg.stop()
        env_b.stop_engine()


if __name__ == "__main__":
    main()
