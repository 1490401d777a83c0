"""test_runtime.py - claw-runtime end to end against fake OpenAI and
Anthropic servers, real MCP servers from npm over stdio, and a Streamable
HTTP MCP server: the message API, streaming, the tool loop, retries and
fallback, bad answers, limits, sessions across restarts, /reset and
/status, memory, and the workspace from a git repository at its pinned
commit."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from connect_proxy import ConnectProxy  # noqa: E402
from fake_llm import FakeLLM  # noqa: E402
from mcp_http_server import MCPHTTPServer  # noqa: E402
from rtharness import BINARY, Runtime, npm_server  # noqa: E402


def provider(kind, url, **kw):
    p = {"kind": kind, "base_url": url, "model": "m-" + kind,
         "api_key_secret": kind + "_key", "max_retries": 2,
         "timeout_ms": 20000}
    p.update(kw)
    return p


SECRETS = {"openai_key": "sk-test-OPENAI-SECRET\n",
           "anthropic_key": "sk-ant-SECRET"}


class Base(unittest.TestCase):
    def setUp(self):
        self.llm = FakeLLM()
        self.rts = []

    def tearDown(self):
        for rt in self.rts:
            rt.stop()
            self.assertNotIn("OPENAI-SECRET", rt.log_text())
            self.assertNotIn("sk-ant-SECRET", rt.log_text())
            self.assertNotIn("Sanitizer", rt.log_text())
            self.assertNotIn("runtime error:", rt.log_text())
        self.llm.close()

    def runtime(self, cfg, tmp=None):
        rt = Runtime(cfg, SECRETS, tmp=tmp).start()
        self.rts.append(rt)
        return rt


class ConfigTest(unittest.TestCase):
    def run_with(self, cfg):
        rt = Runtime(cfg, SECRETS)
        rt.start(expect_ok=False)
        rt.proc.wait(30)
        return rt.proc.returncode, rt.log_text()

    def test_bad_configs_are_refused_with_their_path(self):
        rc, log = self.run_with({"providers": [{"kind": "cohere",
                                                "base_url": "http://x",
                                                "model": "m"}]})
        self.assertEqual(rc, 2)
        self.assertIn("providers[0]", log)
        self.assertIn("'openai' or 'anthropic'", log)
        rc, log = self.run_with({"providers": [], "extra": 1})
        self.assertEqual(rc, 2)
        self.assertIn("unknown key 'extra'", log)
        rc, log = self.run_with({"providers": [provider(
            "openai", "http://x", api_key_secret="missing")]})
        self.assertEqual(rc, 2)
        self.assertIn("unable to open secret 'missing'", log)

    def test_help(self):
        out = subprocess.run([BINARY, "--help"], capture_output=True,
                             text=True)
        self.assertEqual(out.returncode, 0)
        self.assertIn("--data-dir", out.stdout)


class OpenAITest(Base):
    def test_plain_turn_probes_and_usage(self):
        rt = self.runtime({"tenant": "acme",
                           "providers": [provider("openai", self.llm.url)]})
        self.assertEqual(rt.get("/healthz"), (200, '{"status":"ok"}'))
        self.assertEqual(rt.get("/readyz")[0], 200)
        self.llm.push({"text": "Hello Ann!"})
        st, body = rt.send("hi there", msg_id="m1")
        self.assertEqual(st, 200)
        self.assertEqual(body["id"], "m1")
        self.assertEqual(body["reply"], "Hello Ann!")
        self.assertFalse(body["truncated"])
        self.assertEqual(body["usage"], {"input_tokens": 11,
                                         "output_tokens": 7})
        req = self.llm.requests[0]
        self.assertEqual(req["path"], "/chat/completions")
        self.assertEqual(req["headers"]["Authorization"],
                         "Bearer sk-test-OPENAI-SECRET")
        b = req["body"]
        self.assertEqual(b["model"], "m-openai")
        self.assertEqual(b["messages"][0]["role"], "system")
        self.assertIn("untrusted-content", b["messages"][0]["content"])
        self.assertEqual(b["messages"][-1], {"role": "user",
                                             "content": "hi there"})
        self.assertIn("memory_save", [t["function"]["name"]
                                      for t in b["tools"]])
        st, usage = rt.get("/v1/usage")
        usage = json.loads(usage)
        self.assertEqual(usage["tenant"], "acme")
        self.assertEqual(usage["input_tokens"], 11)
        self.assertEqual(usage["providers"]["openai"]["output_tokens"], 7)
        st, metrics = rt.get("/metrics")
        self.assertIn("claw_runtime_turns_total 1", metrics)
        # a duplicate delivery gets the same reply without a model call
        st, again = rt.send("hi there", msg_id="m1")
        self.assertEqual(again["reply"], "Hello Ann!")
        self.assertEqual(len(self.llm.requests), 1)
        # bad envelopes get the shared error shape
        st, err = rt.send("x", conversation="")
        self.assertEqual(st, 422)
        self.assertEqual(err["error"]["code"], "invalid_field")

    def test_max_tokens_caps_the_call(self):
        # a message's max_tokens (the OpenAI endpoint's client cap) is
        # what the provider is asked for when under the provider's own;
        # over it, the provider's; a bad one is refused before any call
        rt = self.runtime({"tenant": "acme", "providers": [
            provider("openai", self.llm.url, max_tokens=300)]})
        for cap, sent in ((1, 1), (5000, 300), (None, 300)):
            self.llm.push({"text": "ok"})
            extra = {"max_tokens": cap} if cap else {}
            st, _ = rt.send("hi", conversation="mt%s" % cap, **extra)
            self.assertEqual(st, 200)
            self.assertEqual(self.llm.requests[-1]["body"]["max_tokens"],
                             sent)
        n = len(self.llm.requests)
        for bad in (-1, 0.5, "1", 1000001):
            st, err = rt.send("hi", conversation="bad", max_tokens=bad)
            self.assertEqual((st, err["error"]["code"]),
                             (422, "invalid_field"), bad)
        self.assertEqual(len(self.llm.requests), n)

    def test_streamed_tool_call_memory(self):
        rt = self.runtime({"providers": [provider("openai", self.llm.url)]})
        self.llm.push({"text": "Noting.", "tool": "memory_save",
                       "args": {"note": "likes tea"}},
                      {"text": "I will remember that you like tea."})
        st, events = rt.send("remember I like tea", stream=True)
        self.assertEqual(st, 200)
        names = [e[0] for e in events]
        self.assertEqual(names[-1], "done")
        self.assertIn("delta", names)
        text = "".join(e[1]["text"] for e in events if e[0] == "delta")
        self.assertIn("remember that you like tea", text)
        done = events[-1][1]
        self.assertEqual(text, done["reply"])
        self.assertEqual(text, "Noting.\n\nI will remember that you like tea.")
        self.assertTrue(self.llm.requests[0]["body"]["stream"])
        second = self.llm.requests[1]["body"]["messages"]
        tool_msg = [m for m in second if m["role"] == "tool"][0]
        self.assertEqual(tool_msg["tool_call_id"], "call_1")
        self.assertEqual(tool_msg["content"], "ok")  # built-in, trusted
        asst = [m for m in second if m["role"] == "assistant"][0]
        self.assertEqual(json.loads(asst["tool_calls"][0]["function"]
                                    ["arguments"]), {"note": "likes tea"})
        # the note is in the next turn's system prompt
        rt.send("what do I like?")
        self.assertIn("likes tea",
                      self.llm.requests[2]["body"]["messages"][0]["content"])

    def test_usage_counters_since_boot(self):
        cfg = {"tenant": "acme",
               "providers": [provider("openai", self.llm.url)]}
        rt = self.runtime(cfg)
        self.llm.push({"text": "Noting.", "tool": "memory_save",
                       "args": {"note": "likes tea"}},
                      {"text": "Done."})
        rt.send("remember I like tea", msg_id="u1")
        rt.send("remember I like tea", msg_id="u1")  # redelivered
        usage = json.loads(rt.get("/v1/usage")[1])
        boot = usage["boot_id"]
        self.assertRegex(boot, "^[0-9a-f]{32}$")
        self.assertRegex(usage["started_at"],
                         r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        self.assertEqual(list(usage["tenants"]), ["acme"])
        t = usage["tenants"]["acme"]
        self.assertEqual({k: t[k] for k in ("turns", "messages_in",
                                            "messages_out", "tool_calls",
                                            "tool_errors")},
                         {"turns": 1, "messages_in": 2, "messages_out": 2,
                          "tool_calls": 1, "tool_errors": 0})
        self.assertEqual(t["providers"]["openai"]["requests"], 2)
        self.assertEqual(t["providers"]["openai"]["errors"], 0)
        # the one turn's time (a redelivery answered from the transcript
        # adds none): an integer, not negative
        self.assertIsInstance(t["turn_ms"], int)
        self.assertGreaterEqual(t["turn_ms"], 0)
        self.assertEqual(usage["llm_requests"], 2)  # the saved totals
        rt.stop()
        # a restart: a new boot_id, counters from zero, the totals kept
        rt2 = self.runtime(cfg, tmp=rt.tmp)
        usage = json.loads(rt2.get("/v1/usage")[1])
        self.assertNotEqual(usage["boot_id"], boot)
        self.assertEqual(usage["tenants"]["acme"]["turns"], 0)
        self.assertEqual(usage["tenants"]["acme"]["providers"], {})
        self.assertEqual(usage["llm_requests"], 2)
        self.assertEqual(usage["turns"], 1)

    def test_retry_after_then_fallback(self):
        second = FakeLLM()
        try:
            rt = self.runtime({"providers": [
                provider("openai", self.llm.url, max_retries=1),
                provider("anthropic", second.url, name="backup")]})
            self.llm.push({"status": 429, "retry_after": "0"},
                          {"text": "after retry"})
            st, body = rt.send("one")
            self.assertEqual(body["reply"], "after retry")
            self.assertEqual(len(self.llm.requests), 2)
            self.llm.push({"status": 500}, {"status": 503})
            second.push({"text": "from the backup"})
            st, body = rt.send("two")
            self.assertEqual(body["reply"], "from the backup")
            self.assertEqual(second.requests[0]["path"], "/v1/messages")
            self.assertIn("falling back", rt.log_text())
        finally:
            second.close()

    def test_bad_answers_leave_the_session_intact(self):
        rt = self.runtime({"providers": [provider("openai", self.llm.url,
                                                  max_retries=0)]})
        rt.send("first")
        self.llm.push({"raw": "{not json"})
        st, body = rt.send("second")
        self.assertEqual(st, 200)
        self.assertIn("could not read", body["reply"])
        self.llm.push({"truncate": True, "text": "a long streamed answer"})
        st, events = rt.send("third", stream=True)
        self.assertIn("could not read", events[-1][1]["reply"])
        self.llm.push({"text": "fine", "tool": "nope__missing",
                       "args": {}}, {"text": "ok then"})
        st, body = rt.send("fourth")
        self.assertEqual(body["reply"], "fine\n\nok then")
        msgs = self.llm.requests[-1]["body"]["messages"]
        users = [m["content"] for m in msgs if m["role"] == "user"]
        self.assertEqual(users, ["first", "fourth"])
        tool = [m for m in msgs if m["role"] == "tool"][0]
        self.assertIn("no tool named", tool["content"])
        self.assertIn("bad answer", rt.log_text())

    def test_slow_provider_times_out(self):
        rt = self.runtime({"providers": [provider(
            "openai", self.llm.url, max_retries=0, timeout_ms=300)]})
        self.llm.push({"delay": 1.5, "text": "too late"})
        st, body = rt.send("quick?")
        self.assertIn("not reachable", body["reply"])
        # the log is read from the runtime's stderr by a thread: the line
        # may arrive a moment after the reply
        end = time.monotonic() + 10
        while "timed out" not in rt.log_text().lower() and \
                "imeout" not in rt.log_text() and time.monotonic() < end:
            time.sleep(0.05)
        self.assertRegex(rt.log_text(), "(?i)timed out|timeout")

    def test_step_limit_cuts_the_turn_short(self):
        rt = self.runtime({"providers": [provider("openai", self.llm.url)],
                           "limits": {"max_steps": 3}})
        for _ in range(3):
            self.llm.push({"tool": "memory_delete", "args": {"number": 9}})
        st, body = rt.send("loop")
        self.assertTrue(body["truncated"])
        self.assertIn("step limit", body["reply"])
        self.assertEqual(len(self.llm.requests), 3)

    def test_time_budget_cuts_the_turn_short(self):
        tmp = tempfile.mkdtemp(prefix="rt-budget-")
        rt = self.runtime({
            "providers": [provider("openai", self.llm.url)],
            "limits": {"turn_timeout_ms": 1000},
            "mcp_servers": [{"name": "bad", "timeout_ms": 60000,
                             "command": [sys.executable, os.path.join(
                                 os.path.dirname(__file__),
                                 "bad_mcp_stdio.py")],
                             "env": {"STARTS_FILE":
                                     os.path.join(tmp, "starts")}}]})
        # the hanging tool is bounded by what is left of the turn's budget
        self.llm.push({"tool": "bad__hang", "args": {}}, {"text": "late"})
        st, body = rt.send("hang")
        self.assertEqual(st, 200)
        self.assertTrue(body["truncated"])
        self.assertIn("time budget", body["reply"])
        self.assertEqual(len(self.llm.requests), 1)
        shutil.rmtree(tmp)

    def test_conversation_order_and_restart(self):
        rt = self.runtime({"providers": [provider("openai", self.llm.url)]})
        self.llm.push({"delay": 1.0, "text": "slow first"})
        results = {}

        def send(name, text):
            results[name] = rt.send(text, conversation="ordered")[1]
        t1 = threading.Thread(target=send, args=("a", "A"))
        t1.start()
        while not self.llm.requests:
            pass
        t2 = threading.Thread(target=send, args=("b", "B"))
        t2.start()
        t1.join()
        t2.join()
        self.assertEqual(results["a"]["reply"], "slow first")
        second = self.llm.requests[1]["body"]["messages"]
        self.assertEqual([m["content"] for m in second if m["role"] != "system"],
                         ["A", "slow first", "B"])
        st, body = rt.send("/status", conversation="ordered")
        self.assertIn("4 messages", body["reply"])
        rt.stop()
        rt2 = self.runtime({"providers": [provider("openai", self.llm.url)]},
                           tmp=rt.tmp)
        rt2.send("C", conversation="ordered")
        msgs = self.llm.requests[-1]["body"]["messages"]
        self.assertEqual([m["content"] for m in msgs if m["role"] != "system"],
                         ["A", "slow first", "B", "echo: B", "C"])
        st, body = rt2.send("/reset", conversation="ordered")
        self.assertIn("afresh", body["reply"])
        rt2.send("D", conversation="ordered")
        msgs = self.llm.requests[-1]["body"]["messages"]
        self.assertEqual([m["content"] for m in msgs if m["role"] != "system"],
                         ["D"])


class ProxyReloadTest(Base):
    def test_calls_go_through_the_proxy_and_sighup_reloads(self):
        proxy = ConnectProxy()
        try:
            cfg = {"proxy": proxy.url,
                   "providers": [provider("openai", self.llm.url)]}
            rt = self.runtime(cfg)
            st, body = rt.send("via proxy")
            self.assertEqual(body["reply"], "echo: via proxy")
            self.assertEqual(proxy.targets, ["127.0.0.1:%d" % self.llm.port])
            cfg["providers"][0]["model"] = "reloaded-model"
            with open(rt.config_path, "w") as f:
                json.dump(cfg, f)
            rt.port = None
            rt.proc.send_signal(1)  # SIGHUP
            for _ in range(300):
                if rt.port:
                    break
                threading.Event().wait(0.05)
            self.assertIsNotNone(rt.port, rt.log_text())
            self.assertIn("reloading", rt.log_text())
            rt.send("after reload")
            self.assertEqual(self.llm.requests[-1]["body"]["model"],
                             "reloaded-model")
        finally:
            proxy.close()


class AnthropicTest(Base):
    def test_stream_with_stdio_filesystem_tool(self):
        fs = npm_server("server-filesystem")
        if not fs:
            self.skipTest("run npm ci in tests/node first")
        root = tempfile.mkdtemp(prefix="rt-fs-")
        with open(os.path.join(root, "todo.txt"), "w") as f:
            f.write("buy milk")
        rt = self.runtime({
            "providers": [provider("anthropic", self.llm.url)],
            "mcp_servers": [{"name": "fs", "command": ["node", fs, root],
                             "env": {"PATH": os.environ["PATH"]}}],
            "tools": {"allow": ["fs__read_text_file", "fs__list_directory"]}})
        self.llm.push({"tool": "fs__read_text_file",
                       "args": {"path": os.path.join(root, "todo.txt")}},
                      {"text": "Your list says: buy milk."})
        st, events = rt.send("what is on my list?", stream=True)
        self.assertEqual(events[-1][0], "done")
        self.assertEqual(events[-1][1]["reply"], "Your list says: buy milk.")
        req = self.llm.requests[0]
        self.assertEqual(req["path"], "/v1/messages")
        self.assertEqual(req["headers"]["x-api-key"], "sk-ant-SECRET")
        self.assertEqual(req["headers"]["anthropic-version"], "2023-06-01")
        names = sorted(t["name"] for t in req["body"]["tools"])
        self.assertEqual(names, ["fs__list_directory", "fs__read_text_file"])
        self.assertIn("system", req["body"])
        msgs = self.llm.requests[1]["body"]["messages"]
        self.assertEqual(msgs[1]["content"][0]["type"], "tool_use")
        result = msgs[2]["content"][0]
        self.assertEqual(result["type"], "tool_result")
        self.assertEqual(result["tool_use_id"], "toolu_1")
        self.assertIn("buy milk", result["content"])
        self.assertTrue(result["content"].startswith(
            '<untrusted-content source="tool fs__read_text_file">'))
        self.assertFalse(result["is_error"])
        shutil.rmtree(root)

    def test_http_mcp_server_tools(self):
        mcp = MCPHTTPServer()
        try:
            rt = self.runtime({
                "providers": [provider("anthropic", self.llm.url)],
                "mcp_servers": [{"name": "web", "url": mcp.url,
                                 "header_secrets": {"X-Token":
                                                    "openai_key"},
                                 "timeout_ms": 1500}]})
            self.llm.push({"tool": "web__picture", "args": {}},
                          {"tool": "web__resumable", "args": {}},
                          {"tool": "web__slow", "args": {}},
                          {"text": "done"})
            st, body = rt.send("use the web tools")
            self.assertEqual(body["reply"], "done")
            tools = [t["name"] for t in
                     self.llm.requests[0]["body"]["tools"]]
            self.assertIn("web__echo", tools)       # page 1
            self.assertIn("web__slow", tools)       # page 2
            results = [m["content"][0] for m in
                       self.llm.requests[3]["body"]["messages"]
                       if m["role"] == "user"
                       and m["content"][0]["type"] == "tool_result"]
            self.assertIn("[image: image/png", results[0]["content"])
            self.assertIn("resource text", results[0]["content"])
            self.assertIn("resumed answer", results[1]["content"])
            self.assertTrue(results[2]["is_error"])
            self.assertIn("timed out", results[2]["content"])
            inits = mcp.bodies("initialize")
            self.assertEqual(inits[0]["params"]["protocolVersion"],
                             "2025-11-25")
            self.assertTrue(mcp.bodies("notifications/initialized"))
            cancels = mcp.bodies("notifications/cancelled")
            self.assertTrue(cancels)
            self.assertIn("requestId", cancels[0]["params"])
            answers = [b for b in mcp.bodies()
                       if b.get("id") == "srv-ping-1"]
            self.assertEqual(answers[0]["result"], {})
            with mcp.lock:
                gets = [r for r in mcp.records if r["method"] == "GET"
                        and r["headers"].get("Last-Event-ID")]
                tokens = {r["headers"].get("X-Token") for r in mcp.records
                          if r["method"] == "POST"}
            self.assertTrue(gets)
            self.assertEqual(tokens, {"sk-test-OPENAI-SECRET"})
        finally:
            mcp.close()


class BadMcpTest(Base):
    def test_garbage_death_hang_and_oversize(self):
        tmp = tempfile.mkdtemp(prefix="rt-bad-")
        starts = os.path.join(tmp, "starts")
        rt = self.runtime({
            "providers": [provider("openai", self.llm.url)],
            "limits": {"max_tool_result_bytes": 1000},
            "mcp_servers": [{"name": "bad", "timeout_ms": 1000,
                             "command": [sys.executable, os.path.join(
                                 os.path.dirname(__file__),
                                 "bad_mcp_stdio.py")],
                             "env": {"STARTS_FILE": starts}}]})

        def tool_turn(tool):
            self.llm.push({"tool": tool, "args": {}}, {"text": "ok"})
            st, body = rt.send("use " + tool)
            self.assertEqual(body["reply"], "ok")
            msgs = self.llm.requests[-1]["body"]["messages"]
            return [m for m in msgs if m["role"] == "tool"][-1]["content"]

        self.assertIn("echo ok", tool_turn("bad__garbage"))
        self.assertIn("malformed", rt.log_text())
        big = tool_turn("bad__big")
        self.assertIn("[cut: the tool result had 200000 bytes", big)
        self.assertLess(len(big), 1400)
        self.assertIn("timed out", tool_turn("bad__hang"))
        self.assertIn("failed", tool_turn("bad__die"))
        self.assertIn("is down", tool_turn("bad__echo"))  # in its backoff
        threading.Event().wait(1.2)
        self.assertIn("echo ok", tool_turn("bad__echo"))   # restarted
        with open(starts) as f:
            self.assertEqual(len(f.read().split()), 2)
        self.assertIn("bad server starting", rt.log_text())  # stderr
        shutil.rmtree(tmp)


class McpListenTest(Base):
    def test_get_stream_notifications_refresh_the_tools(self):
        # The server keeps its GET stream open 5 s and sends list_changed
        # on it after 0.5 s: the runtime must read it as it comes (the
        # next message re-lists while the stream is still open), not
        # when the stream ends.
        mcp = MCPHTTPServer(offer_get=True, get_hold=5)
        try:
            rt = self.runtime({
                "providers": [provider("openai", self.llm.url)],
                "mcp_servers": [{"name": "web", "url": mcp.url}]})
            for _ in range(200):
                with mcp.lock:
                    if any(r["method"] == "GET" for r in mcp.records):
                        break
                threading.Event().wait(0.05)
            lists = len(mcp.bodies("tools/list"))
            threading.Event().wait(1.0)
            rt.send("hello")
            self.assertGreater(len(mcp.bodies("tools/list")), lists)
            with mcp.lock:
                gets = [r for r in mcp.records if r["method"] == "GET"]
                order = [r["method"] if r["method"] != "POST" else
                         (r["body"] or {}).get("method")
                         for r in mcp.records]
            self.assertEqual(len(gets), 1)  # still the first stream
            get = gets[0]
            self.assertEqual(get["headers"]["Accept"], "text/event-stream")
            self.assertTrue(get["headers"].get("Mcp-Session-Id"))
            # opened after initialization, before any other request, and
            # with no other stream's Last-Event-ID
            self.assertNotIn("Last-Event-ID", get["headers"])
            self.assertEqual(order[:4], ["initialize",
                                         "notifications/initialized",
                                         "GET", "tools/list"])
        finally:
            mcp.close()


class WorkspaceTest(Base):
    def git(self, cwd, *args):
        return subprocess.run(["git", "-c", "user.name=t", "-c",
                               "user.email=t@t", *args], cwd=cwd,
                              check=True, capture_output=True,
                              text=True).stdout.strip()

    def test_pinned_commit_from_bare_repo(self):
        tmp = tempfile.mkdtemp(prefix="rt-git-")
        work, bare = os.path.join(tmp, "work"), os.path.join(tmp, "a.git")
        os.makedirs(os.path.join(work, "skills", "weather"))
        self.git(tmp, "init", "-q", "-b", "main", work)
        with open(os.path.join(work, "SOUL.md"), "w") as f:
            f.write("You are Soul version one.")
        with open(os.path.join(work, "AGENTS.md"), "w") as f:
            f.write("Agents rules here.")
        with open(os.path.join(work, "skills", "weather", "SKILL.md"),
                  "w") as f:
            f.write("Weather skill text.")
        self.git(work, "add", "-A")
        self.git(work, "commit", "-q", "-m", "one")
        pinned = self.git(work, "rev-parse", "HEAD")
        with open(os.path.join(work, "SOUL.md"), "w") as f:
            f.write("You are Soul version two.")
        self.git(work, "commit", "-q", "-am", "two")
        self.git(tmp, "clone", "-q", "--bare", work, bare)
        rt = self.runtime({"providers": [provider("openai", self.llm.url)],
                           "workspace": {"repo": "file://" + bare,
                                         "commit": pinned}})
        rt.send("hello")
        system = self.llm.requests[0]["body"]["messages"][0]["content"]
        self.assertIn("Soul version one", system)
        self.assertNotIn("version two", system)
        self.assertIn("Agents rules here.", system)
        self.assertIn("# Skill: weather", system)
        st, body = rt.send("/status")
        self.assertIn(pinned, body["reply"])
        shutil.rmtree(tmp)


class McpCliTest(unittest.TestCase):
    def test_list_and_call_memory_server_over_stdio(self):
        mem = npm_server("server-memory")
        if not mem:
            self.skipTest("run npm ci in tests/node first")
        tmp = tempfile.mkdtemp(prefix="rt-mem-")
        env = dict(os.environ, MEMORY_FILE_PATH=os.path.join(tmp, "m.json"))
        cmd = "node " + mem
        out = subprocess.run([BINARY, "mcp", "list", "--command", cmd],
                             capture_output=True, text=True, env=env,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        names = [t["name"] for t in json.loads(out.stdout)]
        self.assertIn("create_entities", names)
        ent = {"entities": [{"name": "Ann", "entityType": "person",
                             "observations": ["likes tea"]}]}
        out = subprocess.run([BINARY, "mcp", "call", "--command", cmd,
                              "create_entities", json.dumps(ent)],
                             capture_output=True, text=True, env=env,
                             timeout=120)
        self.assertEqual(out.returncode, 0, out.stderr)
        out = subprocess.run([BINARY, "mcp", "call", "--command", cmd,
                              "read_graph", "{}"], capture_output=True,
                             text=True, env=env, timeout=120)
        self.assertIn("likes tea", out.stdout)
        shutil.rmtree(tmp)

    def test_http_and_usage_errors(self):
        mcp = MCPHTTPServer()
        try:
            out = subprocess.run([BINARY, "mcp", "call", "--url", mcp.url,
                                  "echo", '{"text":"hi"}'],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("echo: hi", out.stdout)
            out = subprocess.run([BINARY, "mcp", "call", "--url", mcp.url,
                                  "echo", "[1]"], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 2)
        finally:
            mcp.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
