"""The first chat after scripts/up.sh is two commands (issue 12, point 6):
the two commands up.sh prints, run as printed by a shell, against a stack
set up as up.sh sets up its own.

The stack is edgestack.py's (a real control plane on PostgreSQL, a real
node agent with its real Caddy edge, the project's own gateway and
runtime images, the scripted LLM in a container). Its control plane gets
what up.sh gives its own: the fleet's default tenant configs (the
OpenAI-compatible endpoint and web chat; the provider through the
gateway's egress proxy, its key by the secret name llm_api_key) and the
provider's key as the fleet's default secret (--default-secret). clawctl
finds the control plane through a contexts file like the one up.sh
writes (context "local", the admin token by file, mode 0600), in a
config home of the test's own.

Proves: `clawctl tenants create demo && clawctl deploy demo` exits 0
with the tenant healthy and no secret typed; `clawctl chat demo hello`
prints the model's answer ("echo: hello") through the control plane's
chat relay and the node's edge; `clawctl model test` makes one model call
capped at one token (the cap reaches the provider).
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from edgestack import EdgeStack, up_sh_defaults  # noqa: E402
from clawtest.cp import build_dir  # noqa: E402

# What up.sh prints (scripts/up.sh), with the tenant's slug made unique.
CREATE_AND_DEPLOY = "clawctl tenants create {slug} && clawctl deploy {slug}"
CHAT = "clawctl chat {slug} hello"


def write(path, text, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return path


class QuickstartEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="claw-quickstart-")
        cls.st = EdgeStack(drain_ms=300, cp_extra=up_sh_defaults(cls.dir))
        try:
            cp = cls.st.fleet.cp
            home = os.path.join(cls.dir, "config")
            os.makedirs(os.path.join(home, "clawctl"))
            token = write(os.path.join(cls.dir, "admin.token"),
                          cp.admin_token)
            write(os.path.join(home, "clawctl", "config"), json.dumps({
                "current-context": "local",
                "contexts": {"local": {"server": cp.url,
                                       "token-file": token}}}))
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith("CLAW_URL") and
                   not k.startswith("CLAW_TOKEN")}
            env["XDG_CONFIG_HOME"] = home
            env["PATH"] = os.path.join(build_dir(), "cli") + os.pathsep + \
                env.get("PATH", "")
            cls.env = env
        except BaseException:
            cls.st.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.close_clean()

    def sh(self, command, timeout=300):
        r = subprocess.run(["bash", "-c", command], env=self.env,
                           capture_output=True, text=True, timeout=timeout)
        self.assertEqual(r.returncode, 0, "%s\nstdout:\n%s\nstderr:\n%s" %
                         (command, r.stdout, r.stderr))
        return r.stdout

    def test_two_commands(self):
        slug = "demo-" + secrets.token_hex(3)
        self.sh(CREATE_AND_DEPLOY.format(slug=slug))
        p = self.st.fleet.admin.get("/v1/tenants/%s/placement" % slug).json()
        self.assertEqual(p.get("phase"), "healthy", p)
        # no secret was typed: the provider's key is the fleet's default
        # and the endpoint's token was generated
        names = [s["name"] for s in self.st.fleet.admin.get(
            "/v1/tenants/%s/secrets" % slug).json()["items"]]
        self.assertEqual(sorted(names), ["llm_api_key", "openai_api_token"])
        out = self.sh(CHAT.format(slug=slug), timeout=120)
        self.assertIn("echo: hello", out)
        # the model's key test: one call capped at one token, through the
        # runtime's own provider code (the scripted LLM says what cap it
        # was sent)
        out = self.sh("clawctl model test %s --message 'show max tokens'" %
                      slug, timeout=120)
        self.assertIn("max_tokens: 1", out)


if __name__ == "__main__":
    unittest.main()
