#!/usr/bin/env python3
"""bench.py - the gateway benchmark. Prints figures, asserts nothing.

    python3 bench/gateway/bench.py [--build-dir build] [--seconds 10]

Builds gw_load.c (a C load generator and zero-latency sink), starts the
sink as both the runtime and the Telegram API, starts claw-gateway with the
journal on a temporary directory, then measures:
  1. RSS at idle;
  2. webhook acknowledgement latency at a fixed 1,000 msg/s;
  3. accepted msgs/s flat out (16 connections);
  4. end-to-end chats/s and latency through the OpenAI-compatible endpoint
     with 8 clients against the zero-latency runtime;
  5. RSS after the load.
Targets (issue 4): ack p99 <= 5 ms at 1,000 msg/s, >= 3,000 accepted/s,
>= 500 end-to-end chats/s with 8 clients, idle RSS <= 8 MB.
Use a Release build for meaningful figures (sanitizers cost a lot).
"""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402
benchlib.harness()
from clawtest.http import free_port  # noqa: E402
from procmem import summary  # noqa: E402


def depth(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("claw_gateway_journal_depth "):
                return int(float(line.split()[1]))
    return -1


def main():
    ap = benchlib.parser(__doc__)
    ap.add_argument("--build-dir", default=benchlib.build_dir())
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--runtime-url", default=None,
                    help="a real claw-runtime (with a zero-latency fake "
                    "LLM) instead of the sink")
    a = ap.parse_args()
    gwbin = os.path.join(a.build_dir, "gateway", "claw-gateway")
    tmp = tempfile.mkdtemp(prefix="gwbench-")
    load = os.path.join(tmp, "gw_load")
    subprocess.check_call(["cc", "-O2", "-pthread", "-o", load,
                           os.path.join(HERE, "gw_load.c")])
    sport = free_port()
    sink = subprocess.Popen([load, "sink", str(sport)],
                            stdout=subprocess.PIPE)
    sink.stdout.readline()
    secrets = os.path.join(tmp, "secrets")
    os.makedirs(secrets)
    for k, v in {"telegram_bot_token": "1:bench",
                 "telegram_webhook_secret": "benchsecret",
                 "openai_api_token": "benchtoken"}.items():
        with open(os.path.join(secrets, k), "w") as f:
            f.write(v)
    cfg = {"tenant": "bench", "workers": 8, "channels": {
        "telegram": {"api_base": "http://127.0.0.1:%d" % sport,
                     "rate_limit_per_minute": 0},
        "openai": {"rate_limit_per_minute": 0}}}
    cpath = os.path.join(tmp, "gateway.json")
    with open(cpath, "w") as f:
        json.dump(cfg, f)
    gport = free_port()
    gw = subprocess.Popen([gwbin, "--config", cpath, "--secrets-dir",
                           secrets, "--data-dir", os.path.join(tmp, "data"),
                           "--listen", "127.0.0.1:%d" % gport,
                           "--proxy-listen", "off", "--runtime-url",
                           a.runtime_url or "http://127.0.0.1:%d" % sport,
                           "--log-level", "error"],
                          stdout=subprocess.PIPE,
                          stderr=open(os.path.join(tmp, "gateway.log"), "w"))
    gw.stdout.readline()
    print("load average before: %s" % open("/proc/loadavg").read().split()[0])
    try:
        time.sleep(1)
        print("gateway idle: " + summary(gw.pid, top=6))
        s = str(a.seconds)
        subprocess.check_call([load, "ack", str(gport), "benchsecret",
                               "1000", s, "16"])
        subprocess.check_call([load, "ack", str(gport), "benchsecret", "0",
                               s, "16"])
        print("gateway after webhook load: " + summary(gw.pid))
        # the backlog drains through runtime and Telegram API (the sink)
        t0, d0 = time.monotonic(), depth(gport)
        while depth(gport) > 0 and time.monotonic() - t0 < 300:
            time.sleep(0.2)
        el = time.monotonic() - t0
        print("backlog of %d answered in %.1f s = %.0f replies/s end to end "
              "(runtime + sendMessage + journal)" % (d0, el, d0 / el
                                                     if el else 0))
        time.sleep(11)   # the gateway trims its heap every 10 s
        print("gateway after the backlog drained: " + summary(gw.pid))
        subprocess.check_call([load, "chat", str(gport), "benchtoken", s,
                               "8"])
        print("gateway after chat load: " + summary(gw.pid))
        size = os.path.getsize(os.path.join(tmp, "data", "gateway",
                                            "journal.log"))
        print("journal file: %.1f MB" % (size / 1e6))
        print("targets: ack p99 <= 5 ms at 1,000 msg/s; >= 3,000 accepted/s; "
              ">= 500 chats/s with 8 clients; idle RSS <= 8 MB")
    finally:
        gw.terminate()
        gw.wait(60)
        sink.kill()


if __name__ == "__main__":
    sys.exit(main())
