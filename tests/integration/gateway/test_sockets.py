"""Slack Socket Mode and the Discord Gateway over WebSocket (libwebsockets
in the gateway) against fake WebSocket servers: hello, envelopes
acknowledged after journaling, refresh/disconnect, identify, heartbeats,
MESSAGE_CREATE, reconnect and resume; Discord's close codes (resume, a new
session, or stop reconnecting for good) and the reconnect backoff (1 s,
doubling, jittered), read from the gateway's own log lines."""

import json
import os
import re
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.http import free_port  # noqa: E402
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
        # Slack asks for a refresh: a new URL and a new connection, after
        # the first step of the backoff
        ws.send_json({"type": "disconnect", "reason": "refresh_requested",
                      "debug_info": {"host": "fake"}})
        ws2 = self.fc.wait_ws("slack", 2)
        self.assertIn("ticket=t2", ws2.path)
        self.assertEqual(reconnect_waits(self.gw), [1000])
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
        # /readyz's connection states (docs/gateway.md): the socket is
        # connected and has delivered; a webhook channel waits for its
        # platform
        chans = self.gw.get("/readyz").json()["channels"]
        self.assertEqual(chans["discord"]["state"], "connected")
        self.assertRegex(chans["discord"]["since"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertIn("last_event", chans["discord"])
        self.assertEqual(chans["whatsapp"], {"state": "webhook"})
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
        # closed by us to resume: never with 1000 (that ends the session)
        self.assertTrue(ws.closed.wait(10))
        self.assertEqual(ws.client_close, 4000)
        self.assertEqual(reconnect_waits(self.gw), [1000])

    def test_unreachable_socket_is_retrying(self):
        # Slack's apps.connections.open points at a closed port: the
        # channel is "retrying" in /readyz, never "connected"
        self.cfg["channels"]["slack"]["mode"] = "socket"
        self.cfg["channels"]["slack"]["api_base"] = "http://127.0.0.1:%d" % \
            free_port()
        self.gw = F.Gateway(self.rt.url, self.cfg).start()
        st = wait_for(lambda: (lambda c: c["slack"]["state"] == "retrying"
                               and c)(self.gw.get("/readyz").json()
                                      ["channels"]), what="retrying")
        self.assertNotIn("last_event", st["slack"])

    def test_discord_close_codes_and_backoff(self):
        self.cfg["channels"]["discord"]["gateway"] = True
        self.gw = F.Gateway(self.rt.url, self.cfg).start()
        ws = self.fc.wait_ws("discord", 1)
        ws.expect(lambda m: m.get("op") == 2, q=ws.others)
        ws.send_json({"op": 0, "s": 1, "t": "READY", "d": {
            "v": 10, "user": {"id": "999", "username": "claw", "bot": True},
            "session_id": "sess-9", "guilds": [],
            "resume_gateway_url": "ws://127.0.0.1:%d/discord-resume" %
            self.fc.srv.server_address[1]}})
        # Discord drops the session twice right away (4000 "unknown
        # error": resumable): each time it resumes, later each time
        n = 1
        for _ in range(2):
            ws.close(4000)
            n += 1
            ws = self.fc.wait_ws("discord", n)
            self.assertTrue(ws.path.startswith("/discord-resume"))
            m = ws.expect(lambda m: m.get("op") in (2, 6), q=ws.others)
            self.assertEqual((m["op"], m["d"]["session_id"]),
                             (6, "sess-9"))
        # 4009 "session timed out": a new session (identify, fresh URL)
        ws.close(4009)
        n += 1
        ws = self.fc.wait_ws("discord", n)
        m = ws.expect(lambda m: m.get("op") in (2, 6), q=ws.others)
        self.assertEqual(m["op"], 2)
        self.assertEqual(self.fc.opens["discord"], 2)
        waits = reconnect_waits(self.gw)
        self.assertEqual(len(waits), 3, waits)
        self.assertEqual(waits[0], 1000)
        self.assertTrue(1000 <= waits[1] <= 2000, waits)
        self.assertTrue(2000 <= waits[2] <= 4000, waits)
        # 4004 "authentication failed": retrying cannot help; the thread
        # stops with an error and a metric, no new connection
        stopped = 'claw_gateway_websocket_stopped_total{channel="discord"}'
        self.assertEqual(self.gw.metric(stopped), 0)
        ws.close(4004)
        wait_for(lambda: "closed with 4004" in self.gw.daemon.log_text(),
                 what="the 4004 decision")
        self.assertIn("not reconnecting", self.gw.daemon.log_text())
        self.assertEqual(self.gw.metric(stopped), 1)
        time.sleep(1.5)  # longer than the next backoff step could be
        self.assertEqual(len(self.fc.ws["discord"]), n)
        self.assertEqual(len(reconnect_waits(self.gw)), 3)


def reconnect_waits(gw):
    """The waits bg.c logged before each reconnect, in ms."""
    return [int(x) for x in re.findall(r"reconnecting in (\d+) ms",
                                       gw.daemon.log_text())]


if __name__ == "__main__":
    unittest.main(verbosity=2)
