"""Usage collection (issue 12 item 4, the node agent's side), against the
real Docker engine and a fake control plane that follows the agent API
(assignments, status, heartbeat, POST /v1/agent/usage): the agent scrapes
each running runtime's GET /v1/usage (the test image counts its scrapes
as turns and tokens), reports the differences with its own credential,
keeps them on disk while the control plane refuses them and across its own
restart, and sends them once it takes them: every scraped turn exactly
once, only for the tenant whose runtime was scraped (never the
"intruder" the runtime also names)."""

import json
import os
import re
import secrets
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import (AgentProcess, HealthsrvCase,  # noqa: E402
                             tenant_spec, uniq)
from clawtest.fakehttp import Handler, serve  # noqa: E402

RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


class FakeControlPlane:
    """The agent API's side a node agent with a credential uses."""

    def __init__(self, cred, desired):
        self.cred, self.desired = cred, desired
        self.accept = False
        self.malformed = False  # answer 422: the agent drops the batch
        self.reports, self.refused, self.bad_auth = [], 0, 0
        self.dropped = []
        self.mu = threading.Lock()
        fake = self

        class H(Handler):
            protocol_version = "HTTP/1.1"

            def authorised(self):
                ok = (self.headers.get("Authorization") ==
                      "Bearer " + fake.cred)
                if not ok:
                    with fake.mu:
                        fake.bad_auth += 1
                    self.send_json(401, {"error": {"code": "unauthorized"}})
                return ok

            def do_GET(self):
                if not self.authorised():
                    return
                gen = int(re.search(r"generation=(\d+)", self.path)[1])
                if gen < fake.desired["generation"]:
                    self.send_json(200, fake.desired)
                else:
                    time.sleep(0.5)
                    self.send_json(204)

            def do_POST(self):
                body = self.body()
                if not self.authorised():
                    return
                if self.path == "/v1/agent/status":
                    self.send_json(204)
                elif self.path == "/v1/agent/heartbeat":
                    self.send_json(200, {})
                elif self.path == "/v1/agent/usage":
                    with fake.mu:
                        got = json.loads(body)["reports"]
                        if fake.malformed:
                            fake.dropped += got
                            code = 422
                        elif fake.accept:
                            fake.reports += got
                            code = 204
                        else:
                            fake.refused += 1
                            code = 503
                    self.send_json(code)
                else:
                    self.send_json(404)

        self.srv = serve(H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


class NodeAgentUsage(HealthsrvCase):
    REPO = "claw-test/healthsrv-usage"

    def wait(self, pred, what, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + what)

    def test_usage_deltas_kept_and_reported(self):
        name = uniq("usage")
        spec = tenant_spec(name, self.ok, self.ok)
        spec["runtime"]["config"] = {"usage_tenant": name}
        spec["min_ready_ms"] = 0
        cred = "clawnode_" + secrets.token_hex(16)
        cp = FakeControlPlane(cred, {"generation": 1, "tenants": [spec]})
        self.addCleanup(cp.close)
        na = AgentProcess(self.env)
        cred_file = os.path.join(na.dir, "node.credential")
        with open(cred_file, "w") as f:
            f.write(cred + "\n")
        os.chmod(cred_file, 0o600)
        args = ["--control-plane", cp.url, "--credential-file", cred_file]
        extra = ["--usage-interval-ms", "300"]

        def cleanup():
            na.stop()
            for r in ("gateway", "runtime"):
                self.env.docker("rm", "-f", "claw-%s-%s" % (name, r),
                                check=False)
            self.env.docker("network", "rm", "claw-t-" + name, check=False)
            self.env.docker("volume", "rm", "claw-%s-gateway-data" % name,
                            "claw-%s-runtime-data" % name, check=False)
            na.remove_files()
        self.addCleanup(cleanup)
        na.launch(args, extra)
        usage_file = os.path.join(na.dir, "state", "usage.json")

        def pending():
            try:
                with open(usage_file) as f:
                    return json.load(f)
            except (OSError, ValueError):
                return None
        # Refused: the reports wait on disk (0600).
        self.wait(lambda: (pending() or {}).get("pending", [])[2:],
                  "three pending reports")
        self.assertGreater(cp.refused, 0)
        self.assertEqual(os.stat(usage_file).st_mode & 0o777, 0o600)
        # The agent restarts; what it kept is still there.
        na.stop()
        kept = pending()["pending"]
        self.assertGreaterEqual(len(kept), 3)
        na.launch(args, extra)
        with cp.mu:
            cp.accept = True
        # Taken: the file empties; the control plane has every turn the
        # runtime counted (each scrape is one), once.
        self.wait(lambda: len(cp.reports) > len(kept) and
                  not pending()["pending"], "the reports taken")
        # A batch the control plane calls malformed (422) is dropped, not
        # sent again for ever ahead of every later report.
        with cp.mu:
            cp.malformed = True
        self.wait(lambda: cp.dropped and not pending()["pending"],
                  "a refused batch dropped")
        na.stop()
        state = pending()
        seen = state["last"][name]["counters"]["turns"]
        with cp.mu:
            reports = list(cp.reports)
        self.assertEqual(reports[:len(kept)], kept)
        # What was taken and what the last scrapes left pending: every
        # scrape's turns, none twice, none lost across the restart.
        with cp.mu:
            dropped = list(cp.dropped)
        self.assertEqual(sum(r["turns"] for r in reports + dropped) +
                         sum(r["turns"] for r in state["pending"]), seen)
        ids = [r["id"] for r in reports + dropped]
        self.assertEqual(len(ids), len(set(ids)))
        for r in reports:
            self.assertEqual(r["tenant"], name)
            self.assertEqual(r["deployment"], "d1")
            self.assertRegex(r["at"], RFC3339)
            self.assertGreater(r["turns"], 0)
            self.assertEqual(r["messages_in"], r["turns"])
            self.assertEqual(r["tool_errors"], 0)
            p = r["providers"]["openai"]
            self.assertEqual(p["requests"], r["turns"])
            self.assertEqual(p["input_tokens"], 10 * r["turns"])
            self.assertEqual(p["output_tokens"], 5 * r["turns"])
        self.assertNotIn("intruder", json.dumps(reports))
        self.assertEqual(cp.bad_auth, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
