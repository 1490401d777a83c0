"""The OpenAI-compatible endpoints of claw-gateway driven by the official
`openai` npm SDK (pinned in tests/node-clients; the script
tests/node-clients/openai_sdk.mjs does the calls and reports what the SDK
saw): models.list()/retrieve(), chat completions plain and streamed (with
stream_options.include_usage, and the SDK's stream helper), the Responses
API plain, continued with previous_response_id, with messages as input,
streamed (raw events and the helper), and the refusals as the SDK's typed
errors (OpenAI's error object: message, type, param, code): a bad key,
empty messages, an unknown model, a bad previous_response_id, a suspended
tenant (no SDK retries: x-should-retry: false), a runtime that fails
(502, and in streams an error event / response.failed). Also, without
the SDK: the per-sender rate limit as 429 with Retry-After in OpenAI's
shape, and the endpoints refused to other channels' tokens."""

import json
import os
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402

SOURCE = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                      ".."))
CLIENTS = os.path.join(SOURCE, "tests", "node-clients")
SCRIPT = os.path.join(CLIENTS, "openai_sdk.mjs")
SDK = os.path.join(CLIENTS, "node_modules", "openai", "package.json")


def sdk_missing():
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.exists(SDK):
        return "run npm ci in tests/node-clients first"
    return None


