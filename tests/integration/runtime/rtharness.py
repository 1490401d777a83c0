"""rtharness.py - start claw-runtime for a test: writes its JSON config and
secret files in a temporary directory, runs the binary on a free port,
follows its JSON log lines, and sends messages (plain or streamed).
Also the set-up shared by the runtime suites: the scripted provider
(ScriptedLLM), reading a metric, and RuntimeCase, which stops the
runtimes a test started and checks their logs are sanitizer-clean."""
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.proc import stop_process  # noqa: E402

BUILD = os.path.abspath(os.environ.get("CLAW_BUILD_DIR", "build"))
SOURCE = os.path.abspath(os.environ.get("CLAW_SOURCE_DIR", "."))
BINARY = os.path.join(BUILD, "runtime", "claw-runtime")
NODE_MODULES = os.path.join(SOURCE, "tests", "node", "node_modules")
SCRIPTED = os.path.join(BUILD, "tools", "scripted-llm", "claw-scripted-llm")


def npm_server(pkg):
    """The entry point of an MCP server package from tests/node."""
    path = os.path.join(NODE_MODULES, "@modelcontextprotocol", pkg, "dist",
                        "index.js")
    return path if os.path.exists(path) else None


def metric(rt, name):
    """The value of the runtime's integer metric name, or None."""
    st, text = rt.get("/metrics")
    m = re.search(r"^%s (\d+)$" % re.escape(name), text, re.M)
    return int(m.group(1)) if m else None


class ScriptedLLM:
    """tools/scripted-llm on a free port; url is its /v1 base."""

    def __init__(self):
        self.proc = subprocess.Popen(
            [SCRIPTED, "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True)
        self.port = None
        for line in self.proc.stdout:
            m = re.search(r"listening on port (\d+)", line)
            if m:
                self.port = int(m.group(1))
                break
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()
        self.url = "http://127.0.0.1:%d/v1" % self.port

    def close(self):
        stop_process(self.proc)
        self.proc.stdout.close()


class RuntimeCase(unittest.TestCase):
    """Keeps the runtimes a test starts in self.rts; at tear-down stops
    them and asserts their logs hold no sanitizer report."""

    def setUp(self):
        self.rts = []

    def tearDown(self):
        for rt in self.rts:
            rt.stop()
            self.assertNotIn("Sanitizer", rt.log_text())
            self.assertNotIn("runtime error:", rt.log_text())


class Runtime:
    def __init__(self, config, secrets=None, tmp=None):
        self.tmp = tmp or tempfile.mkdtemp(prefix="rt-test-")
        self.secrets_dir = os.path.join(self.tmp, "secrets")
        self.data_dir = os.path.join(self.tmp, "data")
        os.makedirs(self.secrets_dir, exist_ok=True)
        for k, v in (secrets or {}).items():
            with open(os.path.join(self.secrets_dir, k), "w") as f:
                f.write(v)
        self.config_path = os.path.join(self.tmp, "runtime.json")
        with open(self.config_path, "w") as f:
            json.dump(config, f)
        self.logs = []
        self.proc = None
        self.port = None

    def start(self, expect_ok=True):
        env = dict(os.environ)
        env["LSAN_OPTIONS"] = "suppressions=" + os.path.join(
            os.path.dirname(os.path.abspath(__file__)), "lsan.supp")
        self.proc = subprocess.Popen(
            [BINARY, "--config", self.config_path, "--secrets-dir",
             self.secrets_dir, "--data-dir", self.data_dir, "--listen",
             "127.0.0.1:0", "--log-level", "debug"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env=env)
        ready = threading.Event()

        def follow():
            for line in self.proc.stderr:
                self.logs.append(line)
                m = re.search(r"listening on .* \(port (\d+)\)", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()
            self.proc.stderr.close()
        threading.Thread(target=follow, daemon=True).start()
        ready.wait(60)
        if expect_ok and not self.port:
            raise AssertionError("runtime did not start:\n" +
                                 "".join(self.logs))
        return self

    def stop(self):
        if self.proc:
            stop_process(self.proc, timeout=30)
        if self.proc and self.proc.stderr:
            self.proc.stderr.close()
        return self.proc.returncode if self.proc else None

    def log_text(self):
        return "".join(self.logs)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def get(self, path):
        try:
            with urllib.request.urlopen(self.url(path), timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def send(self, text, conversation="c1", msg_id=None, stream=False,
             sender="u1", timeout=60, **extra):
        env = {"id": msg_id or "m-%f" % time.time(), "channel": "telegram",
               "conversation": conversation,
               "sender": {"id": sender, "name": "Ann"}, "text": text}
        env.update(extra)
        req = urllib.request.Request(
            self.url("/v1/messages"), data=json.dumps(env).encode(),
            headers={"Content-Type": "application/json",
                     "Accept": "text/event-stream" if stream
                     else "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                body = r.read().decode()
                if not stream:
                    return r.status, json.loads(body)
                return r.status, parse_sse(body)
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read().decode())


def parse_sse(text):
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        name, data = "message", []
        for line in block.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip(" ") if line[5:6] == " "
                            else line[5:])
        if data:
            events.append((name, json.loads("\n".join(data))))
    return events
