#!/usr/bin/env python3
"""bench_e2e.py - end-to-end figures of real tenants on this node (prints
figures, asserts nothing):

  1. deploy -> first chat answered, image cached, p50/p99 over N deploys:
     the clock starts at the deploy and stops when the tenant's
     OpenAI-compatible endpoint answers "echo: ..." through gateway,
     runtime and the scripted LLM container. Two ways: through the control
     plane (POST /v1/tenants/T/deploy to a node agent joined to it; the
     tenant and its secrets are made before the clock starts), and below
     it (the tenant added to a node agent's desired-state file);
  2. density: T tenants deployed at once; time until all are healthy, then
     the memory of their containers (cgroups: usage minus inactive page
     cache, as docker stats shows it, and anonymous memory) in total and
     per tenant, and the CPU all of them use together while idle over S
     seconds.

Usage (root, release build):
  CLAW_BUILD_DIR=build-release python3 bench/e2e/bench_e2e.py \
      [--deploys 20] [--tenants 50] [--idle-seconds 60] [--no-control-plane]
      [--probe-interval-ms N]
"""

import glob
import os
import secrets
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
from benchlib import pct  # noqa: E402
benchlib.harness("tests/integration/e2e",
                 "tests/integration/controlplane-fleet")
from clawtest.docker import DockerEnv, NodeAgent  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from fleet import Fleet  # noqa: E402
import outside  # noqa: E402
import stack  # noqa: E402


class Bench:
    def __init__(self, agent_args=()):
        self.env = DockerEnv()
        # every gateway joins the egress network: on an engine of
        # docker-env.sh (its pool hands out /26s) a /20 of the shared
        # subnet (up.sh takes the first two /20s), so a step of hundreds
        # of tenants does not run out of addresses
        shared = self.env.vars.get("CLAW_SHARED_SUBNET")
        if shared:
            agent_args = list(agent_args) + [
                "--egress-subnet", shared[:-len(".0.0/16")] + ".32.0/20"]
        self.images = stack.tenant_images(self.env)
        self.out = outside.Outside()
        self.api = outside.ChannelAPI(self.out, self.out.ip)
        self.na = NodeAgent(self.env, {"generation": 1, "tenants": []},
                            name="bench-e2e-" + secrets.token_hex(3),
                            extra=list(agent_args))
        self.na.start()
        self.key = "sk-bench-" + secrets.token_hex(8)
        try:
            self.llm = stack.ScriptedLLM(self.env,
                                         self.images["scripted-llm"],
                                         self.na.egress, self.key)
        except Exception:
            self.na.cleanup()  # not left running for the next bench
            self.out.close()
            raise
        self.gen = 1

    def spec(self, name):
        return stack.tenant(name, self.images, self.llm, self.key, self.api,
                            "%s:%d" % (self.out.ip, stack.MCP_PORT), [],
                            self.env.auth(), memory_mb=64)

    def desire(self, names):
        self.gen += 1
        self.na.set_desired({"generation": self.gen,
                             "tenants": [self.spec(n) for n in names]})
        return self.gen

    def empty(self):
        gen = self.desire([])
        self.na.wait(lambda s: s["desired_generation"] == gen and
                     not s["tenants"], 300)

    def close(self):
        # the LLM sits on the agent's egress network, which the agent's
        # cleanup removes only once nothing is attached
        for fn in (self.empty, self.llm.close, self.na.cleanup,
                   self.out.close):
            try:
                fn()
            except Exception as e:  # keep cleaning up
                print("cleanup: %r" % e, file=sys.stderr)

    # -------------------------------------------------------- deploy→chat
    def first_chat(self, n):
        # Warm up once: images pulled and cached on the node.
        self.deploy_and_chat("bench-warm-" + secrets.token_hex(2))
        times = []
        for i in range(n):
            name = "bench-d%d-%s" % (i, secrets.token_hex(2))
            times.append(self.deploy_and_chat(name))
            print("  deploy %2d: %.3f s" % (i + 1, times[-1]), flush=True)
        return times

    def deploy_and_chat(self, name):
        t0 = time.monotonic()
        self.desire([name])
        port = None
        while True:
            if port is None:
                t = self.na.tenant(name)
                port = (t or {}).get("roles", {}).get("gateway", {}).get(
                    "port")
            if port and chat_ok(port):
                break
            if time.monotonic() - t0 > 120:
                raise RuntimeError("no answer from %s: %r" %
                                   (name, self.na.tenant(name)))
            time.sleep(0.02)
        dt = time.monotonic() - t0
        self.empty()
        return dt

    # ------------------------------------------------------------ density
    def density(self, n, idle_s):
        names = ["bench-n%02d-%s" % (i, secrets.token_hex(2))
                 for i in range(n)]
        t0 = time.monotonic()
        self.desire(names)
        self.na.wait(lambda s: sum(1 for t in s["tenants"]
                                   if t["phase"] == "healthy") == n, 900)
        healthy_s = time.monotonic() - t0
        # Each tenant answers once, so both processes did real work.
        for name in names:
            port = self.na.tenant(name)["roles"]["gateway"]["port"]
            stack.GatewayClient(port).chat_text("hello")
        time.sleep(5)
        ids = {}
        for name in names:
            t = self.na.tenant(name)
            for role in ("gateway", "runtime"):
                ids[(name, role)] = t["roles"][role]["container"]
        mem = {k: memory(v) for k, v in ids.items()}
        cpu0 = {k: cpu_seconds(v) for k, v in ids.items()}
        w0 = time.monotonic()
        time.sleep(idle_s)
        wall = time.monotonic() - w0
        cpu1 = {k: cpu_seconds(v) for k, v in ids.items()}
        idle_cpu = sum(cpu1[k] - cpu0[k] for k in ids) / wall
        return healthy_s, mem, idle_cpu


