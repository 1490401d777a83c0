"""test_persona.py - the config's inline "persona" (what the control
plane's persona resource composes into runtime_config) reaches the model:
the system prompt the provider receives starts with the configured soul,
with AGENTS.md and the skills under the same titles as from files; after a
config change and SIGHUP the next turn uses the new text, while a reload
with a bad persona is refused and the running one kept; a workspace
overrides the persona; a bad persona stops the start with its JSON path."""
import json
import os
import shutil
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fake_llm import FakeLLM  # noqa: E402
from rtharness import Runtime, RuntimeCase  # noqa: E402

SOUL_ONE = "You are Pia, persona version one. Speak like a pirate."
SOUL_TWO = "You are Quill, persona version two. Speak in haiku."


def provider(url):
    return {"kind": "openai", "base_url": url, "model": "m",
            "timeout_ms": 20000}


class PersonaTest(RuntimeCase):
    def setUp(self):
        self.llm = FakeLLM()
        super().setUp()

    def tearDown(self):
        super().tearDown()
        self.llm.close()

    def runtime(self, cfg):
        rt = Runtime(cfg).start()
        self.rts.append(rt)
        return rt

    def system(self):
        """The system prompt of the provider's last request."""
        msgs = self.llm.requests[-1]["body"]["messages"]
        self.assertEqual(msgs[0]["role"], "system")
        return msgs[0]["content"]

    def write_config(self, rt, cfg):
        with open(rt.config_path, "w") as f:
            json.dump(cfg, f)

    def wait_for(self, pred, what):
        for _ in range(600):
            if pred():
                return
            threading.Event().wait(0.05)
        self.fail("%s did not happen:\n%s" % (what, self.rts[-1].log_text()))

    def test_soul_from_config_and_sighup_changes_it(self):
        cfg = {"providers": [provider(self.llm.url)],
               "persona": {"soul": SOUL_ONE, "agents": "Agents text one.",
                           "skills": {"zzz": "Skill Z.", "aaa": "Skill A."}}}
        rt = self.runtime(cfg)
        st, body = rt.send("hello")
        self.assertEqual(st, 200, body)
        system = self.system()
        self.assertTrue(system.startswith(SOUL_ONE), system[:200])
        self.assertIn("\n\n# AGENTS.md\n\nAgents text one.", system)
        self.assertLess(system.index("# Skill: aaa\n\nSkill A."),
                        system.index("# Skill: zzz\n\nSkill Z."))
        self.assertIn("# Rules of this runtime", system)
        self.assertNotIn("helpful assistant", system)

        # a new persona: SIGHUP, and the next turn has it
        cfg["persona"] = {"soul": SOUL_TWO}
        self.write_config(rt, cfg)
        rt.port = None
        rt.proc.send_signal(1)  # SIGHUP
        self.wait_for(lambda: rt.port, "the reload")
        st, body = rt.send("hello again")
        self.assertEqual(st, 200, body)
        system = self.system()
        self.assertTrue(system.startswith(SOUL_TWO), system[:200])
        self.assertNotIn("version one", system)
        self.assertNotIn("# AGENTS.md", system)
        self.assertNotIn("# Skill:", system)

        # a bad persona on reload is refused; the running one stays
        cfg["persona"] = {"soul": SOUL_ONE, "skills": {"../x": "t"}}
        self.write_config(rt, cfg)
        rt.proc.send_signal(1)
        self.wait_for(lambda: "keeping the running config" in
                      rt.log_text(), "the refusal")
        self.assertIn("persona.skills", rt.log_text())
        st, body = rt.send("still there?")
        self.assertEqual(st, 200, body)
        self.assertTrue(self.system().startswith(SOUL_TWO))

    def test_workspace_overrides_persona(self):
        ws = tempfile.mkdtemp(prefix="rt-ws-")
        try:
            with open(os.path.join(ws, "SOUL.md"), "w") as f:
                f.write("You are the workspace's soul.")
            rt = self.runtime({"providers": [provider(self.llm.url)],
                               "workspace": {"path": ws},
                               "persona": {"soul": SOUL_ONE}})
            rt.send("hello")
            system = self.system()
            self.assertTrue(system.startswith("You are the workspace's "
                                              "soul."), system[:200])
            self.assertNotIn("Pia", system)
            self.assertIn("the workspace overrides the config's persona",
                          rt.log_text())
        finally:
            shutil.rmtree(ws)

    def test_bad_persona_stops_the_start(self):
        for persona, want in [
                ({"soul": "s", "extra": "x"}, "persona: unknown key 'extra'"),
                ({"agents": "a"}, "persona.soul: is required"),
                ({"soul": "x" * 65537}, "persona.soul: is over 65536 bytes"),
                ({"soul": "s", "skills": {"-a": "t"}}, "a name is 1 to 64"),
                ({"soul": "s", "skills": {"s%d" % i: "t"
                                          for i in range(65)}},
                 "at most 64")]:
            rt = Runtime({"providers": [provider(self.llm.url)],
                          "persona": persona})
            rt.start(expect_ok=False)
            rt.proc.wait(30)
            self.assertEqual(rt.proc.returncode, 2, rt.log_text())
            self.assertIn(want, rt.log_text())
        self.assertEqual(self.llm.requests, [])


if __name__ == "__main__":
    unittest.main()
