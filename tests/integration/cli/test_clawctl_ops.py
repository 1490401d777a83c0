"""Integration: clawctl as fleet operators use it, against the real
claw-controlplane on a real PostgreSQL (the node played by FakeNode):
contexts (the file's mode, precedence, a context's token kept from other
servers), bash and zsh completion sourced in the real shells, -o yaml
(read back by PyYAML, equal to -o json) and -o wide, rollouts created,
followed to completion with --watch, and their tenants' logs followed at
once, top, and chat against a fake OpenAI-compatible endpoint (streamed
reply, history kept client-side, the bearer key from --key-file)."""

import json
import os
import pty
import shutil
import stat
import subprocess
import tempfile
import threading
import unittest

from clawtest.cp import default_image_args, with_pg
from clawtest.fakehttp import Handler, serve
from clawctl_case import CLAWCTL, ClawctlCase
from fakenode import FakeNode

try:
    import yaml
except ImportError:  # the YAML round trip is skipped without PyYAML
    yaml = None



def bare_env(**extra):
    """The environment without any CLAW_* variable, plus extra."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("CLAW_")}
    e.update(extra)
    return e


def complete(shell, script, words):
    """The completions shell offers after words (the last one is being
    typed), from script sourced into it."""
    if shell == "bash":
        prog = ('source "$1"; shift; COMP_WORDS=("$@"); '
                'COMP_CWORD=$(($# - 1)); _clawctl; '
                'printf "%s\\n" "${COMPREPLY[@]}"')
        argv = ["bash", "--norc", "-c", prog, "bash", script] + words
    else:
        prog = ('autoload -U compinit; compinit -u -D; source "$1"; shift; '
                'local p skip prev; words=("$@"); CURRENT=$#; '
                '_clawctl_path words 2 $CURRENT; '
                'for w in ${=$(_clawctl_candidates "${words[CURRENT]}")}; '
                'do [[ $w == ${words[CURRENT]}* ]] && print -- $w; done; true')
        argv = ["zsh", "-f", "-c", prog, "zsh", script] + words
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r
    return sorted(w for w in r.stdout.split("\n") if w)


class CompletionTest(unittest.TestCase):

    def script(self, shell):
        r = subprocess.run([CLAWCTL, "completion", shell],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r)
        f = tempfile.NamedTemporaryFile("w", suffix="." + shell,
                                        delete=False)
        f.write(r.stdout)
        f.close()
        self.addCleanup(os.unlink, f.name)
        return f.name

    def check(self, shell):
        s = self.script(shell)
        c = lambda *w: complete(shell, s, ["clawctl"] + list(w))
        self.assertEqual(c("rollo"), ["rollout"])
        self.assertEqual(c("roll"), ["rollback", "rollout"])
        self.assertEqual(c("t"), ["templates", "tenants", "tokens", "tools",
                                  "top"])
        # the resource commands (issue 18) come from the same tables
        self.assertEqual(c("persona", ""), ["edit", "history", "rollback",
                                            "show"])
        self.assertEqual(c("channels", "add", "acme", "telegram", "--bot"),
                         ["--bot-token-file"])
        self.assertEqual(c("model", "set", "acme", "--api"),
                         ["--api-key-file"])
        self.assertEqual(c("rollout", "p"), ["pause"])
        self.assertEqual(c("rollout", "status", "ro_1", "--w"), ["--watch"])
        # global options before the command, and their values skipped
        self.assertEqual(c("--url", "http://x", "config", "u"),
                         ["use-context"])
        self.assertEqual(c("-o", ""), ["json", "table", "wide", "yaml"])
        self.assertEqual(c("top", "--sort", "tokens", "--s"),
                         ["--since", "--sort"])
        self.assertIn("--context", c("tenants", "list", "--c"))
        self.assertEqual(c("nope", "x"), [])

    def test_bash(self):
        self.check("bash")

    @unittest.skipUnless(shutil.which("zsh"), "zsh is not installed")
    def test_zsh(self):
        self.check("zsh")

    def test_unknown_shell(self):
        r = subprocess.run([CLAWCTL, "completion", "fish"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("use 'bash' or 'zsh'", r.stderr)


class FakeOpenAI(Handler):
    """A chat completions endpoint streaming "echo: <last message>" in two
    chunks; every request is kept in the server's `seen`."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = json.loads(self.body())
        self.server.seen.append((self.path, self.headers.get(
            "Authorization"), body))
        text = "echo: %s (%d)" % (body["messages"][-1]["content"],
                                  len(body["messages"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        for part in (text[:5], text[5:]):
            chunk = {"object": "chat.completion.chunk", "choices": [
                {"index": 0, "delta": {"content": part}}]}
            self.wfile.write(b"data: " + json.dumps(chunk).encode() +
                             b"\n\n")
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


class RecordAuth(Handler):
    """Any GET: answers an empty list, keeps the Authorization header."""
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        self.server.seen.append(self.headers.get("Authorization"))
        self.send_json(200, {"items": []})


class ClawctlOpsTest(ClawctlCase):

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg("ops", default_image_args(
            "localhost/claw-gw:test", "localhost/claw-rt:test"))
        cls.token_file = os.path.join(cls.cp.data_dir, "admin.token")
        cls.home = tempfile.mkdtemp(prefix="clawctl-home-")

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()
        cls.pg.stop()
        shutil.rmtree(cls.home, ignore_errors=True)

    def run_cli(self, *args, env=None, stdin=None):
        if env is None:
            env = bare_env(CLAW_URL=self.cp.url,
                           CLAW_TOKEN_FILE=self.token_file)
        return subprocess.run([CLAWCTL] + list(args), env=env, input=stdin,
                              capture_output=True, text=True, timeout=120)



    def on_tty(self, *args):
        """clawctl's stdout when it is a terminal (a pty)."""
        master, slave = pty.openpty()
        p = subprocess.Popen([CLAWCTL] + list(args), stdout=slave,
                             stderr=subprocess.PIPE,
                             env=bare_env(CLAW_URL=self.cp.url,
                                          CLAW_TOKEN_FILE=self.token_file))
        os.close(slave)
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the other side closed
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        self.assertEqual(p.wait(timeout=60), 0, p.stderr.read())
        p.stderr.close()
        return out.decode()

    def test_contexts(self):
        xdg = os.path.join(self.home, "xdg")
        env = bare_env(XDG_CONFIG_HOME=xdg, HOME=self.home)
        self.ok("config", "set-context", "local", "--server", self.cp.url,
                "--token-file", self.token_file, env=env)
        cfg = os.path.join(xdg, "clawctl", "config")
        self.assertEqual(stat.S_IMODE(os.stat(cfg).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.dirname(cfg))
                                      .st_mode), 0o700)
        self.assertEqual(self.ok("config", "current-context", env=env)
                         .stdout, "local\n")
        # no flag, no env: the context's server and token
        self.ok("tenants", "create", "ctx-t", env=env)
        slugs = [t["slug"] for t in self.json("tenants", "list",
                                              env=env)["items"]]
        self.assertIn("ctx-t", slugs)

        # env over context: CLAW_URL elsewhere (nothing listens) -> exit 3
        dead = "http://127.0.0.1:9"
        r = self.run_cli("tenants", "list", env=dict(env, CLAW_URL=dead))
        self.assertEqual(r.returncode, 3, r)
        # flag over env
        self.ok("tenants", "list", "--url", self.cp.url,
                env=dict(env, CLAW_URL=dead))
        # a server that is not the context's never gets its token
        rec = serve(RecordAuth)
        rec.seen = []
        other = "http://127.0.0.1:%d" % rec.server_address[1]
        self.ok("tenants", "list", "--url", other, env=env)
        self.ok("tenants", "list", env=dict(env, CLAW_URL=other))
        rec.shutdown()
        rec.server_close()
        self.assertEqual(rec.seen, [None, None])
        # a second context, and --context picking it
        self.ok("config", "set-context", "other", "--server", other,
                env=env)
        r = self.run_cli("--context", "other", "config", "get-contexts",
                         env=env)
        self.assertRegex(r.stdout, r"\n\*? +other +%s" % other)
        self.assertRegex(r.stdout, r"\n\* +local +")

        # group/other-readable: refused, saying the chmod to run
        os.chmod(cfg, 0o644)
        r = self.run_cli("tenants", "list", env=env)
        self.assertEqual(r.returncode, 9, r)
        self.assertIn("run 'chmod 600 %s'" % cfg, r.stderr)
        self.assertEqual(r.stdout, "")
        os.chmod(cfg, 0o600)
        self.ok("config", "use-context", "other", env=env)
        self.assertEqual(self.ok("config", "current-context", env=env)
                         .stdout, "other\n")
        r = self.run_cli("config", "use-context", "nope", env=env)
        self.assertEqual(r.returncode, 5, r)

    def test_yaml_and_wide(self):
        # names a YAML reader would take for something else
        self.ok("tenants", "create", "yaml-a", "--name", "yes")
        self.ok("tenants", "create", "yaml-b", "--name",
                "2026-12-06: #1 \"q\" - x")
        self.ok("tenants", "create", "yaml-c", "--name", "null")
        as_json = self.json("tenants", "list", "--slug-prefix", "yaml-")
        r = self.ok("tenants", "list", "--slug-prefix", "yaml-", "-o",
                    "yaml")
        self.assertIn("name: \"yes\"\n", r.stdout)
        if yaml is not None:
            self.assertEqual(yaml.safe_load(r.stdout), as_json)
        one = self.json("tenants", "get", "yaml-b")
        r = self.ok("tenants", "get", "yaml-b", "-o", "yaml")
        if yaml is not None:
            self.assertEqual(yaml.safe_load(r.stdout), one)
        wide = self.ok("tenants", "list", "--slug-prefix", "yaml-", "-o",
                       "wide").stdout.splitlines()
        table = self.ok("tenants", "list", "--slug-prefix",
                        "yaml-").stdout.splitlines()
        self.assertEqual(len(wide), 4)
        # the default columns first, then the other scalar fields
        self.assertTrue(wide[0].startswith(table[0].rstrip()), wide[0])
        self.assertGreater(len(wide[0].split()), len(table[0].split()))

    def test_top(self):
        self.ok("tenants", "create", "top-a")
        r = self.run_cli("top", "-o", "json")
        self.assertEqual(r.returncode, 0, r)
        rows = {t["tenant"]: t for t in json.loads(r.stdout)}
        self.assertIn("top-a", rows)
        self.assertEqual(rows["top-a"]["phase"], "not deployed")
        r = self.ok("top", "--sort", "turns")
        self.assertRegex(r.stdout, r"^TENANT +PHASE +NODE +TURNS +TOKENS")
        r = self.run_cli("top", "--sort", "disk")
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("use turns, tokens, cpu or mem", r.stderr)

    def test_chat(self):
        srv = serve(FakeOpenAI)
        srv.seen = []
        self.addCleanup(srv.server_close)
        self.addCleanup(srv.shutdown)
        url = "http://127.0.0.1:%d" % srv.server_address[1]
        key = os.path.join(self.home, "openai.key")
        with open(key, "w") as f:
            f.write("sk-test-key\n")
        r = self.ok("chat", "acme", "hello", "--endpoint", url,
                    "--key-file", key)
        self.assertEqual(r.stdout, "echo: hello (1)\n")
        path, auth, body = srv.seen[0]
        self.assertEqual((path, auth), ("/v1/chat/completions",
                                        "Bearer sk-test-key"))
        self.assertTrue(body["stream"])
        # interactive: each line a turn, the history sent whole each time
        r = self.ok("chat", "acme", "--endpoint", url + "/v1/",
                    "--key-file", key, stdin="one\n\ntwo\n")
        self.assertEqual(r.stdout, "echo: one (1)\necho: two (3)\n")
        self.assertEqual(srv.seen[-1][2]["messages"], [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "echo: one (1)"},
            {"role": "user", "content": "two"}])
        # no key: refused before anything is sent
        r = self.run_cli("chat", "acme", "hi", "--endpoint", url)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("--key-file", r.stderr)
        # no --endpoint and a fleet without a base domain: said so
        self.ok("tenants", "create", "chat-t")
        r = self.run_cli("chat", "chat-t", "hi", "--key-file", key)
        self.assertEqual(r.returncode, 2, r)
        self.assertIn("has no public URL", r.stderr)
        self.assertEqual(len(srv.seen), 3)
        # no key at all: through the control plane's relay, with clawctl's
        # own token; what stops it is said (here: no base domain, so no
        # public host for the relay to reach)
        r = self.run_cli("chat", "chat-t", "hi")
        self.assertNotEqual(r.returncode, 0, r)
        self.assertIn("chat_no_edge, HTTP 409", r.stderr)
        self.assertEqual(len(srv.seen), 3)

    def test_rollout(self):
        r = self.ok("nodes", "join-token")
        node = FakeNode(self.cp.url, r.stdout.strip(), "ops-node")
        stop = node.autopilot()
        try:
            for t in ("ro-a", "ro-b"):
                self.ok("tenants", "create", t)
                # what the default configs name (deploy preflight)
                self.ok("secrets", "set", t, "admin_token",
                        stdin="admin-token-of-" + t + "-0123456789abcdef")
                self.ok("deploy", t)
            # bad command lines never reach the API
            r = self.run_cli("rollout", "create", "--runtime-image", "x")
            self.assertEqual(r.returncode, 2, r)
            self.assertIn("exactly one of --all", r.stderr)
            r = self.run_cli("rollout", "create", "--all")
            self.assertEqual(r.returncode, 2, r)
            self.assertIn("nothing to roll out", r.stderr)
            # the API's refusal of a selector matching nothing
            r = self.run_cli("rollout", "create", "--labels", "no=one",
                             "--runtime-image", "localhost/claw-rt:v2")
            self.assertEqual(r.returncode, 7, r)
            self.assertIn("empty_selector", r.stderr)

            r = self.run_cli("rollout", "create", "--tenants", "ro-a,ro-b",
                             "--runtime-image", "localhost/claw-rt:v2",
                             "--max-unavailable", "1", "--watch")
            self.assertEqual(r.returncode, 0, r)
            # not a terminal: one plain line per change, the last complete
            lines = r.stdout.splitlines()
            self.assertNotIn("\r", r.stdout)
            self.assertRegex(lines[-1], r"^ro_\S+ completed +\[#{24}\] "
                             r"2/2  ok 2  failed 0")
            rid = lines[-1].split()[0]
            ro = self.json("rollout", "get", rid)
            self.assertEqual(ro["state"], "completed")
            self.assertEqual(sorted(t["tenant"] for t in ro["tenants"]),
                             ["ro-a", "ro-b"])
            table = self.ok("rollout", "get", rid).stdout
            self.assertRegex(table, r"\nTENANT +STATE +BATCH")
            items = self.json("rollout", "list", "--state",
                              "completed")["items"]
            self.assertIn(rid, [i["id"] for i in items])
            self.assertRegex(self.ok("rollout", "list").stdout,
                             r"^ID +STATE +TOTAL")
            r = self.ok("rollout", "status", rid)
            self.assertRegex(r.stdout, r"^%s completed " % rid)
            # on a terminal: the line redrawn in place, then a newline
            out = self.on_tty("rollout", "status", rid, "--watch")
            self.assertRegex(out, r"^\r\x1b\[K%s completed +\[#{24}\] "
                             r"2/2 .*\r?\n$" % rid)
            r = self.run_cli("rollout", "pause", rid)
            self.assertEqual(r.returncode, 6, r)
            self.assertIn("rollout_state", r.stderr)
            r = self.run_cli("rollout", "get", "ro_nope")
            self.assertEqual(r.returncode, 5, r)
        finally:
            stop.set()

        # the logs of both tenants at once, each line prefixed
        r = self.run_cli("logs", "ro-a", "--rollout", rid)
        self.assertEqual(r.returncode, 2, r)
        logs = subprocess.Popen(
            [CLAWCTL, "logs", "--rollout", rid, "--tail", "3"],
            env=bare_env(CLAW_URL=self.cp.url,
                         CLAW_TOKEN_FILE=self.token_file),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        served = set()

        def serve_logs():
            while len(served) < 2:
                for req in node.assignments(wait=1).get("logs") or []:
                    if req["id"] in served:
                        continue
                    served.add(req["id"])
                    for q, data in (("", b"hello from %s\nbye\n" %
                                     req["tenant"].encode()),
                                    ("?end=1", b"")):
                        node.api.request(
                            "POST", "/v1/agent/logs/%s%s" % (req["id"], q),
                            data, {"Content-Type": "text/plain"})

        t = threading.Thread(target=serve_logs, daemon=True)
        t.start()
        out, err = logs.communicate(timeout=120)
        t.join(timeout=60)
        self.assertEqual(logs.returncode, 0, err)
        self.assertEqual(sorted(out.splitlines()), [
            "ro-a | bye", "ro-a | hello from ro-a",
            "ro-b | bye", "ro-b | hello from ro-b"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
