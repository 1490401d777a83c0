"""test_compaction.py - context compaction through the real runtime:
when a conversation nears its prompt budget, the older turns are
summarised by the tenant's model (compaction_model with the first
provider) and a "summary" line in the transcript replaces them; the
summary goes to the system prompt, marked as such, and is bounded. When
summarising fails, the transcript and the log say so and the prompt
leaves the older turns out with a note; nothing is dropped silently.

With the scripted provider (tools/scripted-llm, its summary script) and
with the fake provider (which records the prompts)."""
import glob
import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from fake_llm import FakeLLM  # noqa: E402
from rtharness import Runtime, RuntimeCase, ScriptedLLM, metric  # noqa: E402

# A budget small enough that a few long turns reach it.
LIMITS = {"context_tokens": 3000, "compact_at_percent": 50,
          "summary_tokens": 64}


def transcript_lines(rt):
    files = glob.glob(os.path.join(rt.data_dir, "sessions", "*.jsonl"))
    lines = []
    for path in files:
        with open(path) as f:
            lines += [json.loads(x) for x in f if x.strip()]
    return lines


class Base(RuntimeCase):
    def runtime(self, url, tmp=None, **extra):
        cfg = {"providers": [{"kind": "openai", "base_url": url,
                              "model": "scripted", "max_tokens": 200}],
               "limits": LIMITS}
        cfg.update(extra)
        rt = Runtime(cfg, {}, tmp=tmp).start()
        self.rts.append(rt)
        return rt

    def chat(self, rt, n, size=600):
        for i in range(n):
            text = "turn %d %s" % (i, "x" * size)
            st, body = rt.send(text, conversation="c1",
                               msg_id="m%d" % i)
            self.assertEqual(st, 200)
            self.assertEqual(body["reply"], "echo: " + text)


class ScriptedCompactionTest(Base):
    def setUp(self):
        super().setUp()
        self.llm = ScriptedLLM()

    def tearDown(self):
        super().tearDown()
        self.llm.close()

    def test_older_turns_become_a_summary(self):
        rt = self.runtime(self.llm.url, compaction_model="scripted-small")
        self.chat(rt, 6)
        lines = transcript_lines(rt)
        sums = [x for x in lines if x.get("type") == "summary"]
        self.assertTrue(sums, lines)
        s = sums[0]
        self.assertTrue(s["content"].startswith("summary: turn 0 "))
        self.assertLessEqual(len(s["content"].encode()),
                             LIMITS["summary_tokens"] * 4)
        self.assertEqual(s["model"], "scripted-small")
        self.assertGreater(s["covers"], 0)
        self.assertGreaterEqual(s["kept"], 0)
        self.assertNotIn("compaction_failed",
                         [x.get("type") for x in lines])
        self.assertGreaterEqual(metric(rt, "claw_runtime_compactions_total"),
                                1)
        self.assertIn("older messages summarised", rt.log_text())
        st, body = rt.send("/status", conversation="c1")
        self.assertIn("after a summary of the earlier ones", body["reply"])
        # a duplicate of a recent message is still answered from the
        # transcript
        st, body = rt.send("again", conversation="c1", msg_id="m5")
        self.assertEqual(body["reply"], "echo: turn 5 " + "x" * 600)
        # the summary survives a restart
        tmp = rt.tmp
        rt.stop()
        self.rts.remove(rt)
        rt = self.runtime(self.llm.url, tmp=tmp,
                          compaction_model="scripted-small")
        st, body = rt.send("/status", conversation="c1")
        self.assertIn("after a summary of the earlier ones", body["reply"])

    def test_a_failed_summary_is_said(self):
        rt = self.runtime(self.llm.url,
                          compaction_model="scripted-unavailable")
        self.chat(rt, 6)
        lines = transcript_lines(rt)
        failed = [x for x in lines if x.get("type") == "compaction_failed"]
        self.assertTrue(failed, lines)
        self.assertIn("503", failed[0]["reason"])
        self.assertGreater(failed[0]["messages"], 0)
        self.assertNotIn("summary", [x.get("type") for x in lines])
        self.assertIn("they are left out of the prompt with a note",
                      rt.log_text())
        self.assertGreaterEqual(
            metric(rt, "claw_runtime_compactions_failed_total"), 1)