def cp_first_chat(env, images, n):
    """Deploy -> first chat through the control plane, n tenants."""
    pg = PgCluster().start()
    fl = llm = None
    try:
        fl = Fleet(pg, env, gateway_image=images["gateway"],
                   runtime_image=images["runtime"])
        agent = fl.agent(env, "bench-cp-" + secrets.token_hex(3))
        key = "sk-bench-" + secrets.token_hex(8)
        llm = stack.ScriptedLLM(env, images["scripted-llm"], agent.egress,
                                key)
        times = []
        for i in range(n + 1):  # the first one warms the node up
            slug = "bench-cp%d-%s" % (i, secrets.token_hex(2))
            fl.tenant(slug)
            for name, v in (("llm_api_key", key),
                            ("openai_api_token", stack.OPENAI_TOKEN)):
                fl.admin.put("/v1/tenants/%s/secrets/%s" % (slug, name),
                             {"value": v})
            body = {"gateway_config": {
                "tenant": slug, "egress_allow": [llm.hostport],
                "channels": {"openai": {}}},
                "runtime_config": stack.runtime_config(slug, llm, []),
                "secrets": {"gateway": ["openai_api_token"],
                            "runtime": ["llm_api_key"]}}
            t0 = time.monotonic()
            fl.deploy(slug, body)
            port = None
            while True:
                if port is None:
                    p = fl.placement(slug).get("observed") or {}
                    port = p.get("roles", {}).get("gateway", {}).get("port")
                if port and chat_ok(port):
                    break
                if time.monotonic() - t0 > 120:
                    raise RuntimeError("no answer from %s" % slug)
                time.sleep(0.02)
            if i:
                times.append(time.monotonic() - t0)
                print("  deploy %2d: %.3f s" % (i, times[-1]), flush=True)
            fl.admin.delete("/v1/tenants/%s/deployment" % slug)
            fl.wait(lambda: not agent.running(slug), 60, "undeployed")
        return times
    finally:
        if llm:
            llm.close()
        if fl:
            fl.close()
        pg.stop()


def chat_ok(port):
    try:
        return stack.GatewayClient(port).chat_text(
            "ping", timeout=10) == "echo: ping"
    except (OSError, AssertionError, ValueError):
        return False


