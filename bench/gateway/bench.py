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
  5. a mixed-channel run: signed webhooks of Telegram, Slack, WhatsApp,
     Discord (when the test helper gw-sign is built), LINE, Twilio,
     Mattermost, Microsoft Teams and Google Chat (RS256 bearer tokens,
     verified per request against keys served by the test fake gwapps)
     and Feishu (verification token; its AES and signature mode is not
     in the run, each request would need an openssl process to make) at
     once, each message distinct, 16 connections flat out: accepted
     msgs/s over all of them and the ack p50/p99 (Matrix is pulled with
     /sync, not posted: not in this run). The replies of the three go
     to the gwapps fake (Python), which slows the drain, not the acks;
  6. RSS after the load, and the peak RSS (VmHWM) during the webhook
     flood with where its backlog was held (memory / journal file; issue
     16: before the bound, 130,000 webhooks in 10 s left 103,718 in
     memory and took RSS from 10.6 MB to 313.7 MB).
Targets (issue 4): ack p99 <= 5 ms at 1,000 msg/s, >= 3,000 accepted/s,
>= 500 end-to-end chats/s with 8 clients, idle RSS <= 8 MB.
Use a Release build for meaningful figures (sanitizers cost a lot).
"""

import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
import benchlib  # noqa: E402
benchlib.harness("tests/integration/gateway")
from clawtest.http import free_port  # noqa: E402
import gwapps  # noqa: E402
from procmem import summary  # noqa: E402


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port,
                                timeout=10) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return int(float(line.split()[1]))
    return -1


def depth(port):
    return metric(port, "claw_gateway_journal_depth")


def peak_rss_mb(pid):
    """VmHWM: the most RSS the process had at once."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return -1


SLACK_SECRET = "benchslack"
WA_SECRET = "benchwa"
LINE_SECRET = "benchline"
TW_TOKEN = "benchtwilio"
TW_ACCOUNT = "AC" + "0" * 32
TW_URL = "https://bench.claw.test/twilio/webhook"
MM_TOKEN = "benchmattermost0000000000"
DISCORD_SEED = "22" * 32
MIXED = ["telegram", "slack", "whatsapp", "discord", "line", "twilio",
         "mattermost", "teams", "googlechat", "feishu"]
APPS = ("teams", "googlechat", "feishu")


def http_request(path, body, headers):
    head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path
    head += "".join("%s: %s\r\n" % kv for kv in headers.items())
    head += "Content-Length: %d\r\n\r\n" % len(body)
    return head.encode() + body


def apps_request(fa, ch, i, who, tokens):
    """A Teams activity, Google Chat event or plain Feishu event with its
    headers (one bearer token per channel, valid for the run)."""
    if ch == "teams":
        a = gwapps.teams_activity(fa, "mixed %d" % i, conv="a:%d" % who,
                                  user="29:%d" % who, aid="%d" % i)
        return json.dumps(a).encode(), {
            "Authorization": "Bearer " + tokens["teams"]}, "/teams/messages"
    if ch == "googlechat":
        ev = gwapps.google_event("mixed %d" % i, space="spaces/b%d" % who,
                                 sender="users/%d" % who,
                                 msg="spaces/b%d/messages/m%d" % (who, i))
        return json.dumps(ev).encode(), {
            "Authorization": "Bearer " + tokens["googlechat"]}, \
            "/googlechat/events"
    ev = gwapps.feishu_event("mixed %d" % i, chat="oc_%d" % who,
                             sender="ou_%d" % who, mid="om_m%d" % i)
    return json.dumps(ev).encode(), {}, "/feishu/events"


