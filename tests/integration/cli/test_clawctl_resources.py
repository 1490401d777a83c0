"""Integration: clawctl's resource commands (channels, persona, model,
tools, templates; issue 18) against the real claw-controlplane on a real
PostgreSQL: credentials only from files or stdin and never printed, typed
--set settings, the control plane's 422s naming the field, the persona
edited through $EDITOR (0600 temporary file, the diff, --yes, the y/N
question on a terminal, no question without one), its history and
rollback, model set/show/test, tools add/list/remove, templates, and the
redeploy hint (and --deploy) once the tenant has a deployment."""

import json
import os
import pty
import subprocess
import tempfile
import unittest

from clawtest.cp import default_image_args, with_pg
from clawctl_case import CLAWCTL, ClawctlCase
from fakenode import FakeNode

CANARY_TOKEN = "123456789:AAcanaryCanaryCanary_canary-CANARY12"
CANARY_KEY = "sk-canary-5d1e0f-model-key"
REDEPLOY = "needs a redeploy for this to take effect: clawctl deploy "


class ClawctlResourcesTest(ClawctlCase):

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg("resources", default_image_args(
            "localhost/claw-gw:test", "localhost/claw-rt:test") + [
            "--base-domain", "fleet.test"])
        cls.token_file = os.path.join(cls.cp.data_dir, "admin.token")
        cls.tmp = tempfile.mkdtemp(prefix="clawctl-res-")
        cls.outputs = []

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()
        cls.pg.stop()

    def token(self, *args):
        """A new API token (tokens create ARGS) in a file: its path."""
        tok = self.ok("tokens", "create", *args).stdout.strip()
        return self.file("tok-%d" % len(self.outputs), tok + "\n")

    def env(self, **extra):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("CLAW_TOKEN") and k not in
             ("EDITOR", "VISUAL")}
        e["CLAW_URL"] = self.cp.url
        e["CLAW_TOKEN_FILE"] = self.token_file
        e["TMPDIR"] = self.tmp
        e.update(extra)
        return e

    def run_cli(self, *args, stdin=None, env=None):
        r = subprocess.run([CLAWCTL] + list(args), env=env or self.env(),
                           input=stdin if stdin is not None else "",
                           capture_output=True, text=True, timeout=120)
        self.outputs.append(r.stdout + r.stderr)
        return r


    def file(self, name, text, mode=0o600):
        p = os.path.join(self.tmp, name)
        with open(p, "w") as f:
            f.write(text)
        os.chmod(p, mode)
        return p

    def tenant(self, slug):
        self.ok("tenants", "create", slug)

    def editor(self, name, body):
        """An editor script: body is sh run with the file as $1; it also
        records the file's mode in NAME.mode."""
        return self.file(name + ".sh", "#!/bin/sh\nstat -c %%a \"$1\" > "
                         "%s/%s.mode\n%s\n" % (self.tmp, name, body),
                         mode=0o700)

    def test_01_channels(self):
        self.tenant("acme")
        tok = self.file("tg.token", CANARY_TOKEN + "\n")
        r = self.json("channels", "add", "acme", "telegram",
                      "--bot-token-file", tok, "--set", "enabled=true",
                      "--set", "rate_limit_per_minute=30",
                      "--set", 'allow_from=["alice"]')
        self.assertEqual(r["secrets"], ["telegram_bot_token"])
        self.assertEqual(r["body"]["rate_limit_per_minute"], 30)
        self.assertIs(r["body"]["enabled"], True)
        self.assertEqual(r["body"]["allow_from"], ["alice"])
        self.assertNotIn("bot_token", json.dumps(r["body"]))
        items = self.json("channels", "list", "acme")["items"]
        self.assertEqual([i["kind"] for i in items], ["telegram"])
        self.assertRegex(self.ok("channels", "list", "acme").stdout,
                         r"^KIND +VERSION +WEBHOOK +CONNECTION +SETTINGS\n"
                         r"telegram +1 +- +unknown ")
        self.assertIn("kind: telegram",
                      self.ok("channels", "list", "acme", "-o", "yaml").stdout)
        self.assertRegex(self.ok("channels", "list", "acme", "-o",
                                 "wide").stdout, r"^KIND +VERSION +WEBHOOK")
        # any credential by its short name, typed settings from a file
        sec = self.file("tg.secret", "hook-secret_1\n")
        sf = self.file("tg.json", json.dumps({"enabled": True,
                                              "rate_limit_per_minute": 7}))
        r = self.json("channels", "add", "acme", "telegram",
                      "--settings-file", sf, "--credential-file",
                      "webhook_secret=" + sec, "--bot-token-file", tok)
        self.assertEqual(sorted(r["secrets"]), ["telegram_bot_token",
                                                "telegram_webhook_secret"])
        self.assertEqual(r["body"]["rate_limit_per_minute"], 7)
        # the same credential from stdin
        self.ok("channels", "add", "acme", "telegram", "--bot-token-file",
                "-", "--set", "enabled=true", stdin=CANARY_TOKEN)
        # the control plane's refusals, named, exit 7
        bad = self.file("bad.token", "not-a-telegram-token\n")
        r = self.fails(7, "channels", "add", "acme", "telegram",
                       "--bot-token-file", bad)
        self.assertIn("credentials.bot_token", r.stderr)
        r = self.fails(7, "channels", "add", "acme", "carrierpigeon")
        self.assertIn("kind", r.stderr)
        r = self.fails(7, "channels", "add", "acme", "telegram", "--set",
                       "rate_limit_per_minute=-5")
        self.assertIn("settings.rate_limit_per_minute", r.stderr)
        # local refusals before any call, exit 2
        r = self.fails(2, "channels", "add", "acme", "telegram", "--set",
                       "allow_from=[alice")
        self.assertIn("--set number 1", r.stderr)
        self.fails(2, "channels", "add", "acme", "telegram",
                   "--bot-token-file", "-", "--webhook-secret-file", "-")
        self.fails(9, "channels", "add", "acme", "telegram",
                   "--bot-token-file", "/nonexistent/token")
        # a credential on the command line is not an option at all
        self.fails(2, "channels", "add", "acme", "telegram", "--bot-token",
                   CANARY_TOKEN)
        # roles: an operator changes settings but sends no credential; a
        # tenant token reaches its own tenant only
        op = self.token("--role", "operator", "--name", "ops")
        self.ok("channels", "add", "acme", "telegram", "--set",
                "enabled=true", env=self.env(CLAW_TOKEN_FILE=op))
        self.fails(4, "channels", "add", "acme", "telegram",
                   "--bot-token-file", tok, env=self.env(CLAW_TOKEN_FILE=op))
        self.tenant("other")
        mine = self.token("--role", "tenant", "--tenant", "acme", "--name",
                          "acme-ci")
        self.ok("channels", "list", "acme", env=self.env(
            CLAW_TOKEN_FILE=mine))
        self.fails(5, "channels", "list", "other", env=self.env(
            CLAW_TOKEN_FILE=mine))
        self.fails(5, "persona", "edit", "other", "--yes", env=self.env(
            CLAW_TOKEN_FILE=mine, EDITOR="true"))
        r = self.json("channels", "remove", "acme", "telegram")
        self.assertEqual(r["kind"], "channel")
        self.assertEqual(self.json("channels", "list", "acme")["items"], [])
        self.fails(5, "channels", "list", "nosuchtenant")

    def persona_version(self, slug):
        return self.json("persona", "show", slug)["version"]

    def test_02_persona_edit_history_rollback(self):
        self.tenant("soul")
        ed = self.editor("first", "printf 'You are friendly.\\nLine two."
                         "\\n' > \"$1\"")
        r = self.ok("persona", "edit", "soul", "--yes", env=self.env(
            EDITOR=ed))
        self.assertIn("--- SOUL.md (current)\n+++ SOUL.md (edited)\n"
                      "@@ -0,0 +1,2 @@\n+You are friendly.\n+Line two.\n",
                      r.stdout)
        with open(os.path.join(self.tmp, "first.mode")) as f:
            self.assertEqual(f.read().strip(), "600")
        self.assertFalse([n for n in os.listdir(self.tmp)
                          if n.startswith("clawctl-SOUL")])
        # VISUAL wins over EDITOR
        ed2 = self.editor("second", "sed -i s/friendly/terse/ \"$1\"")
        r = self.ok("persona", "edit", "soul", "--yes",
                    env=self.env(VISUAL=ed2, EDITOR="/bin/false"))
        self.assertIn("@@ -1,2 +1,2 @@\n-You are friendly.\n+You are terse."
                      "\n Line two.\n", r.stdout)
        self.assertEqual(self.ok("persona", "show", "soul").stdout,
                         "You are terse.\nLine two.\n")
        # no change: nothing saved
        r = self.ok("persona", "edit", "soul", "--yes",
                    env=self.env(EDITOR="true"))
        self.assertIn("no change; nothing saved", r.stderr)
        self.assertEqual(self.persona_version("soul"), 2)
        # without a terminal and without --yes: refused before the editor
        marker = os.path.join(self.tmp, "never.mode")
        r = self.fails(2, "persona", "edit", "soul", env=self.env(
            EDITOR=self.editor("never", "true")))
        self.assertIn("--yes", r.stderr)
        self.assertFalse(os.path.exists(marker))
        # a tenant that does not exist: said before any editor runs
        r = self.fails(5, "persona", "edit", "nosuchtenant", "--yes",
                       env=self.env(EDITOR=self.editor("never2", "true")))
        self.assertFalse(os.path.exists(os.path.join(self.tmp,
                                                     "never2.mode")))
        # an editor that fails: nothing saved, exit 1
        self.fails(1, "persona", "edit", "soul", "--yes",
                   env=self.env(EDITOR="/bin/false"))
        self.assertEqual(self.persona_version("soul"), 2)
        # on a terminal: asked, and only y saves
        ed3 = self.editor("third", "echo 'One more.' >> \"$1\"")
        for answer, saved in (("n", 2), ("y", 3)):
            r = self.on_tty(["persona", "edit", "soul"], answer + "\n",
                            self.env(EDITOR=ed3))
            self.assertEqual(r.returncode, 0, r)
            self.assertIn("save this as a new version of soul's persona? "
                          "[y/N]", r.stderr)
            self.assertIn("+One more.\n", r.stdout)
            self.assertEqual(self.persona_version("soul"), saved)
        hist = self.json("persona", "history", "soul")["items"]
        self.assertEqual([h["version"] for h in hist], [3, 2, 1])
        self.assertRegex(self.ok("persona", "history", "soul").stdout,
                         r"^VERSION +CREATED +BY +BYTES +DELETED\n3 ")
        self.assertEqual(self.ok("persona", "show", "soul", "1").stdout,
                         "You are friendly.\nLine two.\n")
        r = self.json("persona", "rollback", "soul", "1")
        self.assertEqual(r["version"], 4)
        self.assertIs(r["redeploy_required"], False)
        self.assertEqual(self.ok("persona", "show", "soul").stdout,
                         "You are friendly.\nLine two.\n")
        self.fails(5, "persona", "rollback", "soul", "99")
        # over the control plane's bound: refused locally, exit 9
        big = self.editor("big", "head -c 70000 /dev/zero | tr '\\0' a > "
                          "\"$1\"")
        self.fails(9, "persona", "edit", "soul", "--yes",
                   env=self.env(EDITOR=big))

    def on_tty(self, args, answer, env):
        """Run clawctl with a pty as stdin, answer written to it."""
        master, slave = pty.openpty()
        try:
            p = subprocess.Popen([CLAWCTL] + args, env=env, stdin=slave,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            os.write(master, answer.encode())
            out, err = p.communicate(timeout=60)
        finally:
            os.close(slave)
            os.close(master)
        self.outputs.append(out + err)
        return subprocess.CompletedProcess(args, p.returncode, out, err)

    def test_03_model(self):
        self.tenant("brain")
        key = self.file("model.key", CANARY_KEY + "\n")
        r = self.json("model", "set", "brain", "--kind", "openai",
                      "--base-url", "https://api.openai.com/v1", "--model",
                      "gpt-4o-mini", "--api-key-file", key, "--set",
                      "max_tokens=256")
        self.assertEqual(r["secrets"], ["model_api_key"])
        self.assertEqual(r["body"]["api_key_secret"], "model_api_key")
        self.assertEqual(r["body"]["max_tokens"], 256)
        got = self.json("model", "show", "brain")
        self.assertEqual(got["body"]["model"], "gpt-4o-mini")
        r = self.fails(7, "model", "set", "brain", "--kind", "openai",
                       "--base-url", "ftp://api.example.com", "--model", "m")
        self.assertIn("base_url", r.stderr)
        # not deployed: the relay says so, with the time it took
        r = self.fails(6, "model", "test", "brain")
        self.assertIn("not_running", r.stderr)
        self.assertRegex(r.stderr, r"the model test of brain failed after "
                         r"\d+ ms")

    def test_04_tools(self):
        self.tenant("hands")
        r = self.json("tools", "add", "hands", "search", "--url",
                      "https://mcp.example.com/mcp", "--egress",
                      "mcp.example.com:443")
        self.assertEqual(r["body"]["servers"][0]["egress"],
                         ["mcp.example.com:443"])
        r = self.fails(7, "tools", "add", "hands", "gh", "--url",
                       "https://gh.example.com/mcp", "--secret",
                       "Authorization=GH_TOKEN")
        self.assertIn("missing_secrets", r.stderr)
        self.ok("secrets", "set", "hands", "GH_TOKEN", stdin="ghp_x")
        self.ok("tools", "add", "hands", "gh", "--url",
                "https://gh.example.com/mcp", "--secret",
                "Authorization=GH_TOKEN")
        items = self.json("tools", "list", "hands")["items"]
        self.assertEqual([i["name"] for i in items], ["search", "gh"])
        self.assertEqual(items[1]["secrets"], {"Authorization": "GH_TOKEN"})
        self.assertRegex(self.ok("tools", "list", "hands").stdout,
                         r"^NAME +URL +IMAGE +SECRETS +EGRESS\nsearch ")
        self.fails(2, "tools", "add", "hands", "x")
        self.fails(2, "tools", "add", "hands", "x", "--url", "https://a",
                   "--image", "i")
        r = self.fails(7, "tools", "add", "hands", "bad", "--url",
                       "file:///etc/passwd")
        self.assertIn("servers[2].url", r.stderr)
        self.ok("tools", "remove", "hands", "search")
        self.assertEqual([i["name"] for i in self.json(
            "tools", "list", "hands")["items"]], ["gh"])
        self.fails(5, "tools", "remove", "hands", "search")
        # a tenant that does not exist is not an empty one
        self.fails(5, "tools", "list", "nosuchtenant")
        self.fails(5, "tools", "add", "nosuchtenant", "x", "--url",
                   "https://a.example.com")
        self.ok("tools", "remove", "hands", "gh")
        self.assertEqual(self.json("tools", "list", "hands")["items"], [])

    def test_05_templates(self):
        t = self.file("tpl.json", json.dumps({
            "persona": {"soul": "You help support customers."},
            "model": {"kind": "openai", "base_url":
                      "https://api.openai.com/v1", "model": "gpt-4o-mini",
                      "api_key_secret": "model_api_key"}}))
        r = self.json("templates", "create", "support", "--from-file", t)
        self.assertEqual(r["name"], "support")
        self.assertRegex(self.ok("templates", "list").stdout,
                         r"^NAME +VERSION +CREATED +UPDATED\nsupport +1 ")
        got = self.json("templates", "get", "support")
        self.assertEqual(got["body"]["persona"]["soul"],
                         "You help support customers.")
        self.fails(6, "templates", "create", "support", "--from-file", t)
        # a tenant made from it starts with its persona
        self.ok("tenants", "create", "from-tpl", "--template", "support")
        self.assertEqual(self.json("persona", "show", "from-tpl")
                         ["body"]["soul"], "You help support customers.")
        r = self.fails(7, "tenants", "create", "no-tpl", "--template", "x")
        self.assertIn("template", r.stderr)
        bad = self.file("bad.json", json.dumps({"model": {
            "kind": "openai", "base_url": "https://x/v1", "model": "m",
            "api_key": "sk-secret"}}))
        r = self.fails(7, "templates", "create", "leaky", "--from-file", bad)
        self.assertIn("model.api_key", r.stderr)
        self.fails(2, "templates", "create", "nofile")
        self.assertEqual(self.ok("templates", "delete", "support").stdout,
                         "template deleted\n")
        self.fails(5, "templates", "get", "support")

    def test_06_redeploy_hint_and_deploy(self):
        self.tenant("live")
        self.ok("secrets", "set", "live", "admin_token", stdin="v")
        r = self.ok("nodes", "join-token", "--ttl", "600")
        node = FakeNode(self.cp.url, r.stdout.strip(), "node-res")
        stop = node.autopilot()
        tok = self.file("live.token", CANARY_TOKEN + "\n")
        try:
            self.ok("channels", "add", "live", "telegram", "--set",
                    "enabled=true", "--set", "mode=webhook",
                    "--bot-token-file", tok)
            self.ok("deploy", "live")
            items = self.json("channels", "list", "live")["items"]
            self.assertRegex(items[0]["webhook"],
                             r"^https://live\.fleet\.test/.*telegram")
            r = self.ok("channels", "add", "live", "telegram", "--set",
                        "enabled=true", "--set", "mode=webhook", "--set",
                        "rate_limit_per_minute=9")
            self.assertIn("webhook URL of telegram (set it in the "
                          "platform's console): https://live.fleet.test/",
                          r.stderr)
            self.assertIn("live " + REDEPLOY + "live\n", r.stderr)
            ed = self.editor("live", "echo 'Be brief.' > \"$1\"")
            r = self.ok("persona", "edit", "live", "--yes",
                        env=self.env(EDITOR=ed))
            self.assertIn("live " + REDEPLOY + "live\n", r.stderr)
            r = self.ok("persona", "rollback", "live", "1", "--deploy")
            self.assertNotIn(REDEPLOY, r.stderr)
            self.assertIn("healthy", r.stderr + r.stdout)
        finally:
            stop.set()

    def test_08_help_and_completion(self):
        for cmd in (["channels", "add"], ["channels", "list"],
                    ["channels", "remove"], ["persona", "show"],
                    ["persona", "edit"], ["persona", "history"],
                    ["persona", "rollback"], ["model", "set"],
                    ["model", "show"], ["model", "test"], ["tools", "add"],
                    ["tools", "list"], ["tools", "remove"],
                    ["templates", "list"], ["templates", "get"],
                    ["templates", "create"], ["templates", "update"],
                    ["templates", "delete"]):
            r = self.ok(*cmd, "--help")
            self.assertTrue(r.stdout.startswith("usage: clawctl " +
                                                " ".join(cmd)), r.stdout)
        script = self.ok("completion", "bash").stdout
        for word in ("channels", "persona", "templates", "--bot-token-file",
                     "--api-key-file", "--egress"):
            self.assertIn(word, script)

    def test_99_canaries_never_printed(self):
        for out in self.outputs:
            self.assertNotIn(CANARY_TOKEN, out)
            self.assertNotIn(CANARY_KEY, out)
            self.assertNotIn("AAcanaryCanary", out)


if __name__ == "__main__":
    unittest.main()
