"""Integration: clawctl against the real claw-controlplane and a real
PostgreSQL (clawtest): tenants (and their bounds), plans, tokens, secrets
and audit commands, table and JSON output, pagination, exit codes, error messages from the API's
error shape, and a secret value that never shows anywhere but the store."""

import json
import os
import re
import subprocess
import tempfile
import unittest

from clawtest.cp import ControlPlane
from clawtest.pg import PgCluster

from clawctl_case import CLAWCTL, ClawctlCase

CANARY = "canary-8c1f2e-secret-value"


class ClawctlTest(ClawctlCase):

    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        cls.cp = ControlPlane(
            database_url=cls.pg.create_database("cli")).start()
        cls.token_file = os.path.join(cls.cp.data_dir, "admin.token")
        cls.outputs = []  # every stdout/stderr, checked for the canary

    @classmethod
    def tearDownClass(cls):
        cls.cp.stop()
        cls.pg.stop()

    def run_cli(self, *args, token_file=None, token=None, stdin=None,
                url=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CLAW_TOKEN")}
        env["CLAW_URL"] = url or self.cp.url
        if token is not None:
            env["CLAW_TOKEN"] = token
        else:
            env["CLAW_TOKEN_FILE"] = token_file or self.token_file
        r = subprocess.run([CLAWCTL] + list(args), env=env, input=stdin,
                           capture_output=True, text=True, timeout=60)
        self.outputs.append(r.stdout + r.stderr)
        return r




    def test_01_tenants_lifecycle(self):
        t = self.json("tenants", "create", "acme", "--name", "Acme Corp")
        self.assertEqual((t["slug"], t["name"], t["version"]),
                         ("acme", "Acme Corp", 1))
        r = self.fails(6, "tenants", "create", "acme")
        self.assertRegex(r.stderr, r"^error: a tenant with slug 'acme' "
                         r"exists.*\(slug_taken, HTTP 409, request id "
                         r"[0-9a-f]+\)\n$")
        self.fails(7, "tenants", "create", "Not_A_Slug")
        table = self.ok("tenants", "list").stdout.splitlines()
        self.assertRegex(table[0], r"^SLUG +NAME +STATUS +PLAN +VERSION +ID +"
                         r"CREATED +PUBLIC URL$")
        self.assertRegex(table[1], r"^acme +Acme Corp +active +default +1 +"
                         r"tnt_")
        got = self.ok("tenants", "get", "acme").stdout
        self.assertRegex(got, r"(?m)^slug: +acme$")
        self.assertEqual(self.json("tenants", "get", t["id"])["slug"], "acme")
        t2 = self.json("tenants", "update", "acme", "--name", "Acme 2",
                       "--version", "1")
        self.assertEqual((t2["name"], t2["version"]), ("Acme 2", 2))
        r = self.fails(6, "tenants", "update", "acme", "--name", "Stale",
                       "--version", "1")
        self.assertIn("version_conflict", r.stderr)
        self.fails(2, "tenants", "update", "acme")
        self.fails(5, "tenants", "get", "nope")
        self.assertEqual(self.json("tenants", "delete", "acme")["status"],
                         "deleted")
        self.assertEqual(self.json("tenants", "list")["items"], [])
        self.assertEqual([x["slug"] for x in self.json(
            "tenants", "list", "--status", "deleted")["items"]], ["acme"])
        self.assertEqual(self.json("tenants", "restore", "acme")["status"],
                         "active")

    def test_02_pagination(self):
        for s in ("page-a", "page-b", "page-c"):
            self.ok("tenants", "create", s)
        r = self.ok("tenants", "list", "--slug-prefix", "page-", "--limit",
                    "2")
        self.assertEqual(len(r.stdout.splitlines()), 3)  # header + 2
        self.assertRegex(r.stderr, r"^more: repeat with --cursor \S+\n$")
        cursor = r.stderr.split()[-1]
        r = self.ok("tenants", "list", "--slug-prefix", "page-", "--limit",
                    "2", "--cursor", cursor)
        self.assertEqual(len(r.stdout.splitlines()), 2)
        everything = self.json("tenants", "list", "--slug-prefix", "page-",
                               "--limit", "1", "--all")
        self.assertEqual(sorted(x["slug"] for x in everything["items"]),
                         ["page-a", "page-b", "page-c"])
        self.assertIsNone(everything["next_cursor"])
        self.ok("tenants", "delete", "page-c")
        r = self.fails(2, "tenants", "purge", "page-c")
        self.assertIn("--yes", r.stderr)
        self.assertEqual(self.ok("tenants", "purge", "page-c",
                                 "--yes").stdout, "tenant purged\n")
        self.fails(5, "tenants", "get", "page-c")

    def test_03_tokens(self):
        self.ok("tenants", "create", "tok-a")
        self.ok("tenants", "create", "tok-b")
        r = self.ok("tokens", "create", "--role", "tenant", "--tenant",
                    "tok-a", "--name", "ci")
        tok = r.stdout.strip()
        self.assertRegex(tok, r"^\S{20,}$")
        self.assertIn("shown only this once", r.stderr)
        listed = self.json("tokens", "list", "--role", "tenant")["items"]
        self.assertTrue(any(x["name"] == "ci" for x in listed))
        self.assertNotIn(tok, json.dumps(listed))
        self.assertNotIn(tok, self.ok("tokens", "list").stdout)
        # the tenant token sees its own tenant only; others are 404
        self.assertEqual(self.json("tenants", "get", "tok-a",
                                   token=tok)["slug"], "tok-a")
        self.fails(5, "tenants", "get", "tok-b", token=tok)
        self.fails(4, "tenants", "create", "x", token=tok)
        tid = [x["id"] for x in listed if x["name"] == "ci"][0]
        self.assertEqual(self.ok("tokens", "delete", tid).stdout,
                         "token revoked\n")
        self.fails(4, "tenants", "get", "tok-a", token=tok)
        self.fails(5, "tokens", "delete", tid)
        self.fails(2, "tokens", "create")

    def test_04_secrets(self):
        self.ok("tenants", "create", "sec")
        m = self.json("secrets", "set", "sec", "LLM_KEY", stdin=CANARY)
        self.assertEqual((m["name"], m["version"]), ("LLM_KEY", 1))
        with tempfile.NamedTemporaryFile("w", delete=False) as f:
            f.write(CANARY + "-2")
        m = self.json("secrets", "set", "sec", "LLM_KEY", "--from-file",
                      f.name)
        os.unlink(f.name)
        self.assertEqual(m["version"], 2)
        table = self.ok("secrets", "list", "sec").stdout.splitlines()
        self.assertRegex(table[0], r"^NAME +VERSION +CREATED +UPDATED$")
        self.assertRegex(table[1], r"^LLM_KEY +2 ")
        r = self.fails(9, "secrets", "set", "sec", "X", "--from-file",
                       "/nonexistent/file")
        self.assertIn("unable to open '/nonexistent/file'", r.stderr)
        r = self.fails(7, "secrets", "set", "sec", ".bad", stdin="v")
        self.assertIn("invalid_secret_name", r.stderr)
        r = self.fails(2, "secrets", "set", "sec", "BIG", stdin="x" * 70000)
        self.assertIn("over 65536 bytes", r.stderr)
        # too many arguments: the value can never come from argv
        self.fails(2, "secrets", "set", "sec", "K", CANARY)
        self.assertEqual(self.ok("secrets", "delete", "sec",
                                 "LLM_KEY").stdout, "secret deleted\n")
        self.fails(5, "secrets", "delete", "sec", "LLM_KEY")
        self.fails(5, "secrets", "list", "nope")

    def test_05_audit(self):
        self.ok("tenants", "create", "aud")
        rows = self.json("audit", "list", "--tenant", "aud")["items"]
        self.assertEqual([x["action"] for x in rows], ["tenant.create"])
        table = self.ok("audit", "list", "--action", "tenant.create",
                        "--limit", "1").stdout.splitlines()
        self.assertRegex(table[0], r"^ID +TIME +ACTOR +ROLE +ACTION +TARGET")
        self.assertIn("tenant.create", table[1])
        self.fails(7, "audit", "list", "--since", "yesterday")
        self.assertEqual(self.json("audit", "list", "--since",
                                   "2999-01-01T00:00:00Z")["items"], [])
        r = self.ok("audit", "verify")
        self.assertRegex(r.stdout, r"^audit chain intact: \d+ rows "
                         r"checked\n$")
        self.assertTrue(self.json("audit", "verify")["ok"])
        auditor = self.cp.new_token("auditor")[1]
        self.assertTrue(self.json("audit", "verify", token=auditor)["ok"])
        self.fails(4, "tenants", "list", token=auditor)

    def test_06_broken_chain_exits_1(self):
        self.ok("tenants", "create", "tamper")
        row = self.json("audit", "list", "--tenant", "tamper")["items"][0]
        self.pg.psql("ALTER TABLE audit_log DISABLE TRIGGER USER; "
                     "UPDATE audit_log SET action = 'tenant.forged' "
                     "WHERE id = %d; ALTER TABLE audit_log ENABLE TRIGGER "
                     "USER" % row["id"], dbname="cli")
        r = self.run_cli("audit", "verify")
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("audit chain BROKEN at row %d" % row["id"], r.stdout)

    def test_07_config_and_transport_errors(self):
        r = self.fails(4, "tenants", "list", token="")
        self.assertIn("hint: no token was given", r.stderr)
        r = self.fails(4, "tenants", "list", token="claw_wrong")
        self.assertIn("(unauthorized, HTTP 401", r.stderr)
        r = self.fails(3, "tenants", "list", url="http://127.0.0.1:1")
        self.assertIn("unable to reach the control plane at "
                      "http://127.0.0.1:1", r.stderr)
        r = self.fails(9, "tenants", "list",
                       token_file="/nonexistent/token")
        self.assertIn("unable to open token file", r.stderr)
        self.fails(2, "tenants", "list", url="ftp://x")
        # flags after the subcommand win over the environment
        self.ok("tenants", "list", "--url", self.cp.url,
                url="http://127.0.0.1:1")

    def test_09_plans_and_bounds(self):
        p = self.json("plans", "create", "small", "--cpus-milli", "500",
                      "--memory-mb", "256", "--pids", "128", "--disk-mb",
                      "0")
        self.assertEqual((p["name"], p["cpus_milli"], p["disk_mb"]),
                         ("small", 500, 0))
        self.fails(6, "plans", "create", "small", "--cpus-milli", "500",
                   "--memory-mb", "256", "--pids", "128")
        self.fails(6, "plans", "update", "default", "--pids", "64")
        self.fails(2, "plans", "create", "x", "--cpus-milli", "500")
        self.fails(2, "plans", "update", "small")
        self.fails(2, "plans", "update", "small", "--pids", "many")
        self.fails(7, "plans", "create", "big", "--cpus-milli", "999999",
                   "--memory-mb", "256", "--pids", "128")
        table = self.ok("plans", "list").stdout.splitlines()
        self.assertRegex(table[0], r"^NAME +CPU_M +MEM_MB +PIDS +DISK_MB +"
                         r"TENANTS +BUILTIN$")
        self.assertRegex(table[1], r"^default +500 +256 +256 +0 +- +true$")
        self.assertRegex(table[2], r"^small +500 +256 +128 +0 +0 +false$")
        self.assertEqual(self.json("plans", "update", "small", "--pids",
                                   "64")["pids"], 64)
        self.ok("tenants", "create", "bounded", "--plan", "small",
                "--egress-allow", "api.example.com:443, *.mcp.test:443",
                "--self-pause", "on")
        t = self.json("tenants", "get", "bounded")
        self.assertEqual((t["plan"], t["egress_allow"], t["self_pause"]),
                         ("small", ["api.example.com:443", "*.mcp.test:443"],
                          True))
        self.fails(5, "tenants", "update", "bounded", "--plan", "nope")
        self.fails(2, "tenants", "update", "bounded", "--self-pause", "yes")
        t = self.json("tenants", "update", "bounded", "--plan", "default",
                      "--egress-allow", "", "--self-pause", "off")
        self.assertEqual((t["plan"], t["egress_allow"], t["self_pause"]),
                         ("default", [], False))
        # placement and channel URL bounds: labels repeated per value
        t = self.json("tenants", "update", "bounded", "--node-labels",
                      "zone=a, zone=b,gpu=yes", "--api-base-allow",
                      "https://mm.acme.test")
        self.assertEqual((t["node_labels"], t["api_base_allow"]),
                         ({"zone": ["a", "b"], "gpu": "yes"},
                          ["https://mm.acme.test"]))
        self.fails(2, "tenants", "update", "bounded", "--node-labels",
                   "zone")
        self.fails(7, "tenants", "update", "bounded", "--api-base-allow",
                   "ftp://x")
        t = self.json("tenants", "update", "bounded", "--node-labels", "",
                      "--api-base-allow", "")
        self.assertEqual((t["node_labels"], t["api_base_allow"]), ({}, []))
        self.json("tenants", "update", "bounded", "--plan", "small")
        self.fails(6, "plans", "delete", "small")  # in use
        # an operator assigns plans but defines none
        tok = self.json("tokens", "create", "--role", "operator")["token"]
        self.ok("tenants", "update", "bounded", "--plan", "default",
                token=tok)
        self.fails(4, "plans", "create", "op", "--cpus-milli", "500",
                   "--memory-mb", "256", "--pids", "128", token=tok)
        self.ok("plans", "delete", "small")
        self.fails(5, "plans", "get", "small")

    def test_08_help_everywhere(self):
        top = self.ok("--help").stdout
        cmds = [l.split()[0] for l in
                top.split("Commands:\n")[1].split("\n\n")[0].splitlines()
                if re.match(r"^  \S", l)]
        for c in ("tenants", "tokens", "secrets", "audit", "deploy",
                  "nodes", "events", "logs", "plans", "rollout", "top",
                  "chat", "config", "completion"):
            self.assertIn(c, cmds)
        for c in cmds:
            h = self.ok(c, "--help").stdout
            if "Subcommands:" not in h:
                self.assertTrue(h.startswith("usage: clawctl %s" % c), h)
                self.assertIn("Global options:", h)
                continue
            subs = [l.split()[0] for l in h.split("Subcommands:\n")[1]
                    .split("\n\n")[0].splitlines() if re.match(r"^  \S", l)]
            self.assertTrue(subs, c)
            for s in subs:
                sh = self.ok(c, s, "--help").stdout
                self.assertTrue(sh.startswith("usage: clawctl %s %s" %
                                              (c, s)), sh)
                self.assertIn("Global options:", sh)
        self.fails(2, "nosuchcommand")
        self.fails(2, "tenants", "nosuch")
        self.fails(2, "deploy")

    def test_99_canary_never_printed(self):
        self.assertFalse([o for o in self.outputs if CANARY in o])
        self.assertNotIn(CANARY, self.cp.daemon.log_text())


if __name__ == "__main__":
    unittest.main(verbosity=2)