def mixed_requests(n, signer, fa):
    """n distinct signed webhook requests, round robin over the channels
    (Discord only with the signer); senders spread over 2,000 ids."""
    chans = [c for c in MIXED if c != "discord" or signer]
    now = int(time.time())
    out, discord = [], []
    tokens = {"teams": fa.teams_token(), "googlechat": fa.google_token()}
    for i in range(n):
        ch, who = chans[i % len(chans)], 100000 + i % 2000
        j = "json"
        if ch in APPS:
            body, h, path = apps_request(fa, ch, i, who, tokens)
        elif ch == "telegram":
            body = json.dumps({"update_id": 10 ** 8 + i, "message": {
                "message_id": 10 ** 8 + i, "date": now, "from": {
                    "id": who, "is_bot": False, "first_name": "B"},
                "chat": {"id": who, "type": "private"},
                "text": "mixed %d" % i}}).encode()
            h = {"X-Telegram-Bot-Api-Secret-Token": "benchsecret"}
            path = "/telegram/webhook"
        elif ch == "slack":
            body = json.dumps({"type": "event_callback", "team_id": "T1",
                               "event": {"type": "message", "channel":
                                         "D%d" % who, "user": "U%d" % who,
                                         "text": "mixed %d" % i,
                                         "ts": "%d.%06d" % (now, i),
                                         "channel_type": "im"}}).encode()
            ts = str(now)
            h = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature":
                 "v0=" + hmac.new(SLACK_SECRET.encode(), b"v0:" +
                                  ts.encode() + b":" + body,
                                  hashlib.sha256).hexdigest()}
            path = "/slack/events"
        elif ch == "whatsapp":
            body = json.dumps({"object": "whatsapp_business_account",
                               "entry": [{"id": "1", "changes": [{
                                   "field": "messages", "value": {
                                       "metadata": {"phone_number_id":
                                                    "1065"},
                                       "messages": [{
                                           "from": str(who),
                                           "id": "wamid.mixed%d" % i,
                                           "timestamp": str(now),
                                           "type": "text", "text": {
                                               "body": "mixed %d" % i}}]}}]}]
                               }).encode()
            h = {"X-Hub-Signature-256": "sha256=" + hmac.new(
                WA_SECRET.encode(), body, hashlib.sha256).hexdigest()}
            path = "/whatsapp/webhook"
        elif ch == "discord":
            body = json.dumps({"id": str(10 ** 17 + i), "type": 2,
                               "application_id": "1100",
                               "token": "itok%d" % i,
                               "channel_id": str(who),
                               "user": {"id": str(who), "username": "b"},
                               "data": {"name": "ask", "options": [{
                                   "name": "prompt", "type": 3,
                                   "value": "mixed %d" % i}]}}).encode()
            h = {"X-Signature-Timestamp": str(now)}
            discord.append(len(out))
            path = "/discord/interactions"
        elif ch == "line":
            body = json.dumps({"destination": "Ubot", "events": [{
                "type": "message", "mode": "active",
                "timestamp": now * 1000, "replyToken": "rt%d" % i,
                "webhookEventId": "ev%d" % i,
                "deliveryContext": {"isRedelivery": False},
                "source": {"type": "user", "userId": "U%d" % who},
                "message": {"type": "text", "id": str(10 ** 12 + i),
                            "text": "mixed %d" % i}}]}).encode()
            h = {"X-Line-Signature": base64.b64encode(hmac.new(
                LINE_SECRET.encode(), body, hashlib.sha256).digest()
            ).decode()}
            path = "/line/webhook"
        elif ch == "twilio":
            p = [("MessageSid", "SM%032x" % i), ("AccountSid", TW_ACCOUNT),
                 ("From", "+1555%07d" % who), ("To", "+15005550006"),
                 ("Body", "mixed %d" % i)]
            body = urllib.parse.urlencode(p).encode()
            data = TW_URL + "".join(k + v for k, v in sorted(p))
            h = {"X-Twilio-Signature": base64.b64encode(hmac.new(
                TW_TOKEN.encode(), data.encode(), hashlib.sha1).digest()
            ).decode()}
            path, j = "/twilio/webhook", "form"
        else:
            body = urllib.parse.urlencode({
                "token": MM_TOKEN, "channel_id": "c%d" % who,
                "user_id": "u%d" % who, "user_name": "b",
                "post_id": "p%d" % i, "text": "#ask mixed %d" % i,
                "timestamp": str(now), "trigger_word": "#ask"}).encode()
            h, path, j = {}, "/mattermost/webhook", "form"
        h["Content-Type"] = "application/json" if j == "json" else \
            "application/x-www-form-urlencoded"
        out.append([ch, path, body, h])
    if discord:
        lines = b"".join(out[k][3]["X-Signature-Timestamp"].encode() +
                         out[k][2] + b"\n" for k in discord)
        sigs = subprocess.run([signer, "signlines", DISCORD_SEED],
                              input=lines, capture_output=True,
                              check=True).stdout.split()
        for k, sig in zip(discord, sigs):
            out[k][3]["X-Signature-Ed25519"] = sig.decode()
    return chans, [(chans.index(ch), http_request(path, body, h))
                   for ch, path, body, h in out]