def cgroup_dir(controller, cid):
    """The container's cgroup directory (v1 cgroupfs, v2 cgroupfs or
    systemd)."""
    for pat in ("/sys/fs/cgroup/%s/docker/%s" % (controller, cid),
                "/sys/fs/cgroup/docker/%s" % cid,
                "/sys/fs/cgroup/system.slice/docker-%s.scope" % cid):
        for d in glob.glob(pat):
            return d
    raise RuntimeError("no cgroup for container %s" % cid)


def _stat(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, v = line.split()
            out[k] = int(v)
    return out


def memory(cid):
    """(working set as docker stats shows it, anonymous memory) in bytes."""
    d = cgroup_dir("memory", cid)
    if os.path.exists(os.path.join(d, "memory.current")):  # v2
        with open(os.path.join(d, "memory.current")) as f:
            usage = int(f.read())
        st = _stat(os.path.join(d, "memory.stat"))
        return usage - st.get("inactive_file", 0), st.get("anon", 0)
    with open(os.path.join(d, "memory.usage_in_bytes")) as f:
        usage = int(f.read())
    st = _stat(os.path.join(d, "memory.stat"))
    return usage - st.get("total_inactive_file", 0), st.get("total_rss", 0)


def cpu_seconds(cid):
    d = cgroup_dir("cpuacct", cid)
    if os.path.exists(os.path.join(d, "cpu.stat")) and \
            not os.path.exists(os.path.join(d, "cpuacct.usage")):  # v2
        return _stat(os.path.join(d, "cpu.stat"))["usage_usec"] / 1e6
    with open(os.path.join(d, "cpuacct.usage")) as f:
        return int(f.read()) / 1e9


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--deploys", type=int, default=20)
    ap.add_argument("--tenants", type=int, default=50)
    ap.add_argument("--idle-seconds", type=float, default=60)
    ap.add_argument("--no-control-plane", action="store_true",
                    help="skip the deploys through the control plane")
    ap.add_argument("--probe-interval-ms", type=int,
                    help="the node agent's health probe interval (its "
                    "probes are most of the idle CPU)")
    a = ap.parse_args()
    b = Bench(["--probe-interval-ms", str(a.probe_interval_ms)]
              if a.probe_interval_ms else [])
    try:
        if a.deploys and not a.no_control_plane:
            print("deploy through the control plane -> first chat answered "
                  "(image cached), %d deploys:" % a.deploys, flush=True)
            ts = cp_first_chat(b.env, b.images, a.deploys)
            print("  %s  (target p50 <= 1.5 s)" % benchlib.spread(ts))
        if a.deploys:
            print("deploy below the control plane (desired-state file) -> "
                  "first chat answered (image cached), %d deploys:" %
                  a.deploys, flush=True)
            ts = b.first_chat(a.deploys)
            print("  %s  (target p50 <= 1.5 s)" % benchlib.spread(ts))
        print("density: %d tenants deployed at once (health probes every "
              "%s)" % (a.tenants, "%d ms" % a.probe_interval_ms
                       if a.probe_interval_ms else "1000 ms, the default"),
              flush=True)
        healthy_s, mem, cpu = b.density(a.tenants, a.idle_seconds)
        ws = sum(v[0] for v in mem.values())
        anon = sum(v[1] for v in mem.values())
        mib = 1024.0 * 1024.0
        print("  all healthy after %.1f s" % healthy_s)
        for role in ("gateway", "runtime"):
            r = [v for k, v in mem.items() if k[1] == role]
            print("  %-8s working set p50 %.1f MiB (anon %.1f MiB)" % (
                role, pct([x[0] for x in r], 50) / mib,
                pct([x[1] for x in r], 50) / mib))
        print("  memory total %.1f MiB working set (%.1f MiB anon); per "
              "tenant %.1f MiB (%.1f MiB anon)  (target <= 16 MB)" % (
                  ws / mib, anon / mib, ws / mib / a.tenants,
                  anon / mib / a.tenants))
        print("  idle CPU of all %d tenants over %.0f s: %.2f %% of one core"
              "  (target < 5 %%)" % (a.tenants, a.idle_seconds, cpu * 100))
    finally:
        b.close()


if __name__ == "__main__":
    main()
