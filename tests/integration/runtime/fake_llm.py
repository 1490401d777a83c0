"""fake_llm.py - a fake LLM provider on 127.0.0.1 speaking both the
OpenAI Chat Completions API (POST /chat/completions, under any base path)
and the Anthropic Messages API (POST /v1/messages), plain JSON or
server-sent events when the request has "stream": true, following the
public request and response shapes.

Tests script the answers: push() queues steps that are used in order;
with the queue empty the model echoes the last user text. Every request
(path, headers, body) is recorded for the test to check.

A step is a dict:
  {"text": "..."}                      a plain answer
  {"tool": "name", "args": {...}}      one tool call (text optional)
  {"status": 429, "retry_after": "0"}  an HTTP error
  {"raw": "..."}                       this body as is (malformed answers)
  {"truncate": True, "text": "..."}    a stream cut before its end
  {"delay": 0.5, ...}                  wait before answering

A request for a model in fail_models gets HTTP 503 whatever the queue
holds (a model that is down, e.g. a summariser).
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest import fakehttp  # noqa: E402


class FakeLLM:
    def __init__(self):
        self.requests = []
        self.steps = []
        self.fail_models = set()
        self.lock = threading.Lock()
        fake = self

        class Handler(fakehttp.Handler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
                with fake.lock:
                    fake.requests.append({"path": self.path,
                                          "headers": dict(self.headers),
                                          "body": body})
                    if (isinstance(body, dict)
                            and body.get("model") in fake.fail_models):
                        step = {"status": 503}
                    else:
                        step = fake.steps.pop(0) if fake.steps else None
                try:
                    fake.answer(self, body, step)
                except OSError:
                    pass  # the runtime gave up (a time-out test)

        self.server = fakehttp.serve(Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def push(self, *steps):
        with self.lock:
            self.steps.extend(steps)

    def reset(self):
        with self.lock:
            self.requests = []
            self.steps = []

    # ---- answers

    @staticmethod
    def last_user_text(body, anthropic):
        for m in reversed(body.get("messages", [])):
            if m.get("role") != "user":
                continue
            c = m.get("content")
            if isinstance(c, str):
                return c
            for b in c:
                if b.get("type") == "text":
                    return b["text"]
            return "(tool results)"
        return ""

    def answer(self, h, body, step):
        anthropic = h.path.endswith("/v1/messages")
        if step is None:
            step = {"text": "echo: " + self.last_user_text(body or {},
                                                            anthropic)}
        if step.get("delay"):
            time.sleep(step["delay"])
        if "status" in step:
            h.send_response(step["status"])
            if "retry_after" in step:
                h.send_header("Retry-After", step["retry_after"])
            h.send_header("Content-Type", "application/json")
            h.end_headers()
            h.wfile.write(json.dumps({"error": {"message": "scripted",
                                                "type": "x"}}).encode())
            return
        stream = bool(body and body.get("stream"))
        if "raw" in step:
            h.send_response(200)
            h.send_header("Content-Type", "text/event-stream" if stream
                          else "application/json")
            h.end_headers()
            h.wfile.write(step["raw"].encode())
            return
        if anthropic:
            events = self.anthropic_events(step)
            if not stream:
                return self.json(h, self.anthropic_whole(step))
        else:
            events = self.openai_events(step)
            if not stream:
                return self.json(h, self.openai_whole(step))
        h.send_response(200)
        h.send_header("Content-Type", "text/event-stream")
        h.send_header("Cache-Control", "no-cache")
        h.end_headers()
        if step.get("truncate"):
            events = events[:len(events) // 2]
        for name, data in events:
            chunk = ""
            if name:
                chunk += "event: %s\n" % name
            chunk += "data: %s\n\n" % (data if isinstance(data, str)
                                       else json.dumps(data))
            h.wfile.write(chunk.encode())
            h.wfile.flush()

    @staticmethod
    def json(h, obj):
        data = json.dumps(obj).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    # OpenAI Chat Completions
    @staticmethod
    def openai_whole(step):
        msg = {"role": "assistant", "content": step.get("text")}
        finish = "stop"
        if "tool" in step:
            msg["tool_calls"] = [{"id": "call_1", "type": "function",
                                  "function": {"name": step["tool"],
                                               "arguments": json.dumps(
                                                   step.get("args", {}))}}]
            finish = "tool_calls"
        return {"id": "chatcmpl-1", "object": "chat.completion",
                "created": 1, "model": "fake",
                "choices": [{"index": 0, "message": msg,
                             "finish_reason": finish}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 7,
                          "total_tokens": 18}}

    @staticmethod
    def openai_events(step):
        base = {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                "created": 1, "model": "fake"}

        def chunk(delta, finish=None):
            return (None, dict(base, choices=[{"index": 0, "delta": delta,
                                               "finish_reason": finish}]))
        ev = [chunk({"role": "assistant", "content": ""})]
        text = step.get("text") or ""
        for i in range(0, len(text), 5):
            ev.append(chunk({"content": text[i:i + 5]}))
        finish = "stop"
        if "tool" in step:
            args = json.dumps(step.get("args", {}))
            ev.append(chunk({"tool_calls": [{
                "index": 0, "id": "call_1", "type": "function",
                "function": {"name": step["tool"], "arguments": ""}}]}))
            for i in range(0, len(args), 4):
                ev.append(chunk({"tool_calls": [{
                    "index": 0, "function": {"arguments": args[i:i + 4]}}]}))
            finish = "tool_calls"
        ev.append(chunk({}, finish))
        ev.append((None, dict(base, choices=[],
                              usage={"prompt_tokens": 11,
                                     "completion_tokens": 7,
                                     "total_tokens": 18})))
        ev.append((None, "[DONE]"))
        return ev

    # Anthropic Messages
    @staticmethod
    def anthropic_whole(step):
        content = []
        if step.get("text"):
            content.append({"type": "text", "text": step["text"]})
        stop = "end_turn"
        if "tool" in step:
            content.append({"type": "tool_use", "id": "toolu_1",
                            "name": step["tool"],
                            "input": step.get("args", {})})
            stop = "tool_use"
        return {"id": "msg_1", "type": "message", "role": "assistant",
                "model": "fake", "content": content, "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": 13, "output_tokens": 5}}

    @staticmethod
    def anthropic_events(step):
        ev = [("message_start", {
            "type": "message_start",
            "message": {"id": "msg_1", "type": "message",
                        "role": "assistant", "model": "fake",
                        "content": [], "stop_reason": None,
                        "stop_sequence": None,
                        "usage": {"input_tokens": 13, "output_tokens": 1}}}),
            ("ping", {"type": "ping"})]
        idx = 0
        text = step.get("text") or ""
        if text:
            ev.append(("content_block_start", {
                "type": "content_block_start", "index": idx,
                "content_block": {"type": "text", "text": ""}}))
            for i in range(0, len(text), 5):
                ev.append(("content_block_delta", {
                    "type": "content_block_delta", "index": idx,
                    "delta": {"type": "text_delta", "text": text[i:i + 5]}}))
            ev.append(("content_block_stop", {"type": "content_block_stop",
                                              "index": idx}))
            idx += 1
        stop = "end_turn"
        if "tool" in step:
            args = json.dumps(step.get("args", {}))
            ev.append(("content_block_start", {
                "type": "content_block_start", "index": idx,
                "content_block": {"type": "tool_use", "id": "toolu_1",
                                  "name": step["tool"], "input": {}}}))
            for i in range(0, len(args), 4):
                ev.append(("content_block_delta", {
                    "type": "content_block_delta", "index": idx,
                    "delta": {"type": "input_json_delta",
                              "partial_json": args[i:i + 4]}}))
            ev.append(("content_block_stop", {"type": "content_block_stop",
                                              "index": idx}))
            stop = "tool_use"
        ev.append(("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 5}}))
        ev.append(("message_stop", {"type": "message_stop"}))
        return ev
