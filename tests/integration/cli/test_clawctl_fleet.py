"""Integration: clawctl's fleet commands (nodes, deploy and its progress,
deployments, rollback, status, stop/start/suspend/resume, undeploy, events,
logs, domains and the edge's fields of status) against the real
claw-controlplane on a real PostgreSQL.

The node is played by this test through the control plane's agent API (a
join token exchanged for a credential, heartbeats, long-polled assignments,
status reports, log chunks), so every phase a real node agent reports can
be produced on cue; the node agent's own tests cover Docker."""

import json
import os
import subprocess
import threading
import unittest

from clawtest.cp import default_image_args, with_pg
from clawtest.proc import wait_for
from clawtest.repo import init_repo
from clawctl_case import CLAWCTL, ClawctlCase
from fakenode import FakeNode



class ClawctlFleetTest(ClawctlCase):

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg("fleet", default_image_args(
            "localhost/claw-gw:test", "localhost/claw-rt:test") + [
            "--workspace-allow-local", "true",
            "--base-domain", "fleet.test"])
        cls.token_file = os.path.join(cls.cp.data_dir, "admin.token")

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()
        cls.pg.stop()

    def env(self):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("CLAW_TOKEN")}
        e["CLAW_URL"] = self.cp.url
        e["CLAW_TOKEN_FILE"] = self.token_file
        return e

    def run_cli(self, *args):
        return subprocess.run([CLAWCTL] + list(args), env=self.env(),
                              capture_output=True, text=True, timeout=120)

    def start_cli(self, *args):
        return subprocess.Popen([CLAWCTL] + list(args), env=self.env(),
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)



    def create_tenant(self, slug, *secrets):
        """tenants create slug, with the secrets its deploys' configs name
        (the default configs name admin_token; deploy preflight refuses a
        deploy without them)."""
        self.ok("tenants", "create", slug)
        for name in ("admin_token",) + secrets:
            r = subprocess.run([CLAWCTL, "secrets", "set", slug, name],
                               env=self.env(), input="value-of-" + name,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r)

    def join_node(self, name):
        r = self.ok("nodes", "join-token", "--ttl", "600")
        token = r.stdout.strip()
        self.assertIn("valid once", r.stderr)
        return FakeNode(self.cp.url, token, name)

    def test_01_nodes(self):
        node = self.join_node("node-a")
        table = self.ok("nodes", "list").stdout.splitlines()
        self.assertRegex(table[0], r"^NAME +STATUS +CORDONED")
        self.assertRegex(table[1], r"^node-a +ready +false +false +0 +4000 +0 +8192")
        n = self.json("nodes", "cordon", "node-a")
        self.assertTrue(n["cordoned"])
        self.assertFalse(self.json("nodes", "uncordon", node.id)["cordoned"])
        self.assertEqual(self.json("nodes", "get", "node-a")["id"], node.id)
        r = self.run_cli("nodes", "get", "nope")
        self.assertEqual(r.returncode, 5, r)
        self.assertIn("node_not_found", r.stderr)
        extra = self.join_node("node-extra")
        self.assertEqual(self.ok("nodes", "delete", extra.id).stdout,
                         "node deleted\n")
        actions = [a["action"] for a in
                   self.json("audit", "list", "--limit", "20")["items"]]
        self.assertIn("node.cordon", actions)

    def test_02_deploy_to_healthy_with_progress(self):
        node = self.join_node("node-b")
        self.ok("nodes", "cordon", "node-a")
        self.create_tenant("acme")
        deploy = self.start_cli("deploy", "acme")
        wait_for(lambda: node.tenant("acme"), what="acme assigned")
        node.report("acme", "pulling")
        node.report("acme", "starting")
        node.report("acme", "healthy")
        out, err = deploy.communicate(timeout=120)
        self.assertEqual(deploy.returncode, 0, err)
        # each phase clawctl saw, in order (it polls: it may miss some)
        lines = [l.split(": ", 1)[1] for l in err.splitlines()]
        order = ["pending", "pulling", "starting", "healthy"]
        self.assertEqual(lines, sorted(set(lines), key=order.index), err)
        self.assertEqual(lines[-1], "healthy")
        self.assertIn("phase:       healthy", out)
        st = self.json("status", "acme")
        self.assertEqual((st["node_name"], st["state"]), ("node-b",
                                                          "running"))
        # the sandboxed tool servers the node reports: a line each
        node.report("acme", "healthy", tool_servers=[
            {"name": "everything", "state": "ready", "restarts": 0,
             "error": "", "log_tail": ""},
            {"name": "crasher", "state": "server_down", "restarts": 2,
             "error": "the MCP server is not ready: the server exited "
             "with status 3 (see log_tail)",
             "log_tail": "claw-mcp-bridge: the server exited with status 3"},
            {"name": "esc", "state": "failed", "restarts": 0,
             "error": "pull \x1b[2Jrefused\r\nforged: line"}])
        out = self.ok("status", "acme").stdout
        # the node's words reach the terminal without control characters
        self.assertIn("tool esc: failed: pull  [2Jrefused  forged: line\n",
                      out)
        self.assertNotIn("\x1b", out)
        self.assertRegex(out, r"(?m)^tool everything: +ready$")
        self.assertRegex(out, r"(?m)^tool crasher: +server_down \(2 "
                         r"restarts\): the MCP server is not ready: the "
                         r"server exited with status 3 \(see log_tail\)$")
        self.assertEqual(self.json("status", "acme")["observed"]
                         ["tool_servers"][1]["log_tail"],
                         "claw-mcp-bridge: the server exited with status 3")
        self.assertEqual(self.json("nodes", "get", "node-b")["allocated"]
                         ["tenants"], 1)
        self.assertEqual(self.json("suspend", "acme")["state"], "suspended")
        self.assertTrue(node.tenant("acme")["gateway"]["config"]["suspended"])
        self.assertEqual(self.json("resume", "acme")["state"], "running")
        self.assertEqual(self.json("stop", "acme")["state"], "stopped")
        self.assertEqual(self.json("start", "acme")["state"], "running")
        deps = self.json("deployments", "list", "acme")["items"]
        self.assertEqual([d["phase"] for d in deps], ["healthy"])
        got = self.json("deployments", "get", "acme", deps[0]["id"])
        self.assertEqual(got["id"], deps[0]["id"])
        actions = [a["action"] for a in self.json(
            "audit", "list", "--tenant", "acme")["items"]]
        for a in ("tenant.suspend", "tenant.resume", "tenant.stop",
                  "tenant.start"):
            self.assertIn(a, actions)

        # a second deploy fails on the node: exit 1 with the reason
        deploy = self.start_cli("deploy", "acme", "--runtime-image",
                                "registry.invalid/nope:1")
        wait_for(lambda: (node.tenant("acme") or {}).get("runtime", {})
                 .get("image") == "registry.invalid/nope:1",
                 what="new deployment assigned")
        node.report("acme", "failed", "image not found: "
                    "registry.invalid/nope:1")
        out, err = deploy.communicate(timeout=120)
        self.assertEqual(deploy.returncode, 1, err)
        self.assertRegex(err, r"failed: image not found: "
                         r"registry.invalid/nope:1\n$")

        # rollback redeploys the healthy one
        rb = self.start_cli("rollback", "acme")
        wait_for(lambda: (node.tenant("acme") or {}).get("runtime", {})
                 .get("image") != "registry.invalid/nope:1",
                 what="rollback assigned")
        node.report("acme", "healthy")
        out, err = rb.communicate(timeout=120)
        self.assertEqual(rb.returncode, 0, err)
        deps = self.json("deployments", "list", "acme")["items"]
        self.assertEqual([d["phase"] for d in deps],
                         ["healthy", "failed", "healthy"])
        self.assertEqual(deps[0]["rollback_of"], deps[2]["id"])

        # --no-wait answers at once; a short wait ends with exit 10
        r = self.ok("deploy", "acme", "--no-wait", "-o", "json")
        self.assertEqual(json.loads(r.stdout)["phase"], "pending")
        r = self.run_cli("deploy", "acme", "--wait-timeout", "1")
        self.assertEqual(r.returncode, 10, r)
        self.assertIn("follow it with 'clawctl deployments get acme dep_",
                      r.stderr)

        self.assertEqual(self.ok("undeploy", "acme").stdout,
                         "tenant undeployed\n")
        r = self.run_cli("suspend", "acme")
        self.assertEqual(r.returncode, 6, r)
        self.assertIn("not_deployed", r.stderr)

    def test_04_workspace_resolving_shown(self):
        """A deploy with a git workspace goes through "resolving" (the
        commit pinned off the request thread) before pending; a ref that
        does not resolve fails with the fixed sentence (exit 1)."""
        node = self.join_node("node-w")
        for other in ("node-a", "node-b", "node-c"):
            self.run_cli("nodes", "cordon", other)
        repo = os.path.join(self.cp.data_dir, "ws-repo")
        os.makedirs(repo)
        _, head = init_repo(repo)
        spec = os.path.join(self.cp.data_dir, "ws-spec.json")
        with open(spec, "w") as f:
            json.dump({"workspace": {"repo": repo, "ref": "main"}}, f)
        self.create_tenant("wsco")
        r = self.ok("deploy", "wsco", "--file", spec, "--no-wait", "-o",
                    "json")
        self.assertEqual(json.loads(r.stdout)["phase"], "resolving")
        self.assertIn("(resolving)", r.stderr)
        dep = json.loads(r.stdout)["id"]
        wait_for(lambda: node.tenant("wsco"), what="wsco assigned")
        node.report("wsco", "healthy")
        got = self.json("deployments", "get", "wsco", dep)
        self.assertEqual(got["spec"]["workspace"]["commit"], head)
        table = self.ok("deployments", "list", "wsco").stdout
        self.assertIn("COMMIT", table.splitlines()[0])
        self.assertIn(head[:20], table)
        with open(spec, "w") as f:
            json.dump({"workspace": {"repo": repo, "ref": "nope"}}, f)
        r = self.run_cli("deploy", "wsco", "--file", spec)
        self.assertEqual(r.returncode, 1, r)
        self.assertIn(": resolving\n", r.stderr)
        self.assertRegex(r.stderr, r"failed: workspace: the repository has "
                         r"no branch or tag 'nope'\n$")
        self.ok("undeploy", "wsco")

    def test_05_domains_and_public_url(self):
        # slack_app_token: the preflight asks it of events mode too (it is
        # socket mode's per docs/gateway.md); set, it does no harm
        self.create_tenant("edgy", "telegram_bot_token",
                           "telegram_webhook_secret", "slack_bot_token",
                           "slack_signing_secret", "slack_app_token")
        got = self.json("domains", "add", "edgy", "Chat.Edgy.Example.")
        self.assertEqual(got, {"domain": "chat.edgy.example",
                               "tenant": "edgy"})
        r = self.ok("domains", "list", "edgy")
        self.assertIn("chat.edgy.example", r.stdout)
        self.assertIn("DOMAIN", r.stdout)
        # refusals keep their codes and exit codes
        for name, code in (("10.0.0.1", "domain_is_address"),
                           ("x.fleet.test", "domain_reserved"),
                           ("*.edgy.example", "domain_invalid")):
            r = self.run_cli("domains", "add", "edgy", name)
            self.assertEqual(r.returncode, 7, (name, r.stderr))
            self.assertIn(code, r.stderr)
        self.ok("tenants", "create", "other")
        r = self.run_cli("domains", "add", "other", "chat.edgy.example")
        self.assertEqual(r.returncode, 6, r.stderr)
        self.assertIn("domain_taken", r.stderr)
        self.assertEqual(self.json("tenants", "get", "edgy")["public_url"],
                         "https://edgy.fleet.test/")
        admin = self.cp.client()
        r = admin.post("/v1/tenants/edgy/deploy", {"gateway_config": {
            "tenant": "edgy", "channels": {"telegram": {},
                                           "slack": {"mode": "events"}}}})
        self.assertEqual(r.status, 202, r)
        st = self.json("status", "edgy")
        self.assertEqual(st["public_url"], "https://edgy.fleet.test/")
        self.assertEqual(st["domains"], ["chat.edgy.example"])
        self.assertEqual(st["webhooks"], {
            "telegram": "https://edgy.fleet.test/telegram/webhook",
            "slack": "https://edgy.fleet.test/slack/events"})
        r = self.ok("status", "edgy")
        self.assertIn("https://edgy.fleet.test/telegram/webhook", r.stdout)
        self.ok("domains", "remove", "edgy", "chat.edgy.example")
        self.assertEqual(self.json("domains", "list", "edgy")["items"], [])
        r = self.run_cli("domains", "remove", "edgy", "chat.edgy.example")
        self.assertEqual(r.returncode, 5, r.stderr)
        self.ok("undeploy", "edgy")

    def test_03_events_and_logs(self):
        node = self.join_node("node-c")
        self.ok("nodes", "cordon", "node-b")
        self.create_tenant("logs-t")
        # events arrive while clawctl follows the stream (from the
        # tenant's first event: the stream may connect after the deploy)
        ev = self.start_cli("events", "--tenant", "logs-t", "--since", "0",
                            "-o", "json")
        self.ok("deploy", "logs-t", "--no-wait")
        wait_for(lambda: node.tenant("logs-t"), what="assigned")
        node.report("logs-t", "healthy")
        seen = []
        for line in ev.stdout:
            seen.append(json.loads(line))
            if seen[-1]["type"] == "deployment.phase":
                break
        ev.terminate()
        ev.communicate(timeout=60)
        self.assertIn("deployment.created", [e["type"] for e in seen])
        self.assertEqual(seen[-1]["data"]["phase"], "healthy")
        self.assertTrue(all(e["tenant"] == "logs-t" for e in seen))
        # from the first kept event, N of them, then exit 0
        r = self.ok("events", "--tenant", "logs-t", "--since", "0",
                    "--count", "2")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2)
        self.assertRegex(lines[0], r"^\S+  \S+  logs-t  ")

        # logs: the node takes the request from its long poll and posts
        # the text; clawctl prints it and ends with the log
        logs = self.start_cli("logs", "logs-t", "--tail", "5")

        def serve_logs():
            req = wait_for(lambda: next(iter(
                node.assignments(wait=1).get("logs") or []), None),
                what="log request")
            self.assertEqual((req["tenant"], req["role"], req["tail"]),
                             ("logs-t", "runtime", 5))
            r = node.api.request("POST", "/v1/agent/logs/%s" % req["id"],
                                 b"line one\nline two\n",
                                 {"Content-Type": "text/plain"})
            assert r.status in (200, 204), r
            r = node.api.request("POST", "/v1/agent/logs/%s?end=1" %
                                 req["id"], b"",
                                 {"Content-Type": "text/plain"})
            assert r.status in (200, 204), r

        t = threading.Thread(target=serve_logs)
        t.start()
        out, err = logs.communicate(timeout=120)
        t.join()
        self.assertEqual(logs.returncode, 0, err)
        self.assertEqual(out, "line one\nline two\n")
        r = self.run_cli("logs", "nope")
        self.assertEqual(r.returncode, 5, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
