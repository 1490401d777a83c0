#!/usr/bin/env python3
"""bench_edge.py - the edge's figures (prints figures, asserts nothing):

  1. chats/s and p50/p99 latency through the edge (Caddy, TLS, keep-alive)
     against direct to the gateway (its address on the edge network, plain
     HTTP), and the ratio: one connection back to back (the latency the
     edge adds) and CONNS connections (throughput). wrk drives both; a
     chat is POST /v1/chat/completions answered by the project's own
     gateway and runtime images with the scripted LLM (no model: the
     runtime's provider answers at once), each request its own
     conversation. The same for GET /healthz (the gateway's HTTP server
     alone), the ceiling of the edge itself on this machine;
     Then the same chat with the zero-latency test runtime: bench/gateway's
     gw_load sink (answers /v1/messages at once) built into a FROM-scratch
     image (deploy/images/build.sh) and deployed as the tenant's runtime,
     so the figure is the edge and the gateway alone;
  2. the time from a tenant becoming healthy on the node (the node agent
     reports both containers healthy, and then the tenant's phase
     healthy, which a readiness window may hold back; polled every 5 ms)
     to the edge routing to it (an HTTPS request to its public host
     answered 200, tried every 5 ms), for T new tenants;
  3. failed requests during R redeploys: a client chats back to back
     through the edge (a new TLS connection per turn, each turn a unique
     id the scripted LLM echoes) while the control plane redeploys the
     tenant R times (each until the old pair is drained and removed).

The stack is tests/integration/e2e/edgestack.py: PostgreSQL, the control
plane, one node agent with its own Caddy (internal CA), the tenant images
and the scripted LLM container, on this machine only.

Usage (root, release build):
  CLAW_BUILD_DIR=build-release python3 bench/edge/bench_edge.py \\
      [--seconds 10] [--conns 16] [--tenants 3] [--redeploys 5]
"""

import os
import re
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
import benchlib  # noqa: E402
benchlib.harness("tests/integration/e2e")
from clawtest.edge import https_request  # noqa: E402
from edgestack import Chatter, EdgeStack  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))

# A wrk script: the chat request of edgestack, and every name that is not
# an address resolved to 127.0.0.1 (the edge's test host names are in no
# resolver; the TLS name and Host header stay the URL's).
WRK_LUA = """
wrk.method = %s
wrk.body = %s
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = %s
function wrk.resolve(host, service)
   if not host:match("^[%%d.]+$") then host = "127.0.0.1" end
   wrk.addrs = wrk.lookup(host, service)
end
"""


def lua_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def ms(v, unit):
    return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url, script, seconds, conns):
    """(chats/s, p50 ms, p99 ms, errors) of one wrk run."""
    out = subprocess.run(["wrk", "-t", str(min(conns, 2)), "-c", str(conns),
                          "-d", "%ds" % seconds, "--latency", "-s", script,
                          url], capture_output=True, text=True,
                         check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {p: ms(*re.search(r"\b%d%%\s+([\d.]+)(us|ms|s)\b" % p,
                            out).groups()) for p in (50, 99)}
    errs = 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errs += int(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                  r"timeout (\d+)", out)
    if m:
        errs += sum(int(x) for x in m.groups())
    return rate, lat[50], lat[99], errs


def throughput(st, slug, seconds, conns, what="chat"):
    """what: "chat" (POST /v1/chat/completions, through gateway, runtime
    and the scripted LLM), or "healthz" (GET /healthz, the gateway's HTTP
    server alone: the edge's own ceiling)."""
    path, body, headers = st.chat_request("bench")
    # Each request its own conversation: no "user".
    body = body.replace(b'"user": "edge-e2e", ', b"")
    method = "POST"
    if what == "healthz":
        path, body, method = "/healthz", b"", "GET"
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_LUA % (lua_str(method),
                           "nil" if not body else lua_str(body.decode()),
                           lua_str(headers["Authorization"])))
        script = f.name
    try:
        direct = "http://%s:8080%s" % (st.gateway_ip(slug), path)
        edge = "https://%s:%d%s" % (st.host(slug), st.node.https, path)
        for label, c in (("%s 1 conn" % what, 1),
                         ("%s %d conns" % (what, conns), conns)):
            d = wrk(direct, script, seconds, c)
            e = wrk(edge, script, seconds, c)
            for name, r in (("direct", d), ("edge", e)):
                print("  %-17s %-7s %8.0f req/s  p50 %6.2f ms  p99 %6.2f"
                      " ms  errors %d" % ((label, name) + r), flush=True)
            print("  %-17s edge/direct: req/s x%.2f, p50 %+.2f ms, p99 "
                  "%+.2f ms" % (label, e[0] / max(d[0], 1e-9), e[1] - d[1],
                                e[2] - d[2]), flush=True)
    finally:
        os.unlink(script)


