"""Zero-downtime redeploys end to end (issue 11, point 6): the project's
own gateway and runtime images behind a real Caddy driven by a real node
agent, joined to a real control plane (PostgreSQL), on a real Docker
engine, with the scripted LLM (edgestack.py).

A client chats back to back through the edge (a new TLS connection per
turn, all turns in one conversation) while the control plane redeploys
the tenant 10 times and rolls it back 3 times, each time until the new
pair serves and the old pair is drained and removed. Every turn carries
a unique id that the scripted LLM echoes: the client sees 0 failed
requests, 0 replies that are not its own request's, 0 duplicate replies;
and the conversation's transcript on the runtime volume (shared by the
old and new runtime during each overlap) has every turn once, in order,
with its answer.
Between two operations the edge routes to the generation the control
plane last made (the new gateway answers), so the client really crossed
13 switches.
"""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from edgestack import Chatter, EdgeStack  # noqa: E402

# 10 redeploys and 3 rollbacks, mixed.
OPS = ["deploy"] * 3 + ["rollback"] + ["deploy"] * 3 + ["rollback"] + \
    ["deploy"] * 4 + ["rollback"]


class EdgeRedeploysEndToEnd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.st = EdgeStack(drain_ms=300)

    @classmethod
    def tearDownClass(cls):
        cls.st.close()

    def test_chat_through_redeploys_and_rollbacks(self):
        st = self.st
        slug = st.tenant()
        self.assertEqual(OPS.count("deploy"), 10)
        self.assertEqual(OPS.count("rollback"), 3)
        gateways = [st.node_tenant(slug, lambda t: True)["roles"]
                    ["gateway"]["container"]]
        ch = Chatter(lambda text: st.chat(slug, text)).start()
        try:
            for op in OPS:
                before = ch.sent
                t = st.redeploy(slug) if op == "deploy" else st.rollback(slug)
                gateways.append(t["roles"]["gateway"]["container"])
                # The client kept chatting across the switch.
                st.fleet.wait(lambda b=before: ch.sent > b + 2, 60,
                              "turns after the " + op)
        finally:
            ch.stop()
        self.assertEqual(ch.failures, [], "failed requests")
        self.assertEqual(ch.mismatches, [], "replies to another request")
        self.assertEqual(ch.duplicates, [], "duplicate replies")
        self.assertGreater(ch.sent, 3 * len(OPS))
        # The conversation's transcript, in the runtime volume both
        # runtimes of each overlap share, holds every turn once and in
        # order, each with its own answer: none lost or repeated across
        # the 13 switches.
        turns = [m for m in st.transcript(slug)
                 if str(m.get("content", "")).split(": ")[-1]
                 .startswith(ch.tag + "-")]
        self.assertEqual([(m["role"], m["content"]) for m in turns],
                         [pair for i in range(1, ch.sent + 1) for pair in
                          (("user", "%s-%d" % (ch.tag, i)),
                           ("assistant", "echo: %s-%d" % (ch.tag, i)))])
        # Each operation brought a new gateway container.
        self.assertEqual(len(set(gateways)), len(OPS) + 1, gateways)
        # One pair is left.
        names = st.env.docker("ps", "-a", "--filter",
                              "label=claw.tenant=" + slug,
                              "--format", "{{.Names}}").split()
        self.assertEqual(len(names), 2, names)
        # Its gateway reads the other slot's journal (finding 10): that
        # slot's volume, read only, and read at start without a warning.
        gw = st.env.inspect(gateways[-1])
        own = [m for m in gw["Mounts"]
               if m["Destination"] == "/var/lib/claw"][0]["Name"]
        peer = [m for m in gw["Mounts"]
                if m["Destination"] == "/var/lib/claw-peer"]
        self.assertEqual(len(peer), 1, gw["Mounts"])
        self.assertFalse(peer[0]["RW"])
        self.assertEqual(sorted([own, peer[0]["Name"]]),
                         ["claw-%s-gateway-1-data" % slug,
                          "claw-%s-gateway-data" % slug])
        logs = subprocess.run(["docker", "logs", gateways[-1]],
                              env=st.env.env(), capture_output=True,
                              text=True)
        self.assertIn("listening on", logs.stdout + logs.stderr)
        self.assertNotIn("/var/lib/claw-peer/gateway' was not read",
                         logs.stdout + logs.stderr)
        print("edge e2e: %d turns through %d redeploys and %d rollbacks, "
              "0 failed" % (ch.sent, OPS.count("deploy"),
                            OPS.count("rollback")), file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
