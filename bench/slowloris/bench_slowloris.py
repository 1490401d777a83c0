#!/usr/bin/env python3
"""bench_slowloris.py - request rate and p99 of the control plane and the
gateway while 1,050 slow connections are held. Prints figures, asserts
nothing.

    CLAW_BUILD_DIR=build-release python3 bench/slowloris/bench_slowloris.py \
        [--slow 1050] [--interval 5] [--warmup 12] [--seconds 15] \
        [--clients 8] [--only controlplane|gateway]

Builds slowloris.c (cc -O2), starts claw-controlplane (its embedded
PostgreSQL) and claw-gateway on 127.0.0.1, and for each measures the rate
and latency of normal requests from 127.0.0.1 (8 keep-alive clients, plus
one client that opens a fresh connection per request), three times:
  1. unloaded;
  2. with N slow connections all from one address (127.0.0.2): the
     per-address limit keeps all but 64 out;
  3. with N slow connections spread over 21 addresses (127.0.0.2 to
     127.0.0.22, 50 each, under the per-address limit): only the head
     deadline and the early closing of a nearly full server stand between
     them and the 1,024 slots.
A slow connection sends one byte every --interval seconds and reconnects
when the server closes it. Normal requests: the control plane's
authenticated GET /v1/tenants/{id} (a database read), the gateway's GET
/healthz. Target (issue 10): loaded rate >= 50 % of the unloaded one, and
fresh connections still served. Loopback only; bounded in count and time.
"""

import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402
benchlib.harness()
from clawtest.cp import ControlPlane  # noqa: E402
from clawtest.http import free_port  # noqa: E402


def run_tool(tool, port, path, token, a, slow, sources):
    argv = [tool, str(port), path, "-c", str(a.clients), "-d",
            str(a.seconds), "-i", str(a.interval), "-w", str(a.warmup)]
    if token:
        argv += ["-a", token]
    if slow:
        argv += ["-t", str(slow), "-s", sources]
    out = subprocess.run(argv, check=True, stdout=subprocess.PIPE,
                         text=True).stdout
    line = [l for l in out.splitlines() if l.startswith("rate=")][-1]
    return {k: float(v) for k, v in
            (kv.split("=") for kv in line.split())}


def show(name, label, r, base):
    share = 100.0 * r["rate"] / base if base else 0.0
    fresh = r["fresh_ok"] + r["fresh_fail"]
    slow = ""
    if r["slow"]:
        slow = ("  slow held %d-%d, closed by server %d, refused %d" %
                (r["held_min"], r["held_max"], r["slow_cut"],
                 r["slow_refused"]))
    print("%-13s %-30s %8.0f req/s (%5.1f %%)  p50 %6.2f ms  p99 %7.2f ms"
          "  errors %d  fresh %d/%d%s" %
          (name, label, r["rate"], share, r["p50_ms"], r["p99_ms"],
           r["fail"], r["fresh_ok"], fresh, slow), flush=True)


def measure(name, tool, port, path, token, a):
    spread_hi = 2 + (a.slow + 49) // 50 - 1  # 50 per address
    cases = [("unloaded", 0, ""),
             ("%d slow, one address" % a.slow, a.slow, "2-2"),
             ("%d slow, %d addresses" % (a.slow, spread_hi - 1),
              a.slow, "2-%d" % spread_hi)]
    base = None
    for label, slow, sources in cases:
        r = run_tool(tool, port, path, token, a, slow, sources)
        if base is None:
            base = r["rate"]
        show(name, label, r, base)
        time.sleep(2)  # the server drops what the tool left


def gateway(a, tmp):
    secrets = os.path.join(tmp, "gw-secrets")
    os.makedirs(secrets)
    cpath = os.path.join(tmp, "gateway.json")
    with open(cpath, "w") as f:
        json.dump({"tenant": "bench", "channels": {}}, f)
    port = free_port()
    gwbin = os.path.join(a.build_dir, "gateway", "claw-gateway")
    p = subprocess.Popen([gwbin, "--config", cpath, "--secrets-dir", secrets,
                          "--data-dir", os.path.join(tmp, "gw-data"),
                          "--listen", "127.0.0.1:%d" % port,
                          "--proxy-listen", "off", "--runtime-url",
                          "http://127.0.0.1:9", "--log-level", "error"],
                         stdout=subprocess.PIPE,
                         stderr=open(os.path.join(tmp, "gateway.log"), "w"))
    p.stdout.readline()
    return p, port


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--build-dir", default=benchlib.build_dir())
    ap.add_argument("--slow", type=int, default=1050)
    ap.add_argument("--interval", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=12)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--only", choices=["controlplane", "gateway"])
    a = ap.parse_args()
    os.environ["CLAW_BUILD_DIR"] = a.build_dir
    tmp = tempfile.mkdtemp(prefix="slowloris-")
    tool = os.path.join(tmp, "slowloris")
    subprocess.check_call(["cc", "-O2", "-pthread", "-o", tool,
                           os.path.join(HERE, "slowloris.c")])
    print("load average before: %s" %
          open("/proc/loadavg").read().split()[0], flush=True)
    if a.only != "gateway":
        cp = ControlPlane(env={"CLAW_LOG_LEVEL": "warn"}).start()
        try:
            c = cp.client()
            r = c.post("/v1/tenants", {"slug": "bench", "name": "Bench"})
            tid = r.json()["id"]
            port = int(cp.url.rsplit(":", 1)[1])
            measure("controlplane", tool, port, "/v1/tenants/" + tid,
                    cp.admin_token, a)
        finally:
            cp.stop()
    if a.only != "controlplane":
        gw, port = gateway(a, tmp)
        try:
            measure("gateway", tool, port, "/healthz", None, a)
        finally:
            gw.terminate()
            gw.wait(60)
    print("target: loaded >= 50 % of the unloaded rate; fresh connections "
          "served")


if __name__ == "__main__":
    main()
