"""Floods are bounded (issue 16, item 3): a gateway flooded with Telegram
webhooks from several threads while the runtime answers nothing (held)
keeps at most max_backlog envelopes in memory and the rest only in its
journal, refuses past max_journal_pending with 503 (counted as
refused{reason="backlog"}, nothing written), survives a SIGKILL mid-flood,
and after the restart answers every acknowledged message exactly once, in
each chat's order, while its memory stays under a fixed ceiling.

The ceiling: the gateway's RSS right after start plus CEILING_MB. With the
bounds of this test (100 envelopes in memory, 3,000 unanswered entries in
the journal: about 200 bytes of index each) the flood adds a few MB; the
gateway before the bound held every accepted envelope (about 3 KB each,
more under ASan), so FLOOD messages took it well past the ceiling. Under
ASan the quarantine of freed memory is shrunk for the gateway so that RSS
follows live memory. Only memory is bounded here, never time."""

import http.client
import json
import os
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402

THREADS = 8
CHATS_PER_THREAD = 8
PER_THREAD = 2000
FLOOD = THREADS * PER_THREAD       # 16,000 webhooks
MAX_BACKLOG = 100
MAX_PENDING = 3000
REPLAY_AT_ONCE = 2000   # GW_MAX_BACKLOG_DEFAULT: queued at once at start
CEILING_MB = 40
CHAT0 = 7_100_000


