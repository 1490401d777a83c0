"""test_elicitation.py - a tool server's elicitation/create through the
real runtime's message API, against the Streamable HTTP test server
(mcp_http_server.py) whose "ask" tool asks on its own POST stream and
"ask_get" on the standalone GET stream:

- "decline" (the default): answered "decline" at once, the turn goes on;
- "ask": the question ends the pending reply ("question": true), the
  conversation's next message is the answer, read and checked against the
  requested schema (an answer that does not fit is refused with why and
  the question again, never sent to the server), defaults filled in;
  the tool call's own time-out does not run while the user answers;
- "/decline" from the user; a question nobody answers is cancelled in
  time and the user is told with the next reply, as is the rest of the
  turn that no one was waiting for."""
import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fake_llm import FakeLLM  # noqa: E402
from mcp_http_server import MCPHTTPServer  # noqa: E402
from rtharness import Runtime, RuntimeCase  # noqa: E402


def provider(url):
    return {"kind": "openai", "base_url": url, "model": "m",
            "api_key_secret": "key", "timeout_ms": 20000}


class ElicitationTest(RuntimeCase):
    def setUp(self):
        self.llm = FakeLLM()
        self.mcp = MCPHTTPServer(offer_get=True, get_hold=60)
        super().setUp()

    def tearDown(self):
        super().tearDown()
        self.mcp.close()
        self.llm.close()

    def runtime(self, **extra):
        cfg = {"providers": [provider(self.llm.url)],
               "mcp_servers": [{"name": "web", "url": self.mcp.url,
                                "timeout_ms": 1000}]}
        cfg.update(extra)
        rt = Runtime(cfg, {"key": "k"}).start()
        self.rts.append(rt)
        return rt

    def answers(self):
        with self.mcp.lock:
            return [a.get("result") for a in self.mcp.answers.values()]

    def tool_result(self):
        msgs = self.llm.requests[-1]["body"]["messages"]
        return [m for m in msgs if m["role"] == "tool"][-1]["content"]

    def wait_for(self, cond, what):
        for _ in range(400):
            if cond():
                return
            threading.Event().wait(0.05)
        self.fail("timed out waiting for " + what)

    def test_decline_by_default(self):
        rt = self.runtime()
        self.llm.push({"tool": "web__ask", "args": {}}, {"text": "ok"})
        st, body = rt.send("book a hotel")
        self.assertEqual(st, 200)
        self.assertEqual(body["reply"], "ok")
        self.assertNotIn("question", body)
        self.assertEqual(self.answers(), [{"action": "decline"}])
        self.assertIn('\\"action\\": \\"decline\\"', json.dumps(
            self.tool_result()))

    def test_ask_on_the_post_stream(self):
        rt = self.runtime(elicitation="ask")
        self.llm.push({"tool": "web__ask", "args": {}}, {"text": "booked"})
        st, body = rt.send("book a hotel", conversation="c1", msg_id="m1")
        self.assertEqual(st, 200)
        self.assertTrue(body.get("question"))
        self.assertEqual(body["id"], "m1")
        self.assertIn("The tool server 'web' asks: Where to?",
                      body["reply"])
        self.assertIn("- city (City): text", body["reply"])
        self.assertIn("nights: a whole number; default 2", body["reply"])
        # the tool call's 1 s time-out does not run while the user thinks
        threading.Event().wait(1.5)
        # a bad answer is refused with why, and never sent
        st, body = rt.send("city: X\nnights: 3", conversation="c1",
                           msg_id="m2")
        self.assertTrue(body.get("question"))
        self.assertIn("does not fit: 'city' must be at least 2",
                      body["reply"])
        self.assertEqual(self.answers(), [])
        st, body = rt.send("nights: 40\ncity: Paris", conversation="c1")
        self.assertIn("'nights' must be at most 30", body["reply"])
        # a good one goes to the server, completed with the defaults, and
        # this request gets the rest of the turn
        st, body = rt.send("city: Paris\nnights: 3", conversation="c1",
                           msg_id="m4")
        self.assertEqual(body["id"], "m4")
        self.assertEqual(body["reply"], "booked")
        self.assertNotIn("question", body)
        self.assertEqual(self.answers(), [{"action": "accept", "content": {
            "city": "Paris", "nights": 3, "breakfast": False}}])
        self.assertIn('answer: {\\"action\\": \\"accept\\"',
                      json.dumps(self.tool_result()))
        # the conversation goes on as usual
        st, body = rt.send("thanks", conversation="c1")
        self.assertEqual(body["reply"], "echo: thanks")

    def test_ask_on_the_get_stream_streamed_and_declined(self):
        rt = self.runtime(elicitation="ask")
        self.wait_for(lambda: any(r["method"] == "GET"
                                  for r in self.mcp.records), "the GET")
        self.llm.push({"tool": "web__ask_get", "args": {}},
                      {"text": "as you wish"})
        st, events = rt.send("book", conversation="c2", stream=True)
        done = [d for n, d in events if n == "done"][0]
        self.assertTrue(done.get("question"))
        self.assertIn("Where to?", "".join(d["text"] for n, d in events
                                           if n == "delta"))
        st, events = rt.send("/decline", conversation="c2", stream=True)
        done = [d for n, d in events if n == "done"][0]
        self.assertEqual(done["reply"], "as you wish")
        self.assertEqual(self.answers(), [{"action": "decline"}])

    def test_unanswered_question_is_cancelled_and_said(self):
        rt = self.runtime(elicitation="ask", elicitation_timeout_ms=1000)
        self.llm.push({"tool": "web__ask", "args": {}},
                      {"text": "done without you"})
        st, body = rt.send("book", conversation="c3")
        self.assertTrue(body.get("question"))
        self.wait_for(lambda: self.answers() == [{"action": "cancel"}],
                      "the cancel")
        self.wait_for(lambda: len(self.llm.requests) >= 2,
                      "the turn's end")
        st, body = rt.send("hello again", conversation="c3")
        self.assertIn("No answer came within 1 seconds to the question of "
                      "the tool server 'web'", body["reply"])
        self.assertIn("finished while no one was waiting for it:)\n"
                      "done without you", body["reply"])
        self.assertTrue(body["reply"].endswith("echo: hello again"))
        self.assertIn("no answer in time; cancelled", rt.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
