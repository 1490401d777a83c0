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
import statistics
import sys
import time

SRC = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
os.environ.setdefault("CLAW_SOURCE_DIR", SRC)
os.environ.setdefault("CLAW_BUILD_DIR", os.path.join(SRC, "build"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration",
                                "controlplane-fleet"))
from clawtest.docker import BUILD, DockerEnv, http_get  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from fleet import Fleet  # noqa: E402


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def show(label, xs):
    print("%-46s n=%-3d p50=%6.3f s  p99=%6.3f s  mean=%6.3f s" %
          (label, len(xs), pct(xs, 50), pct(xs, 99), statistics.mean(xs)),
          flush=True)


def plain_docker_run(env, image, n):
    out = []
    net = "claw-benchf-" + secrets.token_hex(3)
    env.docker("network", "create", net)
    try:
        for i in range(n):
            name = "claw-benchf-plain-%d-%s" % (i, secrets.token_hex(2))
            t0 = time.time()
            env.docker("run", "-d", "--name", name, "--network", net, image)
            ip = env.inspect(name)["NetworkSettings"]["Networks"][net][
                "IPAddress"]
            while http_get("http://%s:8081/healthz" % ip, 1)[0] != 200:
                time.sleep(0.005)
            out.append(time.time() - t0)
            env.docker("rm", "-f", name)
    finally:
        env.docker("network", "rm", net, check=False)
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    env_a = DockerEnv()
    binary = os.path.join(BUILD, "tests", "integration", "node-agent",
                          "na-healthsrv")
    image = env_a.build_image(binary, "claw-test/healthsrv:bench-fleet")
    print("fleet benchmark; image %s (cached)" % image, flush=True)
    show("plain docker run to healthy (floor)",
         plain_docker_run(env_a, image, n))
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
        show("one-click deploy to healthy (API phase)", times)

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