def write_mixed(path, n, signer, fa):
    chans, reqs = mixed_requests(n, signer, fa)
    with open(path, "wb") as f:
        f.write(("channels " + " ".join(chans) + "\n").encode())
        for c, r in reqs:
            f.write(b"%d %d\n" % (c, len(r)) + r)
    return chans


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
    fa = gwapps.FakeApps()   # keys, tokens and reply APIs of the three
    signer = os.path.join(a.build_dir, "tests", "integration", "gateway",
                          "gw-sign")
    signer = signer if os.access(signer, os.X_OK) else None
    for k, v in {"telegram_bot_token": "1:bench",
                 "telegram_webhook_secret": "benchsecret",
                 "openai_api_token": "benchtoken",
                 "slack_signing_secret": SLACK_SECRET,
                 "slack_bot_token": "xoxb-bench",
                 "whatsapp_app_secret": WA_SECRET,
                 "whatsapp_verify_token": "benchverify",
                 "whatsapp_access_token": "benchaccess",
                 "discord_bot_token": "benchdiscord",
                 "line_channel_secret": LINE_SECRET,
                 "line_channel_access_token": "benchlinetoken",
                 "twilio_auth_token": TW_TOKEN,
                 "mattermost_webhook_token": MM_TOKEN,
                 "mattermost_bot_token": "benchmmbot",
                 "teams_app_password": gwapps.TEAMS_PASSWORD,
                 "googlechat_service_account":
                 fa.secrets()["googlechat_service_account"],
                 "feishu_app_secret": gwapps.FS_SECRET,
                 "feishu_verification_token": gwapps.FS_VTOKEN}.items():
        with open(os.path.join(secrets, k), "w") as f:
            f.write(v)
    base = "http://127.0.0.1:%d" % sport
    free = {"rate_limit_per_minute": 0, "api_base": base}
    cfg = {"tenant": "bench", "workers": 8, "channels": {
        "telegram": dict(free),
        "slack": dict(free),
        "whatsapp": dict(free, phone_number_id="1065"),
        "line": dict(free),
        "twilio": dict(free, account_sid=TW_ACCOUNT, webhook_url=TW_URL),
        "mattermost": dict(free, group_policy="all"),
        "openai": {"rate_limit_per_minute": 0}}}
    for ch, c in gwapps.apps_channels(fa, only=APPS).items():
        cfg["channels"][ch] = dict(c, rate_limit_per_minute=0)
    if signer:
        pk = subprocess.check_output([signer, "pk", DISCORD_SEED]).decode()
        cfg["channels"]["discord"] = dict(free, public_key=pk.strip(),
                                          application_id="1100")
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
        print("gateway peak RSS during the webhook flood: %.1f MB (VmHWM); "
              "backlog now %d in memory, %d only in the journal file, at "
              "most %d in memory at once; %d refused (backlog full)" % (
                  peak_rss_mb(gw.pid),
                  metric(gport, 'claw_gateway_backlog_messages'
                         '{held="memory"}'),
                  metric(gport, 'claw_gateway_backlog_messages'
                         '{held="journal"}'),
                  metric(gport, "claw_gateway_backlog_memory_peak"),
                  metric(gport, 'claw_gateway_refused_total'
                         '{channel="telegram",reason="backlog"}')))
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
        # every channel at once: enough distinct requests for the run
        mix = os.path.join(tmp, "mixed.req")
        chans = write_mixed(mix, int(max(20000, a.seconds * 6000)), signer,
                            fa)
        if not signer:
            print("(discord left out of the mixed run: build gw-sign)")
        subprocess.check_call([load, "mixed", str(gport), mix, s, "16"])
        t0, d0 = time.monotonic(), depth(gport)
        while depth(gport) > 0 and time.monotonic() - t0 < 300:
            time.sleep(0.2)
        el = time.monotonic() - t0
        print("mixed backlog of %d over %d channels answered in %.1f s" % (
            d0, len(chans), el))
        size = os.path.getsize(os.path.join(tmp, "data", "gateway",
                                            "journal.log"))
        print("journal file: %.1f MB" % (size / 1e6))
        print("targets: ack p99 <= 5 ms at 1,000 msg/s; >= 3,000 accepted/s; "
              ">= 500 chats/s with 8 clients; idle RSS <= 8 MB; mixed: "
              "accepted/s and ack p99 over every channel at once (issue "
              "17, no target set)")
    finally:
        gw.terminate()
        gw.wait(60)
        sink.kill()
        fa.close()


if __name__ == "__main__":
    sys.exit(main())
