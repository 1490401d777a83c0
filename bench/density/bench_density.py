#!/usr/bin/env python3
"""bench_density.py - how many idle tenants one node holds (issue 16,
item 5); prints figures, never asserts.

One node agent (standalone, desired state from a file: bench/e2e's Bench,
the project's gateway and runtime images, the scripted LLM container) on
the real Docker engine. Idle tenants are added in steps (cumulative,
--steps, default 25,50,100); at each step, once every tenant is healthy
and has answered one chat, it prints:

  - host memory per tenant: the fall of /proc/meminfo's MemAvailable since
    the daemons were up and no tenant ran, divided by the tenants (so the
    containerd shims, Docker's bookkeeping and the agent's state count);
  - cgroup memory per tenant (both containers' working set, as docker
    stats shows it, and their anonymous memory);
  - processes per tenant: in the tenants' cgroups, and the rise of the
    host's process count since the baseline (shims included), per tenant;
  - idle CPU over --idle-seconds (default 30): the whole host's from
    /proc/stat (other work on a shared machine counts too), and the node's
    own share: the tenants' cgroups, the node agent, dockerd, containerd
    and the shims (/proc/PID/stat), and each daemon's part of it;
  - the time to deploy the step (desired state written -> all healthy)
    and the time to first answer of a random new tenant (a chat through
    its gateway's OpenAI endpoint, answered by the runtime and the
    scripted LLM, the tenant's first request, timed once the step is
    healthy);
  - the node agent's, dockerd's and containerd's own RSS.

Everything it made is removed at the end (the agent's empty desired state,
then the containers and networks labelled claw.node=<its name>).

Usage (root, release build; the tenant images as the e2e tests build them):
  CLAW_BUILD_DIR=build-release python3 bench/density/bench_density.py \\
      [--steps 25,50,100] [--idle-seconds 30] [--probe-interval-ms N]
      [--probe-stable-interval-ms N] [--probe-stable-after-ms N]

The idle window of a step starts once its tenants' probes have slowed to
the stable interval (probe-stable-after-ms after the step is healthy);
--probe-stable-after-ms 86400000 keeps every probe at the base interval,
the agent's behaviour before stable probes (the "before" figure).
"""

import os
import random
import sys
import time
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
benchlib.harness("tests/integration/e2e",
                 "tests/integration/controlplane-fleet", "bench/e2e")
import bench_e2e  # noqa: E402
from bench_e2e import chat_ok, cgroup_dir, cpu_seconds, memory  # noqa: E402
from fleet import FleetAgent  # noqa: E402

MIB = 1024.0 * 1024.0
HZ = os.sysconf("SC_CLK_TCK")


def mem_available():
    """MemAvailable in bytes; the median of 5 reads 0.2 s apart."""
    xs = []
    for _ in range(5):
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    xs.append(int(line.split()[1]) * 1024)
        time.sleep(0.2)
    return sorted(xs)[2]


def host_cpu():
    """(busy, total) jiffies of the whole host (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def procs():
    """{pid: comm} of every process on the host."""
    out = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/comm" % p) as f:
                    out[int(p)] = f.read().strip()
            except OSError:
                pass
    return out


def proc_stat(pid):
    """(RSS MiB, CPU seconds) of pid; (0, 0) when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            v = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    return (int(v[21]) * os.sysconf("SC_PAGE_SIZE") / MIB,
            (int(v[11]) + int(v[12])) / HZ)


def daemons(agent_pid):
    """{label: [pids]} of the node's own processes."""
    by = {"node agent": [agent_pid], "dockerd": [], "containerd": [],
          "shims": []}
    for pid, comm in procs().items():
        if comm == "dockerd":
            by["dockerd"].append(pid)
        elif comm == "containerd":
            by["containerd"].append(pid)
        elif comm.startswith("containerd-shim"):
            by["shims"].append(pid)
    return by


def cgroup_pids(cid):
    d = cgroup_dir("pids", cid)
    with open(os.path.join(d, "cgroup.procs")) as f:
        return len(f.read().split())