class OpenAISDK(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        why = sdk_missing()
        if why:
            raise unittest.SkipTest(why)
        cls.rt = F.FakeRuntime()
        cls.cfg = {"tenant": "acme", "channels": {"openai": {
            "models": ["claw", "claw-mini"],
            "rate_limit_per_minute": 40}}}
        cls.gw = F.Gateway(cls.rt.url, cls.cfg).start()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()
        cls.rt.close()

    def setUp(self):
        self.rt.release()
        self.rt.fail_next = 0

    def sdk(self, scenario):
        p = subprocess.run(["node", SCRIPT, self.gw.url + "/v1",
                            F.OPENAI_TOKEN, scenario],
                           capture_output=True, timeout=120, cwd=CLIENTS)
        self.assertEqual(p.returncode, 0, p.stderr.decode())
        return json.loads(p.stdout)

    def env_of(self, text):
        return [e for e in self.rt.envelopes if e["text"] == text]

    def assertSDKError(self, res, cls, status, code, param=None):
        self.assertFalse(res["ok"], res)
        self.assertEqual((res["name"], res["status"], res["code"]),
                         (cls, status, code), res)
        self.assertEqual(res["param"], param, res)
        # OpenAI's object, with the platform's request id beside it
        self.assertEqual(set(res["error"]),
                         {"message", "type", "param", "code",
                          "request_id"}, res)
        self.assertTrue(res["error"]["message"])
        self.assertTrue(res["requestID"])

    def test_main(self):
        out = self.sdk("main")
        # models
        self.assertTrue(out["models"]["ok"], out["models"])
        models = out["models"]["value"]
        self.assertEqual([m["id"] for m in models], ["claw", "claw-mini"])
        for m in models:
            self.assertEqual((m["object"], m["owned_by"]), ("model", "acme"))
            self.assertIsInstance(m["created"], int)
        self.assertEqual(out["model"]["value"]["id"], "claw-mini")
        self.assertSDKError(out["model_missing"], "NotFoundError", 404,
                            "model_not_found", "model")
        self.assertEqual(out["model_missing"]["type"],
                         "invalid_request_error")

        # chat: the reply, usage, the history, the user's conversation
        chat = out["chat"]["value"]
        self.assertEqual(chat["object"], "chat.completion")
        self.assertEqual(chat["choices"][0]["message"]["content"],
                         "echo: hello sdk")
        self.assertEqual(chat["choices"][0]["finish_reason"], "stop")
        self.assertEqual(chat["usage"], {"prompt_tokens": 3,
                                         "completion_tokens": 5,
                                         "total_tokens": 8})
        env = self.env_of("hello sdk")[0]
        self.assertEqual(env["sender"]["id"], "ann")
        self.assertNotIn("history", env)   # the system message is left out

        # a stream with include_usage: usage only in the last chunk
        chunks = out["chat_stream"]["value"]
        text = "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in chunks if c["choices"])
        self.assertEqual(text, "echo: stream sdk")
        self.assertEqual(chunks[-1]["choices"], [])
        self.assertEqual(chunks[-1]["usage"]["total_tokens"], 8)
        self.assertTrue(all(c.get("usage", "absent") is None
                            for c in chunks[:-1]))
        self.assertEqual(chunks[-2]["choices"][0]["finish_reason"], "stop")
        self.assertEqual(chunks[0]["choices"][0]["delta"]["role"],
                         "assistant")
        # without it: no usage anywhere
        plain = out["chat_stream_plain"]["value"]
        self.assertTrue(all("usage" not in c for c in plain))
        self.assertEqual(plain[-1]["choices"][0]["finish_reason"], "stop")
        # the SDK's stream helper assembles the same completion
        helper = out["chat_helper"]["value"]
        self.assertEqual(helper["choices"][0]["message"]["content"],
                         "echo: helper sdk")
        self.assertEqual(helper["usage"]["total_tokens"], 8)

        # refusals as the SDK's typed errors
        self.assertSDKError(out["bad_key_chat"], "AuthenticationError", 401,
                            "unauthorized")
        self.assertSDKError(out["bad_key_models"], "AuthenticationError",
                            401, "unauthorized")
        self.assertSDKError(out["empty_messages"], "BadRequestError", 400,
                            "bad_request", "messages")
        self.assertSDKError(out["no_model"], "BadRequestError", 400,
                            "bad_request", "model")
        self.assertEqual(out["empty_messages"]["type"],
                         "invalid_request_error")

        # Responses: the output text, usage, the conversation continued
        r1 = out["response"]["value"]
        self.assertEqual((r1["object"], r1["status"]),
                         ("response", "completed"))
        self.assertEqual(out["response_text"], "echo: respond sdk")
        self.assertEqual(r1["output"][0]["content"][0]["type"],
                         "output_text")
        self.assertEqual(r1["usage"]["total_tokens"], 8)
        r2 = out["response_next"]["value"]
        self.assertEqual(r2["output_text"], "echo: and then")
        self.assertEqual(r2["previous_response_id"], r1["id"])
        first, then = self.env_of("respond sdk")[0], self.env_of("and then")[0]
        self.assertEqual(first["conversation"], then["conversation"])
        self.assertNotEqual(first["conversation"],
                            self.env_of("stream responses")[0][
                                "conversation"])
        msgs = self.env_of("second turn")[0]
        self.assertEqual(msgs["history"], [
            {"role": "user", "content": "first turn"},
            {"role": "assistant", "content": "ok"}])
        self.assertEqual(out["response_messages"]["value"]["output_text"],
                         "echo: second turn")

        # the streamed Responses events, in OpenAI's order
        events = out["response_events"]["value"]
        types = [e["type"] for e in events]
        self.assertEqual(types[:4], ["response.created",
                                     "response.in_progress",
                                     "response.output_item.added",
                                     "response.content_part.added"])
        self.assertEqual(types[-4:], ["response.output_text.done",
                                      "response.content_part.done",
                                      "response.output_item.done",
                                      "response.completed"])
        self.assertGreater(types.count("response.output_text.delta"), 1)
        self.assertEqual([e["sequence_number"] for e in events],
                         list(range(len(events))))
        self.assertEqual("".join(e["delta"] for e in events
                                 if e["type"] ==
                                 "response.output_text.delta"),
                         "echo: stream responses")
        done = events[-1]["response"]
        self.assertEqual(done["output"][0]["content"][0]["text"],
                         "echo: stream responses")
        self.assertEqual(done["usage"]["total_tokens"], 8)
        helper = out["response_helper"]["value"]
        self.assertEqual(helper["output_text"], "echo: helper responses")
        self.assertEqual("".join(helper["deltas"]), "echo: helper responses")

        self.assertSDKError(out["response_bad_prev"], "BadRequestError", 400,
                            "bad_request", "previous_response_id")
        self.assertSDKError(out["response_no_input"], "BadRequestError", 400,
                            "bad_request", "input")

    def test_suspended(self):
        cfg = json.loads(json.dumps(self.cfg))
        cfg["suspended"] = True
        cfg["unavailable_text"] = "Acme's assistant is paused."
        before = self.gw.metric('claw_gateway_refused_total{'
                                'channel="openai",reason="suspended"}')
        n = self.rt.count()
        self.gw.reload(cfg)
        try:
            out = self.sdk("suspended")
        finally:
            self.gw.reload(self.cfg)
        self.assertSDKError(out["chat"], "InternalServerError", 503,
                            "tenant_suspended")
        self.assertEqual(out["chat"]["error"]["message"],
                         "Acme's assistant is paused.")
        self.assertSDKError(out["response"], "InternalServerError", 503,
                            "tenant_suspended")
        # one request each: the SDK honoured x-should-retry: false
        self.assertEqual(self.gw.metric('claw_gateway_refused_total{'
                                        'channel="openai",'
                                        'reason="suspended"}'), before + 2)
        self.assertEqual(self.rt.count(), n)

    def test_runtime_down(self):
        self.rt.fail_next = 1000
        out = self.sdk("runtime_down")
        self.rt.fail_next = 0
        self.assertSDKError(out["chat"], "InternalServerError", 502,
                            "runtime_error")
        self.assertEqual(out["chat"]["type"], "server_error")
        self.assertSDKError(out["response"], "InternalServerError", 502,
                            "runtime_error")
        # in a chat stream: the SDK raises the error event
        res = out["chat_stream"]
        self.assertFalse(res["ok"])
        self.assertEqual((res["name"], res["code"]),
                         ("APIError", "runtime_error"), res)
        # a Responses stream ends with response.failed
        events = out["response_events"]["value"]
        self.assertEqual(events[-1]["type"], "response.failed")
        self.assertEqual(events[-1]["response"]["status"], "failed")
        self.assertEqual(events[-1]["response"]["error"]["code"],
                         "runtime_error")

    def test_rate_limit_and_tokens(self):
        """Without the SDK: 429 in OpenAI's shape with Retry-After once
        the sender's bucket is empty; other secrets open nothing here."""
        body = {"model": "claw", "user": "flood",
                "messages": [{"role": "user", "content": "flood"}]}
        auth = {"Authorization": "Bearer " + F.OPENAI_TOKEN}
        r = None
        for _ in range(45):
            r = self.gw.post("/v1/chat/completions", body, auth)
            if r.status != 200:
                break
        self.assertEqual(r.status, 429, r.text)
        err = r.json()["error"]
        self.assertEqual((err["code"], err["type"], err["param"]),
                         ("rate_limited", "requests", None))
        self.assertEqual(r.headers["Retry-After"], "2")   # 60 s / 40
        for token in (F.ADMIN_TOKEN, F.SLACK_BOT, "", F.OPENAI_TOKEN + "x"):
            for path in ("/v1/models", "/v1/models/claw"):
                r = self.gw.get(path, token=token or None)
                self.assertEqual(r.status, 401, (path, token))
                self.assertEqual(r.json()["error"]["code"], "unauthorized")
            r = self.gw.post("/v1/responses", {"model": "claw",
                                               "input": "x"},
                             {"Authorization": "Bearer " + token})
            self.assertEqual(r.status, 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