class PromptTest(Base):
    """The fake provider records what the model is sent."""

    def setUp(self):
        super().setUp()
        self.llm = FakeLLM()

    def tearDown(self):
        super().tearDown()
        self.llm.close()

    def system_of(self, req):
        return req["body"]["messages"][0]["content"]

    def test_summary_in_the_prompt(self):
        rt = self.runtime(self.llm.url, compaction_model="cheap")
        for i in range(6):
            rt.send("turn %d %s" % (i, "y" * 600), conversation="c1")
        reqs = self.llm.requests
        summ = [r for r in reqs if r["body"]["model"] == "cheap"]
        self.assertTrue(summ)
        body = summ[0]["body"]
        self.assertEqual(body["max_tokens"], LIMITS["summary_tokens"])
        self.assertNotIn("tools", body)
        user = body["messages"][-1]["content"]
        self.assertTrue(user.startswith(
            "Summarise the conversation below."))
        self.assertIn("user: turn 0 ", user)
        # the fake model echoes its whole input: cut to the bound
        after = reqs[reqs.index(summ[0]) + 1]
        system = self.system_of(after)
        self.assertIn("# Summary of the earlier conversation", system)
        self.assertIn("(Written by a model; the older messages it "
                      "replaces are not shown.)", system)
        part = system.split("are not shown.)\n", 1)[1]
        self.assertLessEqual(len(part.split("\n\n")[0].encode()),
                             LIMITS["summary_tokens"] * 4)
        self.assertNotIn("turn 0 ",
                         json.dumps(after["body"]["messages"][1:]))
        self.assertIn("summary", [x.get("type")
                                  for x in transcript_lines(rt)])

    def test_failed_summary_leaves_turns_out_with_a_note(self):
        # The summariser is down and compaction waits for the full
        # budget: the prompt must leave older turns out, and say so.
        self.llm.fail_models.add("broken")
        rt = self.runtime(self.llm.url, compaction_model="broken",
                          limits=dict(LIMITS, compact_at_percent=100))
        for i in range(10):
            st, body = rt.send("turn %d %s" % (i, "z" * 600),
                               conversation="c1")
            self.assertEqual(body["reply"], "echo: turn %d %s"
                             % (i, "z" * 600))
        notes = [self.system_of(r) for r in self.llm.requests
                 if r["body"]["model"] == "scripted"
                 and "summarising them failed" in self.system_of(r)]
        self.assertTrue(notes)
        self.assertRegex(notes[-1], r"\(Note: \d+ older messages of this "
                         r"conversation are left out here for lack of "
                         r"room; summarising them failed\.\)")
        self.assertIn("compaction_failed",
                      [x.get("type") for x in transcript_lines(rt)])
        self.assertIn("older messages left out of the prompt (with a "
                      "note)", rt.log_text())

    def test_client_history_is_never_summarised(self):
        rt = self.runtime(self.llm.url, compaction_model="cheap")
        hist = []
        for i in range(16):
            hist += [{"role": "user", "content": "h%d %s" % (i, "w" * 1000)},
                     {"role": "assistant", "content": "ok"}]
        st, body = rt.send("now", conversation="c9", channel="openai",
                           history=hist)
        self.assertEqual(st, 200)
        self.assertFalse([r for r in self.llm.requests
                          if r["body"]["model"] == "cheap"])
        system = self.system_of(self.llm.requests[-1])
        self.assertRegex(system, r"\(Note: \d+ older messages of this "
                         r"conversation are left out here for lack of "
                         r"room\.\)")


if __name__ == "__main__":
    unittest.main(verbosity=2)