class Density(bench_e2e.Bench):
    settle_s = 5.0  # after the chats, before the idle window

    def step(self, names, new, idle_s, base):
        """Deploy names (new: those added now) and print the figures."""
        t0 = time.monotonic()
        self.desire(names)
        self.na.wait(lambda s: sum(1 for t in s["tenants"]
                                   if t["phase"] == "healthy") ==
                     len(names), 900)
        deploy_s = time.monotonic() - t0
        pick = random.choice(new)
        port = self.na.tenant(pick)["roles"]["gateway"]["port"]
        t1 = time.monotonic()
        while not chat_ok(port):
            if time.monotonic() - t1 > 60:
                raise RuntimeError("no answer from " + pick)
            time.sleep(0.02)
        first_s = time.monotonic() - t1
        for name in new:  # each answers once: both processes did work
            if name != pick:
                chat_ok(self.na.tenant(name)["roles"]["gateway"]["port"])
        time.sleep(max(5.0, self.settle_s - (time.monotonic() - t0 -
                                             deploy_s)))
        n = len(names)
        ids = []
        for name in names:
            t = self.na.tenant(name)
            ids += [t["roles"][r]["container"] for r in ("gateway",
                                                         "runtime")]
        mem = [memory(c) for c in ids]
        in_cg = sum(cgroup_pids(c) for c in ids)
        avail = mem_available()
        nprocs = len(procs())
        own = daemons(self.na.proc.pid)
        cg0 = sum(cpu_seconds(c) for c in ids)
        own0 = {k: sum(proc_stat(p)[1] for p in ps)
                for k, ps in own.items()}
        h0 = host_cpu()
        w0 = time.monotonic()
        time.sleep(idle_s)
        wall = time.monotonic() - w0
        h1 = host_cpu()
        cg = sum(cpu_seconds(c) for c in ids) - cg0
        each = {k: sum(proc_stat(p)[1] for p in ps) - own0[k]
                for k, ps in own.items()}
        own_cpu = sum(each.values())
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
        print("step %d tenants (+%d): deployed (all healthy) in %.1f s; "
              "first answer of %s %.3f s" %
              (n, len(new), deploy_s, pick, first_s), flush=True)
        print("  host memory per tenant %.1f MiB (MemAvailable %.0f MiB "
              "lower than with no tenant)" %
              ((base["avail"] - avail) / MIB / n,
               (base["avail"] - avail) / MIB), flush=True)
        print("  cgroup memory per tenant %.1f MiB working set, %.1f MiB "
              "anonymous (both containers)" %
              (sum(m[0] for m in mem) / MIB / n,
               sum(m[1] for m in mem) / MIB / n), flush=True)
        print("  processes per tenant: %.1f in its cgroups, %.1f on the "
              "host (shims included)" %
              (in_cg / n, (nprocs - base["procs"]) / n), flush=True)
        print("  idle CPU over %.0f s: node %.1f %% of one core (tenants "
              "%.1f %%, agent+dockerd+containerd+shims %.1f %%); whole "
              "host %.1f %% of one core (load average %s)" %
              (wall, 100 * (cg + own_cpu) / wall, 100 * cg / wall,
               100 * own_cpu / wall,
               100 * os.cpu_count() * (h1[0] - h0[0]) / (h1[1] - h0[1]),
               load), flush=True)
        print("  daemons' idle CPU: " + ", ".join(
            "%s %.1f %%" % (k, 100 * v / wall) for k, v in each.items()),
            flush=True)
        print("  RSS: " + ", ".join(
            "%s %.1f MiB" % (k, sum(proc_stat(p)[0] for p in ps))
            for k, ps in own.items()) + " (shims: %d)" % len(own["shims"]),
            flush=True)


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--steps", default="25,50,100",
                    help="tenant counts, cumulative (default %(default)s)")
    ap.add_argument("--idle-seconds", type=float, default=30)
    probes = (("probe-interval-ms", 1000, "health probe interval"),
              ("probe-stable-interval-ms", 10000,
               "probe interval once a container is stable"),
              ("probe-stable-after-ms", 60000,
               "healthy time that makes a container stable"))
    for opt, dflt, what in probes:
        ap.add_argument("--" + opt, type=int, default=dflt,
                        help="the node agent's " + what)
    a = ap.parse_args()
    steps = [int(x) for x in a.steps.split(",")]
    b = Density([arg for opt, _, _ in probes for arg in
                 ("--" + opt, str(getattr(a, opt.replace("-", "_"))))])
    # the window starts once the newest tenants' probes have slowed
    if a.probe_stable_after_ms < 3600000:
        b.settle_s = a.probe_stable_after_ms / 1000.0 + \
            a.probe_stable_interval_ms / 1000.0
    try:
        time.sleep(3)
        base = {"avail": mem_available(), "procs": len(procs())}
        print("density: node agent %s on the default engine, health probes "
              "every %d ms, every %d ms once healthy for %d ms; baseline "
              "(daemons up, no tenant) MemAvailable %.0f MiB, %d processes" %
              (b.na.name, a.probe_interval_ms, a.probe_stable_interval_ms,
               a.probe_stable_after_ms, base["avail"] / MIB,
               base["procs"]), flush=True)
        names = []
        for n in steps:
            new = ["dn%03d-%s" % (i, os.urandom(2).hex())
                   for i in range(len(names), n)]
            names += new
            b.step(names, new, a.idle_seconds, base)
    finally:
        b.close()
        FleetAgent.remove_containers(types.SimpleNamespace(
            env=b.env, name=b.na.name))


if __name__ == "__main__":
    main()
