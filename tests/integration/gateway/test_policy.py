"""Per-channel policies of claw-gateway: DM pairing (a code, nothing sent to
the runtime until the owner approves, approvals applied on SIGHUP, pending
requests on the admin endpoint), allow-lists, groups answered only when
mentioned, per-sender rate limit and maximum size with polite refusals
counted in metrics, and the suspended tenant."""

import json
import os
import re
import sys
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402


class Policy(F.FakesCase):
    def start(self, **tg):
        self.cfg["channels"]["telegram"].update(tg)
        self.gw = F.Gateway(self.rt.url, self.cfg).start()

    def tg(self, update):
        r = self.gw.post("/telegram/webhook", update,
                         {"X-Telegram-Bot-Api-Secret-Token": F.TG_SECRET})
        self.assertEqual(r.status, 200, r.text)

    def refused(self, reason):
        return self.gw.metric('claw_gateway_refused_total{channel="telegram",'
                              'reason="%s"}' % reason)

    def test_pairing(self):
        self.start(dm_policy="pairing")
        self.tg(F.tg_update("let me in", chat_id=801, user_id=801))
        text = wait_for(lambda: F.tg_replies(self.fc, 801), what="code")[0]
        code = re.search(r"pairing code ([A-Z0-9]{4}-[A-Z0-9]{4})", text)
        self.assertTrue(code, text)
        self.assertEqual(self.rt.count(), 0)
        # the node agent reads the pending request...
        self.assertEqual(self.gw.get("/admin/pairing").status, 401)
        r = self.gw.get("/admin/pairing", token=F.ADMIN_TOKEN)
        req = r.json()["pairing_requests"]
        self.assertEqual(len(req), 1)
        self.assertEqual((req[0]["channel"], req[0]["sender_id"],
                          req[0]["code"], req[0]["sender_name"]),
                         ("telegram", "801", code.group(1), "Ann"))
        # ...the same code again while it is fresh, still no runtime call
        self.tg(F.tg_update("hello?", chat_id=801, user_id=801))
        wait_for(lambda: len(F.tg_replies(self.fc, 801)) == 2, what="again")
        self.assertIn(code.group(1), F.tg_replies(self.fc, 801)[1])
        self.assertEqual(self.rt.count(), 0)
        self.assertEqual(self.refused("pairing"), 2)
        # the owner approves: the node agent writes allow_from and SIGHUPs
        self.cfg["channels"]["telegram"]["allow_from"] = ["801"]
        self.gw.reload(self.cfg)
        r = self.gw.get("/admin/pairing", token=F.ADMIN_TOKEN)
        self.assertEqual(r.json()["pairing_requests"], [])
        self.tg(F.tg_update("now?", chat_id=801, user_id=801))
        wait_for(lambda: len(F.tg_replies(self.fc, 801)) == 3, what="answer")
        self.assertEqual(F.tg_replies(self.fc, 801)[2], "echo: now?")

    def test_allowlist(self):
        self.start(dm_policy="allowlist", allow_from=["900"])
        self.tg(F.tg_update("stranger", chat_id=802, user_id=802))
        self.tg(F.tg_update("friend", chat_id=803, user_id=900))
        wait_for(lambda: F.tg_replies(self.fc, 802) and
                 F.tg_replies(self.fc, 803), what="replies")
        self.assertIn("only talks to", F.tg_replies(self.fc, 802)[0])
        self.assertEqual(F.tg_replies(self.fc, 803), ["echo: friend"])
        self.assertEqual(self.rt.texts(), ["friend"])
        self.assertEqual(self.refused("not_allowed"), 1)

    def test_groups_need_a_mention(self):
        self.start()
        self.tg(F.tg_update("chatter", chat_id=-804, chat_type="group"))
        self.tg(F.tg_update("@claw_bot what's up", chat_id=-804,
                            chat_type="supergroup"))
        wait_for(lambda: F.tg_replies(self.fc, -804), what="reply")
        time.sleep(0.3)
        self.assertEqual(F.tg_replies(self.fc, -804),
                         ["echo: @claw_bot what's up"])
        self.assertEqual(self.refused("not_mentioned"), 1)
        call = [c for c in self.fc.sent("telegram", "sendMessage")
                if c[4]["chat_id"] == -804][0]
        self.assertIn("reply_parameters", call[4])

    def test_groups_all(self):
        self.start(group_policy="all")
        self.tg(F.tg_update("chatter", chat_id=-805, chat_type="group"))
        wait_for(lambda: F.tg_replies(self.fc, -805), what="reply")

    def test_rate_limit_and_size(self):
        self.start(rate_limit_per_minute=2, max_message_bytes=50)
        self.tg(F.tg_update("x" * 51, chat_id=806, user_id=806))
        for i in range(4):
            self.tg(F.tg_update("m%d" % i, chat_id=807, user_id=807))
        wait_for(lambda: F.tg_replies(self.fc, 806) and
                 len(F.tg_replies(self.fc, 807)) >= 3, what="replies")
        time.sleep(0.3)
        self.assertIn("too long", F.tg_replies(self.fc, 806)[0])
        got = F.tg_replies(self.fc, 807)
        # two answered, one polite refusal, then silence
        self.assertEqual(got[:2], ["echo: m0", "echo: m1"])
        self.assertIn("too quickly", got[2])
        self.assertEqual(len(got), 3)
        self.assertEqual(self.refused("too_large"), 1)
        self.assertEqual(self.refused("rate_limited"), 2)

    def test_suspended_tenant(self):
        self.start()
        self.cfg["suspended"] = True
        self.gw.reload(self.cfg)
        self.tg(F.tg_update("anyone?", chat_id=808))
        body = json.dumps(F.slack_event("anyone?", channel="D0808")).encode()
        self.assertEqual(self.gw.post("/slack/events", body,
                                      F.sign_slack(body)).status, 200)
        cmd = F.discord_command("anyone?")
        body = json.dumps(cmd).encode()
        r = self.gw.post("/discord/interactions", body, F.sign_discord(body))
        self.assertEqual(r.json()["type"], 4)
        self.assertIn("unavailable", r.json()["data"]["content"])
        r = self.gw.post("/v1/chat/completions", {
            "model": "m", "messages": [{"role": "user", "content": "hi"}]},
            {"Authorization": "Bearer " + F.OPENAI_TOKEN})
        self.assertEqual((r.status, r.error_code()),
                         (503, "tenant_suspended"))
        body = json.dumps(F.wa_notification("anyone?",
                                            wa_id="15550808")).encode()
        self.assertEqual(self.gw.post("/whatsapp/webhook", body,
                                      F.sign_hub(body)).status, 200)
        session = self.gw.get("/chat").headers["Set-Cookie"].split(";")[0]
        self.assertEqual(self.gw.post("/chat/messages", {"text": "anyone?"},
                                      {"Cookie": session}).status, 202)
        wait_for(lambda: F.tg_replies(self.fc, 808) and
                 [c for c in self.fc.sent("slack")
                  if c[4]["channel"] == "D0808"] and
                 [c for c in self.fc.sent("whatsapp")
                  if c[4]["to"] == "15550808"], what="notices")
        self.assertIn("unavailable", F.tg_replies(self.fc, 808)[0])
        wa = [c for c in self.fc.sent("whatsapp") if c[4]["to"] == "15550808"]
        self.assertIn("unavailable", wa[0][4]["text"]["body"])
        req = urllib.request.Request(self.gw.url + "/chat/events",
                                     headers={"Cookie": session})
        with urllib.request.urlopen(req, timeout=20) as resp:
            line = ""
            while not line.startswith("event: message"):
                line = resp.readline().decode()
                self.assertTrue(line)
            self.assertIn("unavailable", resp.readline().decode())
        self.assertEqual(self.rt.count(), 0)
        self.assertEqual(self.gw.metric("claw_gateway_journal_depth"), 0)
        # resumed: answered again
        self.cfg["suspended"] = False
        self.gw.reload(self.cfg)
        self.tg(F.tg_update("back?", chat_id=809))
        wait_for(lambda: F.tg_replies(self.fc, 809) == ["echo: back?"],
                 what="answer")

    def test_bad_reload_keeps_config(self):
        self.start()
        with open(self.gw.config_path, "w") as f:
            f.write("{broken")
        self.gw.daemon.send_signal(1)
        wait_for(lambda: "reload refused" in self.gw.daemon.log_text(),
                 what="refusal logged")
        self.tg(F.tg_update("still up", chat_id=810))
        wait_for(lambda: F.tg_replies(self.fc, 810), what="answer")


if __name__ == "__main__":
    unittest.main(verbosity=2)
