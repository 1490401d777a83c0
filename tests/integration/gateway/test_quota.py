"""The gateway enforces the plan's quotas (docs/gateway.md, "Quotas"):
with turns_per_day 2 two chats reach the runtime and the third gets the
configured message on its channel (acknowledged, not an error), the
OpenAI-compatible endpoint answers 429 insufficient_quota/quota_exceeded,
refusals show in /metrics and /readyz, a raised limit (a SIGHUP with the
new config, as the node agent sends it) lets the next chat through
without a restart, a restart keeps the count (DATA-DIR/gateway/
quota.state), and a malformed quota in a reload is refused."""

import calendar
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402

MESSAGE = "You have used today's 2 chats. Upgrade or come back tomorrow."


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def quota(limit, used):
    now = int(time.time())
    day_end = (now // 86400 + 1) * 86400
    g = time.gmtime(now)
    month_end = calendar.timegm((g.tm_year + (g.tm_mon == 12),
                                 g.tm_mon % 12 + 1, 1, 0, 0, 0))
    return {"turns_per_day": {"limit": limit, "used": used,
                              "resets_at": rfc3339(day_end)},
            "tokens_per_month": {"limit": 1000000, "used": 0,
                                 "resets_at": rfc3339(month_end)},
            "message": MESSAGE}


class Quota(F.FakesCase):
    def setUp(self):
        super().setUp()
        self.gws = []

    def stop_gateways(self):
        for gw in self.gws:
            if gw.daemon and gw.daemon.proc.poll() is None:
                gw.stop()

    def start(self, cfg, data_dir=None):
        gw = F.Gateway(self.rt.url, cfg, data_dir=data_dir).start()
        self.gws.append(gw)
        return gw

    def chat(self, gw, text, chat_id=901, replies=1):
        r = gw.post("/telegram/webhook", F.tg_update(text, chat_id=chat_id),
                    {"X-Telegram-Bot-Api-Secret-Token": F.TG_SECRET})
        self.assertEqual(r.status, 200, r.text)   # acknowledged either way
        wait_for(lambda: len(F.tg_replies(self.fc, chat_id)) >= replies,
                 what="reply %d" % replies)
        return F.tg_replies(self.fc, chat_id)[replies - 1]

    def refused(self, gw, ch="telegram"):
        return gw.metric('claw_gateway_refused_total{channel="%s",'
                         'reason="quota"}' % ch) or 0

    def test_turns_enforced_raised_and_kept_over_restart(self):
        cfg = dict(self.cfg, quota=quota(2, 0))
        gw = self.start(cfg)
        self.assertEqual(self.chat(gw, "one", replies=1), "echo: one")
        self.assertEqual(self.chat(gw, "two", replies=2), "echo: two")
        # the third: the configured message, the runtime not asked
        self.assertEqual(self.chat(gw, "three", replies=3), MESSAGE)
        self.assertNotIn("three", self.rt.texts())
        self.assertEqual(self.refused(gw), 1)
        st = gw.get("/readyz").json()["quota"]
        self.assertEqual(st["turns_per_day"], {"limit": 2, "used": 2})
        self.assertEqual(st["refusals"], 1)

        # the OpenAI-compatible endpoint: OpenAI's quota error shape
        r = gw.post("/v1/chat/completions",
                    {"model": "agent",
                     "messages": [{"role": "user", "content": "hi"}]},
                    {"Authorization": "Bearer " + F.OPENAI_TOKEN})
        self.assertEqual(r.status, 429, r.text)
        e = r.json()["error"]
        self.assertEqual(e["type"], "insufficient_quota")
        self.assertEqual(e["code"], "quota_exceeded")
        self.assertEqual(e["message"], MESSAGE)
        self.assertIsNone(e["param"])
        self.assertEqual(r.headers.get("x-should-retry"), "false")
        self.assertEqual(self.refused(gw, "openai"), 1)

        # the plan goes to 5; the control plane's figure now holds the 2
        pid = gw.daemon.proc.pid
        gw.reload(dict(self.cfg, quota=quota(5, 2)))
        self.assertEqual(self.chat(gw, "four", replies=4), "echo: four")
        self.assertEqual(gw.daemon.proc.pid, pid)   # no restart
        self.assertEqual(gw.get("/readyz").json()["quota"]
                         ["turns_per_day"], {"limit": 5, "used": 3})

        # a restart keeps the local count: 2 more, then refused
        gw.stop()
        gw.write_config(dict(self.cfg, quota=quota(5, 2)))
        gw2 = self.start(dict(self.cfg, quota=quota(5, 2)),
                         data_dir=gw.data_dir)
        st = gw2.get("/readyz").json()["quota"]
        self.assertEqual(st["turns_per_day"], {"limit": 5, "used": 3})
        self.assertEqual(st["refusals"], 2)   # telegram + openai, kept
        self.assertEqual(self.chat(gw2, "five", replies=5), "echo: five")
        self.assertEqual(self.chat(gw2, "six", replies=6), "echo: six")
        self.assertEqual(self.chat(gw2, "seven", replies=7), MESSAGE)
        self.assertNotIn("seven", self.rt.texts())
        gw2.stop()

    def test_tokens_from_the_figure(self):
        q = quota(100, 0)
        q["tokens_per_month"]["used"] = 1000000
        gw = self.start(dict(self.cfg, quota=q))
        self.assertEqual(self.chat(gw, "tok", chat_id=902), MESSAGE)
        self.assertNotIn("tok", self.rt.texts())
        gw.stop()

    def test_bad_quota_refused(self):
        gw = self.start(dict(self.cfg, quota=quota(2, 0)))
        for bad in ({"turns_per_day": {"limit": -1, "used": 0,
                                       "resets_at": "2030-01-01T00:00:00Z"}},
                    {"turns_per_day": {"limit": "2", "used": 0,
                                       "resets_at": "2030-01-01T00:00:00Z"}},
                    {"turns_per_day": 2}, {"message": ""}, []):
            before = gw.daemon.log_text().count("reload refused")
            gw.write_config(dict(self.cfg, quota=bad))
            gw.daemon.send_signal(1)
            wait_for(lambda: gw.daemon.log_text().count("reload refused")
                     > before, 10, what="reload refused")
        # the running quota stayed
        self.assertEqual(gw.get("/readyz").json()["quota"]
                         ["turns_per_day"]["limit"], 2)
        # and a gateway does not start with one
        cfg = dict(self.cfg, quota={"tokens_per_month": {
            "limit": 1, "used": -5, "resets_at": "2030-01-01T00:00:00Z"}})
        bad = F.Gateway(self.rt.url, cfg)
        with self.assertRaises(Exception):
            bad.start()
        gw.stop()


if __name__ == "__main__":
    unittest.main()