def zero_latency_runtime(st):
    """A runtime image of gw_load's sink on port 8081 (anyaddr.h makes it
    listen on the container's addresses); its pushed reference."""
    tmp = tempfile.mkdtemp(prefix="edgebench-")
    binary = os.path.join(tmp, "gw_load")
    subprocess.run(["cc", "-O2", "-pthread", "-include",
                    os.path.join(HERE, "anyaddr.h"), "-o", binary,
                    os.path.join(benchlib.SRC, "bench", "gateway",
                                 "gw_load.c")], check=True)
    r = subprocess.run([os.path.join(benchlib.SRC, "deploy", "images",
                                     "build.sh"), "--binary", binary,
                        "--image", "claw-bench/zero-latency-runtime:" +
                        os.urandom(3).hex(), "--cmd", "sink", "--cmd",
                        "8081"], env=st.env.env(), capture_output=True,
                       text=True)
    if r.returncode:
        raise RuntimeError("build.sh: " + r.stderr)
    return r.stdout.split()[-1]


def healthy_to_routed(st, n):
    """For each of n new tenants, seconds to its public host answering
    through the edge: from the node reporting both of its containers
    healthy, and from the node reporting the tenant's phase healthy
    (later where a readiness window applies); two lists."""
    out, out_phase = [], []
    for _ in range(n):
        slug = "edge-r-" + os.urandom(3).hex()
        st.fleet.tenant(slug)
        for name, value in (("openai_api_token", "x" * 24),
                            ("llm_api_key", st.llm_key)):
            st.fleet.admin.put("/v1/tenants/%s/secrets/%s" % (slug, name),
                               {"value": value})
        routed = {}

        def probe(slug=slug):
            while "t" not in routed:
                try:
                    r = https_request(st.node.https, st.host(slug),
                                      "/healthz", st.root, timeout=2)
                    if r.status == 200:
                        routed["t"] = time.monotonic()
                except OSError:
                    pass
                time.sleep(0.005)
        th = threading.Thread(target=probe, daemon=True)
        th.start()
        st.fleet.deploy(slug, st.body(slug))
        healthy = phase = None
        deadline = time.monotonic() + 180
        while phase is None and time.monotonic() < deadline:
            for t in (st.node.status() or {}).get("tenants", []):
                if t["tenant"] != slug:
                    continue
                roles = t.get("roles", {})
                if healthy is None and all(
                        roles.get(r, {}).get("healthy")
                        for r in ("gateway", "runtime")):
                    healthy = time.monotonic()
                if t["phase"] == "healthy":
                    phase = time.monotonic()
            time.sleep(0.005)
        th.join(60)
        if healthy and phase and "t" in routed:
            out.append(routed["t"] - healthy)
            out_phase.append(routed["t"] - phase)
    return out, out_phase


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--tenants", type=int, default=3)
    ap.add_argument("--redeploys", type=int, default=5)
    a = ap.parse_args()
    st = EdgeStack(drain_ms=300)
    try:
        slug = st.tenant()
        print("1. chats through the edge against direct to the gateway "
              "(wrk, %d s each, keep-alive):" % a.seconds, flush=True)
        throughput(st, slug, a.seconds, a.conns)
        throughput(st, slug, a.seconds, a.conns, "healthz")
        zl = st.tenant("edge-zl-" + os.urandom(2).hex(),
                       runtime_image=zero_latency_runtime(st))
        print("   with the zero-latency test runtime (gw_load sink):",
              flush=True)
        throughput(st, zl, a.seconds, a.conns)

        xs, xs_phase = healthy_to_routed(st, a.tenants)
        print("2. tenant healthy on the node -> the edge routes to it "
              "(5 ms probes; negative: routed first):", flush=True)
        for label, v in (("both containers healthy", xs),
                         ("phase healthy", xs_phase)):
            if v:
                print("  from %-24s n=%d  min %.3f s  %s  max %.3f s" %
                      (label, len(v), min(v), benchlib.spread(v),
                       max(v)), flush=True)
            else:
                print("  no tenant was both healthy and routed")

        ch = Chatter(lambda text: st.chat(slug, text), "bench").start()
        t0 = time.monotonic()
        try:
            for _ in range(a.redeploys):
                st.redeploy(slug)
        finally:
            ch.stop()
        print("3. %d redeploys in %.0f s while chatting through the edge: "
              "%d turns, %d failed, %d not their own reply, %d duplicate"
              % (a.redeploys, time.monotonic() - t0, ch.sent,
                 len(ch.failures), len(ch.mismatches), len(ch.duplicates)))
        for f in ch.failures[:5]:
            print("   failed: " + f)
        if ch.latencies:
            print("   turn latency (new TLS connection each): " +
                  benchlib.spread(ch.latencies))
    finally:
        st.close()


if __name__ == "__main__":
    main()
