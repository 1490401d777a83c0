"""Slack Socket Mode and the Discord Gateway over WebSocket (libwebsockets
in the gateway) against fake WebSocket servers: hello, envelopes
acknowledged after journaling, refresh/disconnect, identify, heartbeats,
MESSAGE_CREATE, reconnect and resume."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402


class Sockets(F.FakesCase):
    def test_slack_socket_mode(self):
        self.cfg["channels"]["slack"]["mode"] = "socket"
        self.gw = F.Gateway(self.rt.url, self.cfg).start()
        ws = self.fc.wait_ws("slack", 1)
        self.assertIn("ticket=t1", ws.path)
        ev = F.slack_event("via socket", channel="D0901")
        ws.send_json({"envelope_id": "env-1", "type": "events_api",
                      "payload": ev, "accepts_response_payload": False,
                      "retry_attempt": 0, "retry_reason": ""})
        self.assertEqual(ws.expect(lambda m: True),
                         {"envelope_id": "env-1"})
        call = wait_for(lambda: [c for c in self.fc.sent("slack")
                                 if c[4]["channel"] == "D0901"], what="reply")
        self.assertEqual(call[0][4]["text"], "echo: via socket")
        # a redelivery of the same event is acknowledged, answered once
        ws.send_json({"envelope_id": "env-2", "type": "events_api",
                      "payload": ev, "accepts_response_payload": False,
                      "retry_attempt": 1, "retry_reason": "timeout"})
        self.assertEqual(ws.expect(lambda m: True),
                         {"envelope_id": "env-2"})
        # the events endpoint is off in socket mode
        body = json.dumps(ev).encode()
        self.assertEqual(self.gw.post("/slack/events", body,
                                      F.sign_slack(body)).status, 404)
        # Slack asks for a refresh: a new URL and a new connection
        ws.send_json({"type": "disconnect", "reason": "refresh_requested",
                      "debug_info": {"host": "fake"}})
        ws2 = self.fc.wait_ws("slack", 2)
        self.assertIn("ticket=t2", ws2.path)
        ws2.send_json({"envelope_id": "env-3", "type": "events_api",
                       "payload": F.slack_event("again", channel="D0902"),
                       "accepts_response_payload": False,
                       "retry_attempt": 0, "retry_reason": ""})
        ws2.expect(lambda m: m.get("envelope_id") == "env-3")
        wait_for(lambda: [c for c in self.fc.sent("slack")
                          if c[4]["channel"] == "D0902"], what="reply 2")
        self.assertEqual(len([c for c in self.fc.sent("slack")
                              if c[4]["channel"] == "D0901"]), 1)

    def test_discord_gateway(self):
        self.cfg["channels"]["discord"]["gateway"] = True
        self.gw = F.Gateway(self.rt.url, self.cfg).start()
        ws = self.fc.wait_ws("discord", 1)
        self.assertIn("v=10", ws.path)
        ident = ws.expect(lambda m: m.get("op") == 2, q=ws.others)
        self.assertEqual(ident["d"]["token"], F.DISCORD_BOT)
        self.assertEqual(ident["d"]["intents"] & (1 << 15), 1 << 15)
        ws.send_json({"op": 0, "s": 1, "t": "READY", "d": {
            "v": 10, "user": {"id": "999", "username": "claw", "bot": True},
            "session_id": "sess-1", "guilds": [],
            "resume_gateway_url": "ws://127.0.0.1:%d/discord-resume" %
            self.fc.srv.server_address[1]}})
        # a DM, then a guild message that mentions the bot, one that does not
        ws.send_json({"op": 0, "s": 2, "t": "MESSAGE_CREATE", "d": {
            "id": "1200000000000000101", "channel_id": "3000000000000000001",
            "author": {"id": "42", "username": "ann"}, "content": "dm hi",
            "mentions": [], "attachments": []}})
        ws.send_json({"op": 0, "s": 3, "t": "MESSAGE_CREATE", "d": {
            "id": "1200000000000000102", "channel_id": "3000000000000000002",
            "guild_id": "4", "author": {"id": "42", "username": "ann"},
            "content": "<@999> hey", "mentions": [{"id": "999"}],
            "attachments": []}})
        ws.send_json({"op": 0, "s": 4, "t": "MESSAGE_CREATE", "d": {
            "id": "1200000000000000103", "channel_id": "3000000000000000002",
            "guild_id": "4", "author": {"id": "43", "username": "bob"},
            "content": "chatter", "mentions": [], "attachments": []}})
        calls = wait_for(lambda: (lambda c: len(c) >= 2 and c)(
            [c for c in self.fc.sent("discord") if "/channels/" in c[2]]),
            what="2 replies")
        by_chan = {c[2].split("/")[-2]: c[4] for c in calls}
        self.assertEqual(by_chan["3000000000000000001"]["content"],
                         "echo: dm hi")
        guild = by_chan["3000000000000000002"]
        self.assertEqual(guild["content"], "echo: <@999> hey")
        self.assertEqual(guild["message_reference"]["message_id"],
                         "1200000000000000102")
        wait_for(lambda: ws.heartbeats >= 1, what="a heartbeat")
        # Reconnect (op 7): the gateway resumes on resume_gateway_url
        ws.send_json({"op": 7, "d": None})
        ws2 = self.fc.wait_ws("discord", 2)
        self.assertTrue(ws2.path.startswith("/discord-resume"))
        resume = ws2.expect(lambda m: m.get("op") in (2, 6), q=ws2.others)
        self.assertEqual(resume["op"], 6)
        self.assertEqual(resume["d"], {"token": F.DISCORD_BOT,
                                       "session_id": "sess-1", "seq": 4})
        ws2.send_json({"op": 0, "s": 5, "t": "RESUMED", "d": {}})
        time.sleep(0.3)
        self.assertEqual(len([c for c in self.fc.sent("discord")
                              if "/channels/" in c[2]]), 2)
        self.assertEqual(self.fc.opens["discord"], 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