def vm(pid, key):
    """VmRSS / VmHWM of pid in KiB (0 once it is gone)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Sampler:
    """The highest VmRSS of a process, sampled until stopped (VmHWM too,
    which the kernel keeps exactly)."""

    def __init__(self, pid):
        self.pid, self.peak, self.hwm = pid, 0, 0
        self.stop_ev = threading.Event()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        while not self.stop_ev.is_set():
            self.sample()
            self.stop_ev.wait(0.05)

    def sample(self):
        self.peak = max(self.peak, vm(self.pid, "VmRSS"))
        self.hwm = max(self.hwm, vm(self.pid, "VmHWM"))

    def stop(self):
        self.sample()
        self.stop_ev.set()
        self.t.join(5)
        return max(self.peak, self.hwm)


class Flood(F.FakesCase):
    def setUp(self):
        super().setUp()
        # RSS follows live memory under ASan (inherited by the gateway)
        opts = os.environ.get("ASAN_OPTIONS", "")
        os.environ["ASAN_OPTIONS"] = (opts + ":" if opts else "") + \
            "quarantine_size_mb=4:thread_local_quarantine_size_kb=64"
        self.cfg["channels"]["telegram"]["rate_limit_per_minute"] = 0
        # the smallest compaction threshold: the journal is rewritten
        # while most entries are only in the file (copied from the old one)
        self.cfg.update(workers=4, max_backlog=MAX_BACKLOG,
                        max_journal_pending=MAX_PENDING,
                        journal_compact_bytes=4096)
        self.gw = None

    def stop_gateways(self):
        self.rt.release()   # a held runtime would hold up the shutdown
        if self.gw:
            self.gw.stop()

    def start(self, data_dir=None):
        self.gw = F.Gateway(self.rt.url, self.cfg, data_dir=data_dir).start()
        return self.gw

    def flood_thread(self, k, host, port, out):
        """PER_THREAD updates over this thread's own chats, one at a time
        (so each chat's acknowledged messages have a defined order). A
        request cut by the SIGKILL is "maybe" (journaled or not) and ends
        the thread."""
        conn = http.client.HTTPConnection(host, port, timeout=120)
        for i in range(PER_THREAD):
            chat = CHAT0 + k * CHATS_PER_THREAD + i % CHATS_PER_THREAD
            text = "flood %d %d" % (k, i)
            body = json.dumps(F.tg_update(
                text, chat_id=chat, user_id=chat,
                update_id=10 ** 9 + k * PER_THREAD + i)).encode()
            try:
                conn.request("POST", "/telegram/webhook", body, {
                    "Content-Type": "application/json",
                    "X-Telegram-Bot-Api-Secret-Token": F.TG_SECRET})
                r = conn.getresponse()
                data = r.read()
            except (ConnectionError, http.client.HTTPException, OSError):
                with out["lock"]:
                    out["maybe"].append(text)
                break
            with out["lock"]:
                if r.status == 200:
                    out["acked"].append((chat, text))
                else:
                    out["refused"].append((r.status,
                                           r.getheader("Retry-After"),
                                           data, text))
        conn.close()

    def metrics(self, gw):
        """/metrics as {name{labels}: value}."""
        m = {}
        for line in gw.get("/metrics").text.splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                m[k] = float(v)
        return m

    def test_flood_bounded_memory_refusals_and_crash(self):
        gw = self.start()
        data_dir = gw.data_dir
        # warm up (first allocations, connections), then the baseline
        for i in range(20):
            gw.post("/telegram/webhook", F.tg_update(
                "warm %d" % i, chat_id=CHAT0 - 1, user_id=CHAT0 - 1),
                {"X-Telegram-Bot-Api-Secret-Token": F.TG_SECRET})
        wait_for(lambda: gw.metric("claw_gateway_journal_depth") == 0 and
                 len(F.tg_replies(self.fc, CHAT0 - 1)) == 20,
                 120, what="warm-up replies")
        pid = gw.daemon.pid
        base = vm(pid, "VmRSS")
        ceiling = base + CEILING_MB * 1024

        # the runtime answers nothing: every accepted message waits
        self.rt.hold()
        sampler = Sampler(pid)
        host, port = gw.url[len("http://"):].rsplit(":", 1)
        out = {"acked": [], "refused": [], "maybe": [],
               "lock": threading.Lock()}
        ts = [threading.Thread(target=self.flood_thread,
                               args=(k, host, int(port), out))
              for k in range(THREADS)]
        for t in ts:
            t.start()
        # mid-flood: the journal is full and refusals are flowing
        wait_for(lambda: len(out["refused"]) >= FLOOD // 4 or
                 not any(t.is_alive() for t in ts), 300, interval=0.1,
                 what="refusals")
        with out["lock"]:
            refused_before = len(out["refused"])
        m = self.metrics(gw)
        with out["lock"]:
            refused_after = len(out["refused"])
        gw.daemon.kill()     # SIGKILL with the backlog in the journal
        self.gw = None
        for t in ts:
            t.join(120)
        peak = sampler.stop()
        acked, refused = out["acked"], out["refused"]
        print("flood: %d acknowledged, %d refused, %d cut by the SIGKILL; "
              "gateway RSS %.1f MB at start, peak %.1f MB (ceiling %.1f "
              "MB)" % (len(acked), len(refused), len(out["maybe"]),
                       base / 1024, peak / 1024, ceiling / 1024))
        self.assertLessEqual(peak, ceiling)
        # the journal's bound: exactly that many unanswered entries
        self.assertEqual(len(acked), MAX_PENDING)
        self.assertEqual(m["claw_gateway_journal_depth"], MAX_PENDING)
        # at most max_backlog envelopes were ever queued in memory; the
        # rest waited in the journal file only
        self.assertLessEqual(m["claw_gateway_backlog_memory_peak"],
                             MAX_BACKLOG)
        self.assertEqual(m['claw_gateway_backlog_messages{held="journal"}'],
                         MAX_PENDING -
                         m['claw_gateway_backlog_messages{held="memory"}'])
        # every refusal counted (the ones answered while /metrics was read
        # may be in it or not)
        n = m['claw_gateway_refused_total{channel="telegram",'
              'reason="backlog"}']
        self.assertGreaterEqual(n, refused_before)
        self.assertLessEqual(n, refused_after + THREADS)
        for status, retry_after, body, _ in refused:
            self.assertEqual(status, 503, body)
            self.assertEqual(json.loads(body)["error"]["code"],
                             "backlog_full")
            self.assertTrue(retry_after and int(retry_after) > 0)

        # restart on the journal: the oldest entries are queued, the rest
        # stay in the file until those are answered
        gw = self.start(data_dir=data_dir)
        sampler = Sampler(gw.daemon.pid)
        self.assertEqual(gw.metric(
            'claw_gateway_backlog_messages{held="journal"}'),
            MAX_PENDING - REPLAY_AT_ONCE)
        self.rt.release()
        wait_for(lambda: gw.metric("claw_gateway_journal_depth") == 0, 600,
                 interval=0.5, what="an empty journal")
        peak = sampler.stop()
        print("restart: the journal drained, gateway RSS peak %.1f MB" % (
            peak / 1024))
        # the restarted gateway replays within the same ceiling (its
        # start costs what the first one's did)
        self.assertLessEqual(peak, ceiling)
        self.assertLessEqual(gw.metric("claw_gateway_backlog_memory_peak"),
                             REPLAY_AT_ONCE)
        # every acknowledged message answered exactly once, in its chat's
        # order; a refused one never reached the runtime (not journaled);
        # one cut by the SIGKILL at most once
        want = {}
        for chat, text in acked:
            want.setdefault(chat, []).append("echo: " + text)
        sent = [c[4] for c in self.fc.sent("telegram", "sendMessage")
                if c[4]["chat_id"] >= CHAT0]
        texts = [b["text"] for b in sent]
        self.assertEqual(len(texts), len(set(texts)))
        for chat, w in want.items():
            got = [t for t in F.tg_replies(self.fc, chat) if t in set(w)]
            self.assertEqual(got, w)
        maybe = set("echo: " + t for t in out["maybe"])
        self.assertEqual(len(texts), len(acked) + len(maybe & set(texts)))
        seen = set(self.rt.texts())
        for _, _, _, text in refused:
            self.assertNotIn(text, seen)


    def test_bounds_out_of_range_refuse_start(self):
        d = F.Gateway(self.rt.url, {"tenant": "t"})
        path = os.path.join(d.dir, "c.json")
        for over in ({"max_backlog": 0}, {"max_backlog": 10 ** 7},
                     {"max_backlog": 500, "max_journal_pending": 499},
                     {"max_journal_pending": 10 ** 8}):
            with open(path, "w") as f:
                json.dump(dict({"tenant": "t", "channels": {}}, **over), f)
            p = subprocess.run([F.GATEWAY, "--config", path,
                                "--secrets-dir", d.secrets_dir,
                                "--data-dir", d.data_dir,
                                "--listen", "127.0.0.1:0"],
                               capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 2, over)
            self.assertIn("max_backlog must be", p.stderr.decode(), over)


if __name__ == "__main__":
    unittest.main(verbosity=2)
