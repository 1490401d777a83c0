#!/usr/bin/env python3
"""bench_node_agent.py - prints figures (never asserts) for the node agent
on this machine, the image cached:

  1. deploy to healthy over N deploys (p50/p99), beside a plain `docker run`
     of the same image to a healthy /healthz (the floor);
  2. recovery from `docker kill` of a runtime to healthy again (p50/p99);
  3. node loss with 20 tenants: node A's agent and containers vanish, its
     tenants are handed to node B (its own dockerd); time to all healthy.
     Agent side only: without the control plane, the heartbeat grace that
     detects the loss (3 intervals) is not included.

Tenants are deployed with "min_ready_ms": 0: the readiness window (2 s by
default) is a wait the operator chooses, not work, and would hide the rest;
the gateway-first start order (the runtime starts once the gateway's proxy
answers) is included.

Run from the source tree after a build:
  CLAW_BUILD_DIR=build python3 bench/node-agent/bench_node_agent.py [N]
"""

import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
from benchlib import show  # noqa: E402
benchlib.harness()
from clawtest.docker import (HEALTHSRV, DockerEnv, NodeAgent,  # noqa: E402
                             tenant_spec)


def spec(name, image, **kw):
    """tenant_spec without the readiness window (see above)."""
    t = tenant_spec(name, image, image, **kw)
    t["min_ready_ms"] = 0
    return t


def main():
    n = benchlib.parser(__doc__, count=20).parse_args().n
    env = DockerEnv()
    image = env.build_image(HEALTHSRV, "claw-test/healthsrv:bench")
    print("node agent benchmark; image %s (cached)" % image)
    show("plain docker run to healthy (floor)",
         benchlib.plain_docker_run(env, image, n, "claw-bench"))

    na = NodeAgent(env, {"generation": 0, "tenants": []},
                   name="bench-a-" + secrets.token_hex(2)).start()
    specs, deploy = [], []
    try:
        for i in range(n):
            name = "bench-%d-%s" % (i, secrets.token_hex(2))
            specs.append(spec(name, image))
            t0 = time.time()
            na.set_desired({"generation": i + 1, "tenants": specs})
            na.wait_healthy(name, 60)
            deploy.append(time.time() - t0)
        show("deploy to healthy (gateway + runtime)", deploy)

        rec = []
        for s in specs[:10]:
            name = s["tenant"]
            before = na.tenant(name)["roles"]["runtime"]["restarts"]
            t0 = time.time()
            env.docker("kill", "claw-%s-runtime" % name)
            na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                           t["roles"]["runtime"]["restarts"] > before, 60)
            rec.append(time.time() - t0)
        show("recovery from docker kill to healthy", rec)

        env_b = DockerEnv("bench-b")
        nb = NodeAgent(env_b, {"generation": 0, "tenants": []},
                       name="bench-b-" + secrets.token_hex(2)).start()
        try:
            # Warm node B's image cache as a fleet node would have it.
            nb.set_desired({"generation": 1, "tenants": [
                spec("warm", image, auth=env.auth())]})
            nb.wait_healthy("warm", 120)
            specs = specs[:20]
            # Node A is lost: its agent stops, its containers die.
            na.stop()
            for s in specs:
                env.docker("rm", "-f", "claw-%s-runtime" % s["tenant"],
                           "claw-%s-gateway" % s["tenant"], check=False)
            t0 = time.time()
            nb.set_desired({"generation": 2, "tenants": specs})
            nb.wait(lambda st: sum(1 for t in st["tenants"]
                                   if t["phase"] == "healthy") ==
                    len(specs) and len(st["tenants"]) == len(specs), 300)
            print("%-44s %d tenants, all healthy in %.3f s" %
                  ("node loss: tenants healthy on node B",
                   len(specs), time.time() - t0))
        finally:
            nb.cleanup()
            env_b.stop_engine()
    finally:
        if not na.proc:
            na.set_desired({"generation": 0, "tenants": []})
            na.start()
        na.cleanup()


if __name__ == "__main__":
    main()
