"""End to end: a persona edited in the dashboard changes the chat
(issue 18: "editing the persona, and seeing the chat change"), in
Debian's chromium (persona_chat.mjs) against the real stack: a control
plane on PostgreSQL serving web/, a node agent with its Caddy edge, the
project's own gateway and runtime images, the scripted LLM in a
container (tests/integration/e2e/edgestack.py), the control plane with
up.sh's defaults. The tenant is deployed from its resources with the
persona "You are Ada ..."; in the browser, the chat panel (the control
plane's chat relay through the edge) asks "show system prompt" and sees
it; the Persona tab saves "You are Bea ..." and the banner redeploys; the
same question then shows Bea. Screenshots: $CLAW_BUILD_DIR/e2e-shots/
persona-chat-*.png.

Needs root and Docker as the e2e suites do, and chromium, node and
tests/e2e/node_modules as test_dashboard.py; skipped (exit 77) without
the browser."""

import os
import secrets
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "integration", "e2e"))
from edgestack import EdgeStack, up_sh_defaults  # noqa: E402
from test_dashboard import browser_steps, missing  # noqa: E402

SOUL_ONE = "You are Ada, the first persona of the dashboard's chat test."
SOUL_TWO = "You are Bea, the second persona of the dashboard's chat test."


class PersonaChangesTheChat(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="claw-persona-chat-")
        cls.st = EdgeStack(drain_ms=300, cp_extra=up_sh_defaults(cls.dir))
        try:
            cls.slug = "pc-" + secrets.token_hex(3)
            admin = cls.st.fleet.admin
            cls.st.fleet.tenant(cls.slug)
            r = admin.put("/v1/tenants/%s/persona" % cls.slug,
                          {"soul": SOUL_ONE})
            assert r.status == 200, r
            r = admin.post("/v1/tenants/%s/deploy" % cls.slug)
            assert r.status == 202, r
            cls.st.settle(cls.slug, r.json()["id"])
        except BaseException:
            cls.st.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.st.close_clean()

    def test_persona_edit_changes_the_chat(self):
        browser_steps(self, "persona_chat.mjs", self.st.fleet.cp, self.slug,
                      SOUL_ONE, SOUL_TWO)
        p = self.st.fleet.admin.get("/v1/tenants/%s/persona" %
                                    self.slug).json()
        self.assertEqual((p["version"], p["body"]["soul"]), (2, SOUL_TWO))


if __name__ == "__main__":
    why = missing()
    if why:
        print("skipped: needs " + why)
        sys.exit(77)
    unittest.main()
