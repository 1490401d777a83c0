"""The gateway's pipeline: duplicates answered once, the journal survives
SIGKILL (every acknowledged message answered exactly once after restart),
per-conversation order, parallel conversations, runtime outages retried,
Telegram long polling, journal compaction, a journal that cannot be
written shows in /healthz while it lasts and not after, config errors at
start."""

import json
import os
import resource
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402


class Pipeline(F.FakesCase):
    def setUp(self):
        super().setUp()
        self.gws = []

    def stop_gateways(self):
        pass  # each test stops (or kills) its own

    def start(self, cfg=None, data_dir=None, extra=()):
        gw = F.Gateway(self.rt.url, cfg or self.cfg, data_dir=data_dir,
                       extra=extra).start()
        self.gws.append(gw)
        return gw

    def tg(self, gw, update):
        return gw.post("/telegram/webhook", update,
                       {"X-Telegram-Bot-Api-Secret-Token": F.TG_SECRET})

    def test_duplicate_delivery_one_reply(self):
        gw = self.start()
        u = F.tg_update("twice", chat_id=601)
        self.assertEqual(self.tg(gw, u).status, 200)
        self.assertEqual(self.tg(gw, u).status, 200)
        wait_for(lambda: F.tg_replies(self.fc, 601), what="reply")
        # and once more after it was answered
        self.assertEqual(self.tg(gw, u).status, 200)
        time.sleep(0.5)
        self.assertEqual(F.tg_replies(self.fc, 601), ["echo: twice"])
        self.assertEqual(self.rt.texts().count("twice"), 1)
        self.assertEqual(gw.metric(
            'claw_gateway_refused_total{channel="telegram",'
            'reason="duplicate"}'), 2)
        gw.stop()

    def test_sigkill_after_ack_answers_exactly_once(self):
        gw = self.start()
        self.rt.hold()
        u1 = F.tg_update("before crash", chat_id=602)
        u2 = F.tg_update("also before crash", chat_id=603)
        self.assertEqual(self.tg(gw, u1).status, 200)
        self.assertEqual(self.tg(gw, u2).status, 200)
        wait_for(lambda: self.rt.count() >= 2, what="runtime called")
        self.assertEqual(gw.metric("claw_gateway_journal_depth"), 2)
        gw.kill()                       # acknowledged, not answered
        self.rt.release()
        time.sleep(0.3)
        self.assertEqual(F.tg_replies(self.fc, 602), [])
        gw2 = self.start(data_dir=gw.data_dir)
        wait_for(lambda: F.tg_replies(self.fc, 602) and
                 F.tg_replies(self.fc, 603), what="replies after restart")
        # a retry from Telegram after the restart is still a duplicate
        self.assertEqual(self.tg(gw2, u1).status, 200)
        time.sleep(0.5)
        self.assertEqual(F.tg_replies(self.fc, 602), ["echo: before crash"])
        self.assertEqual(F.tg_replies(self.fc, 603),
                         ["echo: also before crash"])
        wait_for(lambda: gw2.metric("claw_gateway_journal_depth") == 0,
                 what="journal drained")
        gw2.stop()
        # a third start replays nothing
        self.rt.envelopes.clear()
        gw3 = self.start(data_dir=gw.data_dir)
        time.sleep(0.5)
        self.assertEqual(self.rt.count(), 0)
        self.assertEqual(len(F.tg_replies(self.fc, 602)), 1)
        gw3.stop()

    def test_order_per_conversation_parallel_across(self):
        gw = self.start()
        self.rt.barrier = 2   # each request waits for a second one
        for i in range(5):
            self.tg(gw, F.tg_update("a%d" % i, chat_id=604))
        self.tg(gw, F.tg_update("b0", chat_id=605))
        wait_for(lambda: len(F.tg_replies(self.fc, 604)) == 5 and
                 F.tg_replies(self.fc, 605), what="all replies")
        self.assertEqual(F.tg_replies(self.fc, 604),
                         ["echo: a%d" % i for i in range(5)])
        a = [t for t in self.rt.texts() if t.startswith("a")]
        self.assertEqual(a, ["a%d" % i for i in range(5)])
        self.assertGreaterEqual(self.rt.max_inflight, 2)
        gw.stop()

    def test_runtime_outage_retried(self):
        gw = self.start()
        self.rt.fail_next = 3
        self.tg(gw, F.tg_update("after outage", chat_id=606))
        wait_for(lambda: F.tg_replies(self.fc, 606), what="reply")
        self.assertEqual(F.tg_replies(self.fc, 606), ["echo: after outage"])
        gw.stop()

    def test_telegram_long_polling(self):
        cfg = json.loads(json.dumps(self.cfg))
        cfg["channels"]["telegram"]["mode"] = "polling"
        self.fc.updates = [F.tg_update("polled", chat_id=607)]
        gw = self.start(cfg)
        wait_for(lambda: F.tg_replies(self.fc, 607), what="reply")
        time.sleep(0.5)   # the offset moved on: answered once
        self.assertEqual(F.tg_replies(self.fc, 607), ["echo: polled"])
        # the webhook is off in polling mode
        self.assertEqual(self.tg(gw, F.tg_update("x")).status, 404)
        gw.stop()

    def test_journal_compaction_bounds_the_file(self):
        cfg = dict(self.cfg, journal_compact_bytes=4096)
        gw = self.start(cfg)
        for i in range(60):
            self.tg(gw, F.tg_update("m%d" % i, chat_id=700 + i,
                                   user_id=700 + i))
        wait_for(lambda: all(F.tg_replies(self.fc, 700 + i)
                             for i in range(60)), what="60 replies")
        wait_for(lambda: gw.metric("claw_gateway_journal_depth") == 0,
                 what="drained")
        path = os.path.join(gw.data_dir, "gateway", "journal.log")
        size = os.path.getsize(path)
        gw.stop()
        # 60 accepted + 60 done records are far more than this
        self.assertLess(size, 30000)
        with open(path) as f:
            kinds = {line[0] for line in f}
        self.assertTrue(kinds <= {"A", "D", "S"})

    def test_journal_write_error_shows_in_health(self):
        gw = F.Gateway(self.rt.url, self.cfg, ignore_xfsz=True).start()
        self.gws.append(gw)
        self.assertEqual(gw.get("/healthz").status, 200)
        self.assertEqual(self.tg(gw, F.tg_update("before",
                                                 chat_id=611)).status, 200)
        wait_for(lambda: F.tg_replies(self.fc, 611), what="reply")
        # files of the process may no longer grow: journal writes fail
        # (EFBIG; its log lines are lost meanwhile)
        pid = gw.daemon.pid
        soft, hard = resource.prlimit(pid, resource.RLIMIT_FSIZE)
        resource.prlimit(pid, resource.RLIMIT_FSIZE, (1, hard))
        u = F.tg_update("during", chat_id=612)
        try:
            r = self.tg(gw, u)
            self.assertEqual((r.status, r.error_code()),
                             (503, "journal_unwritable"))
            r = gw.get("/healthz")
            self.assertEqual((r.status, r.error_code()),
                             (503, "journal_unwritable"))
            self.assertEqual(gw.get("/readyz").status, 503)
            self.assertEqual(gw.metric("claw_gateway_journal_writable"), 0)
            self.assertGreaterEqual(gw.metric(
                "claw_gateway_journal_write_errors_total"), 1)
        finally:
            resource.prlimit(pid, resource.RLIMIT_FSIZE, (soft, hard))
        # the committer rewrites the file and the gateway is healthy again
        wait_for(lambda: gw.get("/healthz").status == 200, 20,
                 what="healthy again")
        self.assertIn("writable again", gw.daemon.log_text())
        self.assertEqual(gw.metric("claw_gateway_journal_writable"), 1)
        # Telegram delivers the refused update again: answered now
        self.assertEqual(self.tg(gw, u).status, 200)
        wait_for(lambda: F.tg_replies(self.fc, 612), what="reply")
        self.assertEqual(F.tg_replies(self.fc, 612), ["echo: during"])
        gw.stop()

    def test_config_errors_refuse_start(self):
        gwbin = F.GATEWAY
        d = F.Gateway(self.rt.url, {"tenant": "t"})
        cases = [
            ("missing file", "/nonexistent/gw.json", "unable to open"),
            ("bad json", "{", "line"),
            # unknown keys are named by position, never by their bytes
            ("unknown field", json.dumps({"tenant": "t", "channels": {},
                                          "bogus": 1}), "unknown field #3"),
            ("unknown channel", json.dumps({"tenant": "t", "channels":
                                            {"fax": {}}}),
             "unknown channel #1"),
            ("bad policy", json.dumps({"tenant": "t", "channels": {
                "webchat": {"dm_policy": "sometimes"}}}), "dm_policy"),
        ]
        for name, content, expect in cases:
            path = content
            if not content.startswith("/"):
                path = os.path.join(d.dir, "c.json")
                with open(path, "w") as f:
                    f.write(content)
            p = subprocess.run([gwbin, "--config", path, "--secrets-dir",
                                d.secrets_dir, "--data-dir", d.data_dir,
                                "--listen", "127.0.0.1:0"],
                               capture_output=True, timeout=30)
            self.assertEqual(p.returncode, 2, name)
            self.assertIn(expect, p.stderr.decode(), name)
            for key in ("bogus", "fax"):
                self.assertNotIn(key, p.stderr.decode(), name)
        # a missing secret of an enabled channel
        os.unlink(os.path.join(d.secrets_dir, "slack_bot_token"))
        path = os.path.join(d.dir, "c.json")
        with open(path, "w") as f:
            json.dump({"tenant": "t", "channels": {"slack": {}}}, f)
        p = subprocess.run([gwbin, "--config", path, "--secrets-dir",
                            d.secrets_dir, "--data-dir", d.data_dir],
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("slack_bot_token", p.stderr.decode())
        self.assertNotIn(F.SLACK_SIGNING, p.stderr.decode())


if __name__ == "__main__":
    unittest.main(verbosity=2)
