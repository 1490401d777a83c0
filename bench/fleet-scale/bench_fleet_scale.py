#!/usr/bin/env python3
"""bench_fleet_scale.py - one real control plane against thousands of
simulated node agents (issue 16, item 6); prints figures, never asserts.

Each simulated node plays the agent API as node-agent/source_cp.c does,
and nothing else (no Docker): it joins with a single-use join token, then
keeps two keep-alive HTTP/1.1 connections like the agent's two threads: one
long-polls GET /v1/agent/assignments?generation=N&wait=S, the other sends
POST /v1/agent/heartbeat every --heartbeat-ms and, when an assignment
arrives, POST /v1/agent/status reporting every tenant it was given as
healthy (the agent's whole snapshot). A connection that fails is opened
again after a short back-off, as the agent's retries do. The nodes connect
from --sources loopback addresses (127.0.0.2 ...), so the control plane's
per-address limit counts them as the separate hosts they stand for. With
--short-reports, heartbeats and status reports each go on a new connection
(Connection: close): a node then holds one server slot, its long poll.
The first --edge-nodes nodes (default 0) long-poll with edge=1, as agents
that run an edge do, so edge changes wake them too; the others, like a node
without an edge, are woken by their own tenants' changes only.

Steps (--steps, default 500,1000,2000; N:T gives step N T tenants per
node instead of --tenants-per-node, default 10), each on a fresh control
plane and database: the N nodes join and heartbeat; N x T tenants are
created and deployed (each node reports the capacity of exactly T default
plans, so T land on each) before any node long-polls, so the placements
are not slowed by the long polls' wake-ups; then every node's poller
starts at once (as after a control plane restart) and the bench waits
until each holds its tenants, then --settle seconds (default 3: the
start-up's status reports land; a minute or more shows the steady state
rather than the start-up's tail). Then, over --window seconds, it prints the
control plane's threads, RSS and CPU (/proc/PID), heartbeats/s answered
200 (status reports, which the agent counts as heartbeats, beside them),
long polls answered, failed calls, the nodes the control plane marked down
(its log), and the time from POST /v1/tenants/{t}/deploy to the owning
node's long poll returning that deployment, for --samples redeploys of
random tenants spread over the window. A step that does not finish within
--step-timeout is stopped and reported as such.

Everything runs on 127.0.0.1: one PostgreSQL (clawtest's PgCluster), the
control plane ($CLAW_BUILD_DIR, a Release build) and this one asyncio
process. The control plane's images are names only: nothing is pulled.

  CLAW_BUILD_DIR=/path/to/release-build \\
    python3 bench/fleet-scale/bench_fleet_scale.py [--steps 500,1000,2000]
"""

import asyncio
import json
import os
import random
import resource
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
benchlib.harness()
from clawtest.cp import default_image_args, with_pg  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")
CPU_PER_TENANT = 500     # the default plan (--default-cpus-milli)
MEM_PER_TENANT = 256     # MiB (--default-memory-mb)


class Stats:
    """Counters of the simulated fleet (reset per window)."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.hb_ok = self.hb_fail = self.poll_200 = self.poll_204 = 0
        self.poll_fail = self.status_ok = self.status_fail = 0
        self.connect_fail = 0


class Conn:
    """One keep-alive HTTP/1.1 connection from a given source address;
    reopened on the next call after any failure."""

    def __init__(self, host, port, source, auth=None, keep_alive=True):
        self.host, self.port, self.source = host, port, source
        self.auth = auth
        self.keep_alive = keep_alive
        self.r = self.w = None

    async def close(self):
        if self.w:
            self.w.close()
        self.r = self.w = None

    async def call(self, method, path, body=None, timeout=60.0):
        """(status, parsed JSON or None); raises OSError on a failed
        exchange (the connection is then closed). A kept-alive connection
        the server closed meanwhile is opened again once, as libcurl
        does."""
        for attempt in (0, 1):
            reused = self.w is not None
            try:
                return await asyncio.wait_for(
                    self._call(method, path, body), timeout)
            except ConnectionError:
                await self.close()
                if not reused or attempt:
                    raise OSError("exchange failed")
            except (OSError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, ValueError):
                await self.close()
                raise OSError("exchange failed")

    async def _call(self, method, path, body):
        if self.w is None:
            self.r, self.w = await asyncio.open_connection(
                self.host, self.port, local_addr=(self.source, 0))
        data = b"" if body is None else json.dumps(body).encode()
        head = ["%s %s HTTP/1.1" % (method, path),
                "Host: %s:%d" % (self.host, self.port),
                "Content-Length: %d" % len(data)]
        if body is not None:
            head.append("Content-Type: application/json")
        if self.auth:
            head.append("Authorization: Bearer " + self.auth)
        if not self.keep_alive:
            head.append("Connection: close")
        self.w.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        await self.w.drain()
        line = await self.r.readline()
        if not line:
            raise ConnectionResetError("closed before an answer")
        status = int(line.split()[1])
        length, chunked, close = 0, False, False
        while True:
            h = await self.r.readline()
            if h in (b"\r\n", b""):
                break
            k, _, v = h.decode("latin-1").partition(":")
            k, v = k.strip().lower(), v.strip()
            if k == "content-length":
                length = int(v)
            elif k == "transfer-encoding" and "chunked" in v.lower():
                chunked = True
            elif k == "connection" and v.lower() == "close":
                close = True
        if chunked:
            raw = b""
            while True:
                n = int((await self.r.readline()).split(b";")[0], 16)
                if n == 0:
                    await self.r.readline()
                    break
                raw += await self.r.readexactly(n)
                await self.r.readexactly(2)
        else:
            raw = await self.r.readexactly(length) if length else b""
        if close or not self.keep_alive:
            await self.close()
        return status, (json.loads(raw) if raw else None)


class Node:
    """A simulated node agent."""

    def __init__(self, bench, name, source):
        self.b, self.name, self.source = bench, name, source
        self.cred = None
        self.gen = 0
        self.tenants = {}      # slug -> generation
        self.dirty = asyncio.Event()
        self.tasks = []
        self.edge = False      # runs an edge: long-polls with edge=1

    async def join(self, token):
        c = Conn(self.b.host, self.b.port, self.source)
        st, doc = await c.call("POST", "/v1/nodes/join", {
            "token": token, "name": self.name,
            "cpus_milli": self.b.tpn * CPU_PER_TENANT,
            "memory_mb": self.b.tpn * MEM_PER_TENANT, "version": "sim"})
        await c.close()
        if st != 201:
            raise RuntimeError("join %s: %s %r" % (self.name, st, doc))
        self.cred = doc["credential"]

    def start(self):
        self.tasks.append(asyncio.ensure_future(self.reporter()))

    def start_polling(self):
        self.tasks.append(asyncio.ensure_future(self.poller()))

    async def poller(self):
        b, s = self.b, self.b.stats
        c = Conn(b.host, b.port, self.source, self.cred)
        while not b.stopping:
            try:
                st, doc = await c.call(
                    "GET", "/v1/agent/assignments?generation=%d&wait=%d%s" %
                    (self.gen, b.a.wait, "&edge=1" if self.edge else ""),
                    timeout=b.a.wait + 15)
            except OSError:
                s.poll_fail += 1
                await asyncio.sleep(0.5 + random.random())
                continue
            if st == 204:
                s.poll_204 += 1
                continue
            if st != 200:
                s.poll_fail += 1
                await asyncio.sleep(0.5 + random.random())
                continue
            s.poll_200 += 1
            now = time.monotonic()
            g = doc.get("generation", 0)
            if self.gen and g <= self.gen:
                continue
            self.gen = g
            tenants = {}
            for t in doc.get("tenants", []):
                tenants[t["tenant"]] = t["generation"]
                b.seen.setdefault(t["deployment"], now)
                fut = b.waiting.pop(t["deployment"], None)
                if fut and not fut.done():
                    fut.set_result(now)
            if tenants != self.tenants:  # the agent's snapshot changed
                self.tenants = tenants
                self.dirty.set()
        await c.close()

    async def reporter(self):
        b, s = self.b, self.b.stats
        c = Conn(b.host, b.port, self.source, self.cred,
                 keep_alive=not b.a.short_reports)
        hb = b.a.heartbeat_ms / 1000.0
        last_beat = time.monotonic() - random.random() * hb
        last_status = last_beat
        while not b.stopping:
            if self.tenants and time.monotonic() - last_status > 10 * hb:
                self.dirty.set()  # the agent's periodic full report
            try:
                await asyncio.wait_for(self.dirty.wait(), max(
                    0.0, last_beat + hb - time.monotonic()))
            except asyncio.TimeoutError:
                pass
            if b.stopping:
                break
            if self.dirty.is_set():
                self.dirty.clear()
                body = {"tenants": [
                    {"tenant": k, "phase": "healthy", "generation": v}
                    for k, v in self.tenants.items()]}
                try:
                    st, _ = await c.call("POST", "/v1/agent/status", body,
                                         timeout=10)
                    ok = st == 204
                except OSError:
                    ok = False
                if ok:
                    s.status_ok += 1
                    last_beat = last_status = time.monotonic()
                else:
                    s.status_fail += 1
                    self.dirty.set()
                    await asyncio.sleep(0.2)
                continue
            try:
                st, _ = await c.call("POST", "/v1/agent/heartbeat", {
                    "cpus_milli": b.tpn * CPU_PER_TENANT,
                    "memory_mb": b.tpn * MEM_PER_TENANT}, timeout=10)
                ok = st == 200
            except OSError:
                ok = False
            if ok:
                s.hb_ok += 1
                last_beat = time.monotonic()
            else:
                s.hb_fail += 1
                last_beat = time.monotonic() - hb / 2  # retry sooner
        await c.close()


class Bench:
    def __init__(self, a, cp):
        self.a = a
        self.cp = cp
        host, port = cp.url.rsplit("//", 1)[1].rsplit(":", 1)
        self.host, self.port = host, int(port)
        self.admin_token = cp.admin_token
        self.tpn = a.tenants_per_node
        self.nodes = []
        self.slugs = []
        self.stats = Stats()
        self.seen = {}       # deployment id -> when a long poll returned it
        self.waiting = {}    # deployment id -> future
        self.stopping = False
        self.admin = asyncio.Queue()
        self.lag = 0.0
        self.deploy_failed = 0  # POST deploy not answered 202
        self.deploy_calls = []  # seconds each timed POST deploy took

    def source(self, i):
        n = self.a.sources
        return "127.0.%d.%d" % (1 + (i % n) // 250, 2 + (i % n) % 250)

    async def api(self, method, path, body=None):
        c = await self.admin.get()
        try:
            return await c.call(method, path, body, timeout=120)
        finally:
            self.admin.put_nowait(c)

    async def gather(self, coros, limit=16):
        sem = asyncio.Semaphore(limit)

        async def one(co):
            try:
                async with sem:
                    return await co
            finally:
                co.close()  # never started when cancelled: no warning
        return await asyncio.gather(*(one(co) for co in coros))

    async def add_node(self, i):
        st, doc = await self.api("POST", "/v1/nodes/join-tokens",
                                 {"ttl_s": 3600})
        if st != 201:
            raise RuntimeError("join token: %s %r" % (st, doc))
        n = Node(self, "sim-%05d" % i, self.source(i))
        n.edge = i < self.a.edge_nodes
        await n.join(doc["token"])
        n.start()
        self.nodes.append(n)

    async def deploy(self, slug, wait=True):
        """POST deploy; the seconds from the call to the owning node's
        long poll returning the deployment (None: not within 60 s, or
        not waited for)."""
        loop = asyncio.get_running_loop()
        t0 = time.monotonic()
        try:
            st, doc = await self.api("POST", "/v1/tenants/%s/deploy" % slug,
                                     {})
        except OSError:
            st, doc = 0, None
        if st != 202:
            self.deploy_failed += 1
            return None
        dep = doc["id"]
        if not wait:
            return None
        self.deploy_calls.append(time.monotonic() - t0)
        if dep in self.seen:
            return self.seen[dep] - t0
        fut = loop.create_future()
        self.waiting[dep] = fut
        try:
            return await asyncio.wait_for(fut, 60) - t0
        except asyncio.TimeoutError:
            self.waiting.pop(dep, None)
            return None

    async def add_tenant(self, slug):
        st, doc = await self.api("POST", "/v1/tenants",
                                 {"slug": slug, "name": slug})
        if st != 201:
            raise RuntimeError("tenant %s: %s %r" % (slug, st, doc))
        self.slugs.append(slug)
        return await self.deploy(slug, wait=False)

    async def lag_probe(self):
        while not self.stopping:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            self.lag = max(self.lag, time.monotonic() - t - 0.1)


def proc_figures(pid):
    with open("/proc/%d/status" % pid) as f:
        st = dict(line.split(":", 1) for line in f if ":" in line)
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])   # utime + stime
    return (int(st["Threads"]), int(st["VmRSS"].split()[0]) / 1024.0,
            ticks / HZ)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def fmt(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "none"
    return "n=%d p50 %.3f s  p99 %.3f s  max %.3f s" % (
        len(xs), benchlib.pct(xs, 50), benchlib.pct(xs, 99), max(xs))


async def run_step(b, target, pid):
    a = b.a
    t0 = time.monotonic()
    await b.gather([b.add_node(i) for i in range(target)], 16)
    joined = time.monotonic() - t0
    t1 = time.monotonic()
    await b.gather([b.add_tenant("sim-%d" % k)
                    for k in range(target * b.tpn)], 16)
    deployed = time.monotonic() - t1
    print("step %d nodes: joined (heartbeats only) in %.1f s; %d tenants "
          "created and deployed in %.1f s (%.0f/s)" %
          (target, joined, len(b.slugs), deployed,
           len(b.slugs) / deployed), flush=True)
    # every node's first long poll at once, as after a control plane
    # restart: until each holds its tenants
    t2 = time.monotonic()
    for n in b.nodes:
        n.start_polling()
    while sum(len(n.tenants) for n in b.nodes) < len(b.slugs):
        await asyncio.sleep(0.2)
    print("  all %d nodes' first long polls answered with their %d tenants "
          "in %.1f s" % (target, len(b.slugs), time.monotonic() - t2),
          flush=True)
    await asyncio.sleep(a.settle)  # their status reports land
    b.stats.reset()
    b.lag = 0.0
    thr0, rss0, cpu0 = proc_figures(pid)
    self_cpu0 = sum(os.times()[:2])
    w0 = time.monotonic()
    gap = a.window / max(1, a.samples)
    pending = []
    for _ in range(a.samples):
        pending.append(asyncio.ensure_future(
            b.deploy(random.choice(b.slugs))))
        await asyncio.sleep(gap)
    rest = a.window - (time.monotonic() - w0)
    if rest > 0:
        await asyncio.sleep(rest)
    thr, rss, cpu = proc_figures(pid)
    span = time.monotonic() - w0
    s = b.stats
    steady = await asyncio.gather(*pending)
    self_cpu = sum(os.times()[:2]) - self_cpu0
    log = b.cp.daemon.log_text()
    print("  control plane: %d threads, RSS %.1f MiB, CPU %.0f %% of one "
          "core over %.0f s (load average %s)" %
          (thr, rss, 100.0 * (cpu - cpu0) / span, span, loadavg()),
          flush=True)
    print("  heartbeats: %.0f/s answered 200 (nodes x 1/heartbeat: %.0f/s),"
          " %d failed; status reports %d ok / %d failed; long polls "
          "answered 200: %.0f/s, 204: %d, failed: %d" %
          (s.hb_ok / span, len(b.nodes) * 1000.0 / a.heartbeat_ms,
           s.hb_fail, s.status_ok, s.status_fail, s.poll_200 / span,
           s.poll_204, s.poll_fail), flush=True)
    print("  deploy -> owning node's long poll (%d redeploys at %.1f/s): %s;"
          " %d deploy calls failed, %d not seen by a long poll within 60 s"
          % (a.samples, a.samples / a.window, fmt(steady), b.deploy_failed,
             sum(1 for x in steady if x is None)), flush=True)
    print("  of which the deploy call itself: %s" % fmt(b.deploy_calls),
          flush=True)
    print("  nodes marked down: %d; connections refused at accept (CP log, "
          "at most 10 lines/s): %d; simulator CPU %.0f %%, event-loop lag "
          "max %.2f s" %
          (log.count("missed its heartbeats"),
           log.count("connection limit") + log.count("Server reached"),
           100.0 * self_cpu / span, b.lag), flush=True)


async def amain(a, cp, target, tpn):
    b = Bench(a, cp)
    b.tpn = tpn
    for _ in range(16):
        b.admin.put_nowait(Conn(b.host, b.port, "127.0.0.1",
                                b.admin_token))
    pid = cp.daemon.pid
    lagger = asyncio.ensure_future(b.lag_probe())
    thr, rss, _ = proc_figures(pid)
    print("fresh control plane: %d threads, RSS %.1f MiB; heartbeat %d ms, "
          "long poll wait %d s, %d tenants per node, %d source addresses, "
          "reports on %s connections"
          % (thr, rss, a.heartbeat_ms, a.wait, b.tpn, a.sources,
             "short" if a.short_reports else "kept-alive"),
          flush=True)
    try:
        await asyncio.wait_for(run_step(b, target, pid), a.step_timeout)
    except asyncio.CancelledError:  # Ctrl-C: the nodes stop, then the rest
        b.stopping = True
        raise
    except (asyncio.TimeoutError, OSError, RuntimeError) as e:
        thr, rss, _ = proc_figures(pid)
        print("step %d nodes: STOPPED (%s) (%d nodes joined, %d "
              "tenants, %d nodes hold their tenants; control plane %d "
              "threads, RSS %.1f MiB; heartbeats failed %d, long polls "
              "failed %d)" %
              (target, repr(e) if str(e) else "after %d s" % a.step_timeout,
               len(b.nodes), len(b.slugs),
               sum(1 for n in b.nodes if len(n.tenants) == b.tpn), thr,
               rss, b.stats.hb_fail, b.stats.poll_fail), flush=True)
    b.stopping = True
    lagger.cancel()
    for n in b.nodes:
        for t in n.tasks:
            t.cancel()
    await asyncio.sleep(0.5)


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--steps", default="500,1000,2000",
                    help="node counts, each on a fresh control plane; "
                    "N:T gives step N T tenants per node (default "
                    "%(default)s)")
    ap.add_argument("--tenants-per-node", type=int, default=10)
    ap.add_argument("--heartbeat-ms", type=int, default=2000,
                    help="the control plane's and the nodes' (default "
                    "%(default)s, the agent's)")
    ap.add_argument("--grace-intervals", type=int, default=3,
                    help="--node-grace-intervals (default %(default)s)")
    ap.add_argument("--wait", type=int, default=30,
                    help="long poll wait, s (default %(default)s, the "
                    "agent's)")
    ap.add_argument("--window", type=float, default=30.0,
                    help="seconds measured per step (default %(default)s)")
    ap.add_argument("--samples", type=int, default=100,
                    help="redeploys timed per step (default %(default)s)")
    ap.add_argument("--sources", type=int, default=500,
                    help="loopback source addresses (default %(default)s)")
    ap.add_argument("--step-timeout", type=int, default=600,
                    help="seconds before a step is stopped")
    ap.add_argument("--short-reports", action="store_true",
                    help="heartbeats and status reports each on a new "
                    "connection (Connection: close) instead of a kept-alive "
                    "one: what a waiting node costs with one slot")
    ap.add_argument("--settle", type=float, default=3.0,
                    help="seconds between the first long polls answered "
                    "and the window (default %(default)s: the start-up's "
                    "status reports land; longer: the steady state)")
    ap.add_argument("--edge-nodes", type=int, default=0,
                    help="nodes that long-poll as edges (edge=1; default "
                    "%(default)s)")
    ap.add_argument("--cp-arg", action="append", default=[],
                    help="one more control plane option (repeatable)")
    a = ap.parse_args()
    a.steps = [(int(x.split(":")[0]), int(x.split(":")[1]) if ":" in x
                else a.tenants_per_node) for x in a.steps.split(",")]
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    args = default_image_args("sim.invalid/claw/gateway:1",
                              "sim.invalid/claw/runtime:1")
    args += ["--heartbeat-ms", str(a.heartbeat_ms),
             "--node-grace-intervals", str(a.grace_intervals),
             "--log-level", "info"] + a.cp_arg
    for target, tpn in a.steps:
        pg, cp = with_pg("fleetscale", args, env={"CLAW_LOG_LEVEL": "info"})
        try:
            asyncio.run(amain(a, cp, target, tpn))
        finally:
            cp.stop()
            pg.stop()


if __name__ == "__main__":
    main()
