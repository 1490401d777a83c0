"""Tool servers end to end (issue 14, "Tests and figures"): a tenant
DEPLOYED through the control plane, as an operator does it, whose chat
turns call the tools of server-everything and server-filesystem, each
running as a hardened container of its own.

The stack: PostgreSQL, a real control plane (fleet default configs as
scripts/up.sh gives them: the scripted LLM as provider through the
gateway's egress proxy, its key the fleet's default secret; the image
policy image-allow = this engine's registry), one node agent joined to it
(no edge: a redeploy replaces in place, the gateway's port published on
127.0.0.1), with this build's claw-mcp-bridge bound into the tool
servers, the project's gateway and runtime images (stack.tenant_images),
the scripted LLM in a container, and claw/toolserver-node built by
deploy/images/toolserver-images.sh (test_node_agent_toolsrv's
toolserver_image). Only the control plane's API (and the built clawctl)
is used to set the tenant up:

- POST /v1/tenants; PUT .../secrets/{everything_key,fs_key}; PUT
  .../channels/openai (the OpenAI endpoint's token as a credential); PUT
  .../tools with two image servers, "everything" (with the secret
  EVERYTHING_KEY) and "fs" (FS_KEY); POST .../deploy with no body (the
  deploy composes the resources: docs/resources.md).

Proves, in order, on one stack:
1. a chat turn calls everything__echo and another fs__list_allowed_
   directories, each server in its own container claw-T-tool-NAME:
   read-only root, CapDrop ALL, no-new-privileges, a non-root user (the
   runtime's), only the tenant's internal network, and no route to the
   host's published address (the scripted LLM's);
2. the placement (GET /v1/tenants/{t}/placement, what the node observed)
   reports each server and its state, `clawctl status` shows them, and the
   dashboard (web/app.js) draws them from that placement;
3. a secret named for one server reaches only that server (a file of its
   secrets directory, not the other's, not the runtime's or gateway's),
   and no secret value is in any of the tenant's containers' docker
   inspect;
4. docker kill of a tool server: a chat turn that does not use it answers
   meanwhile, the node reports it ready again with one more restart, and
   its tool answers again;
5. a server whose image is outside the fleet's image policy is refused by
   the control plane (403 image_not_allowed, naming the field; audited as
   tools.put.denied), nothing is written (the tools resource keeps its
   version) and the deployment goes on answering;
6. a server whose command exits at once, added and deployed, is reported
   in the tenant's status (server_down with its log tail, in the placement
   and in `clawctl status`), while the other servers' tools still answer.

The network denials (internet, host, another tenant, the proxy's
refusals) and the bridge's 401 are node_agent_toolsrv's; here only the
host's published address is tried. The control plane exits clean (ASan).
"""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
for d in (".", "..", "../controlplane-fleet", "../node-agent"):
    p = os.path.normpath(os.path.join(HERE, d))
    if p not in sys.path:
        sys.path.insert(0, p)

from clawtest.cp import build_dir  # noqa: E402
from clawtest.docker import SRC, DockerEnv  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from edgestack import up_sh_defaults  # noqa: E402
from fleet import Fleet  # noqa: E402
import stack  # noqa: E402
from stack import reach  # noqa: E402
import suite  # noqa: E402
import test_node_agent_toolsrv as toolsrv  # noqa: E402

CLAWCTL = os.path.join(build_dir(), "cli", "clawctl")
FS_LIST = "use tool fs__list_allowed_directories {}"
SERVERS = ("everything", "fs")


class ToolServersEndToEnd(suite.E2ESuite):
    @classmethod
    def _start(cls):
        cls.env = DockerEnv()
        cls.images = stack.tenant_images(cls.env)
        cls.node_image = toolsrv.toolserver_image(cls.env)
        cls.pg = PgCluster().start()
        cls.cleanups.append(cls.pg.stop)
        egress = cls.start_egress_llm("claw-egress-ts-")
        cls.defaults = tempfile.TemporaryDirectory()
        cls.cleanups.append(cls.defaults.cleanup)
        extra = up_sh_defaults(cls.defaults.name)(cls) + [
            "--image-allow", cls.env.registry,
            # three tool servers (0.25 CPU, 128 MB each by default) fit
            "--default-cpus-milli", "2000", "--default-memory-mb", "1024",
            "--default-pids", "512"]
        cls.fleet = Fleet(cls.pg, cls.env, gateway_image=cls.images[
            "gateway"], runtime_image=cls.images["runtime"], extra=extra)
        cls.cleanups.insert(0, lambda: cls.fleet.close(check=True))
        cls.admin = cls.fleet.admin
        # the agent binds this build's bridge into the tool servers
        os.environ["CLAW_NODE_AGENT_MCP_BRIDGE"] = toolsrv.BRIDGE
        cls.node = cls.fleet.agent(cls.env, "ts-node-" + secrets.token_hex(3),
                                   egress=egress)
        cls.slug = "ts-" + secrets.token_hex(3)
        cls.secret = {"everything": "se-" + secrets.token_hex(12),
                      "fs": "sf-" + secrets.token_hex(12)}
        cls.setup_tenant()

    # ---------------------------------------------------------- helpers
    @classmethod
    def servers(cls, extra=()):
        """The tools resource's servers: image servers, each with a
        secret of its own by name."""
        return [{"name": "everything", "image": cls.node_image,
                 "command": ["node", toolsrv.EVERYTHING, "stdio"],
                 "secrets": {"EVERYTHING_KEY": "everything_key"},
                 "limits": {"memory_mb": 256, "pids": 64},
                 "scratch_mb": 8},
                {"name": "fs", "image": cls.node_image,
                 "command": ["node", toolsrv.FILESYSTEM, "/tmp"],
                 "secrets": {"FS_KEY": "fs_key"}}] + list(extra)

    @classmethod
    def put(cls, path, body, status=200):
        r = cls.admin.put("/v1/tenants/%s/%s" % (cls.slug, path), body)
        assert r.status == status, (path, r.status, r.body)
        return r.json()

    @classmethod
    def setup_tenant(cls):
        """As an operator would: the tenant, its secrets, its channel and
        tools as resources, one deploy with no body."""
        cls.fleet.tenant(cls.slug)
        for name in SERVERS:
            cls.put("secrets/%s_key" % name, {"value": cls.secret[name]},
                    201)
        cls.put("channels/openai", {
            "settings": {"rate_limit_per_minute": 0},
            "credentials": {"api_token": stack.OPENAI_TOKEN}})
        tools = cls.put("tools", {"servers": cls.servers()})
        for s in cls.secret.values():
            assert s not in json.dumps(tools), tools
        cls.deploy()

    @classmethod
    def deploy(cls):
        """A deploy with no body (composed from the resources), until it
        is healthy with both servers ready; cls.gw its gateway."""
        dep = cls.fleet.deploy(cls.slug, None)
        cls.dep = dep["id"]
        cls.fleet.wait_dep(cls.slug, cls.dep, "healthy", 240)
        spec = cls.fleet.dep(cls.slug, cls.dep)["spec"]
        assert [s["name"] for s in spec["tool_servers"]][:2] == \
            list(SERVERS), spec["tool_servers"]
        for v in cls.secret.values():  # secrets by name only
            assert v not in json.dumps(spec), spec["tool_servers"]
        p = cls.observed(lambda p: all(
            cls.state(p, n) == "ready" for n in SERVERS))
        cls.gw = stack.GatewayClient(p["observed"]["roles"]["gateway"]
                                     ["port"])

    @classmethod
    def observed(cls, pred, timeout=240):
        """The placement once the node's report about the current
        deployment satisfies pred."""
        def check():
            p = cls.fleet.placement(cls.slug)
            o = p.get("observed") or {}
            if p.get("deployment_id") == cls.dep and \
                    o.get("deployment") == cls.dep and \
                    p.get("phase") == "healthy" and pred(p):
                return p
            return None
        return cls.fleet.wait(check, timeout, "the placement of %s" %
                              cls.slug)

    @staticmethod
    def server(p, name):
        for s in p["observed"].get("tool_servers") or []:
            if s["name"] == name:
                return s
        return None

    @classmethod
    def state(cls, p, name):
        return (cls.server(p, name) or {}).get("state")

    def echo(self, timeout=180):
        """everything's echo in a chat turn until it answers (as
        node_agent_toolsrv's: a replaced server's first call may fail)."""
        return toolsrv.Stack.echo(self, timeout)

    def container(self, name):
        return self.env.inspect("claw-%s-tool-%s" % (self.slug, name))

    def clawctl(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("CLAW_TOKEN")}
        env["CLAW_URL"] = self.fleet.cp.url
        env["CLAW_TOKEN"] = self.fleet.cp.admin_token
        r = subprocess.run([CLAWCTL] + list(args), env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, "%s: %s%s" % (args, r.stdout,
                                                         r.stderr))
        return r.stdout

    # ------------------------------------------------------------ tests
    def test_1_tool_calls_each_in_its_own_container(self):
        reply = self.echo()
        self.assertIn("hi from the sandbox", reply)
        reply = self.gw.wait_tool(FS_LIST, 120)
        self.assertTrue(reply.startswith("tool result:"), reply)
        self.assertIn("/tmp", reply)
        rt = self.env.inspect("claw-%s-runtime" % self.slug)
        ids = set()
        for name in SERVERS:
            c = self.container(name)
            ids.add(c["Id"])
            self.assertTrue(c["State"]["Running"], name)
            h = c["HostConfig"]
            self.assertTrue(h["ReadonlyRootfs"], name)
            self.assertEqual(h["CapDrop"], ["ALL"], name)
            self.assertIn("no-new-privileges:true", h["SecurityOpt"])
            user = c["Config"]["User"]
            self.assertTrue(user, name)
            self.assertNotEqual(user.split(":")[0], "0", name)
            self.assertEqual(user, rt["Config"]["User"], name)
            self.assertEqual(list(c["NetworkSettings"]["Networks"]),
                             ["claw-t-" + self.slug], name)
            self.assertEqual(c["Config"]["Labels"].get("claw.tool"), name)
        self.assertEqual(len(ids), 2)
        self.assertEqual(self.container("everything")["HostConfig"]
                         ["Memory"], 256 << 20)
        # no route to the host's published address (the LLM's port);
        # Docker's isolation rules first (another dockerd started on this
        # host flushes them: the environment, not the product, then)
        self.assertEqual(stack.isolation_rules_missing(
            self.env, ["claw-t-" + self.slug]), [],
            "Docker's isolation rules of the tenant network are gone from "
            "iptables (another dockerd started on this host flushes them)")
        pid = self.container("everything")["State"]["Pid"]
        self.assertEqual(reach(pid, self.llm.ip, stack.LLM_PORT),
                         "unreachable")

    def test_2_reported_in_placement_status_and_dashboard(self):
        p = self.observed(lambda p: all(
            self.state(p, n) == "ready" for n in SERVERS))
        for name in SERVERS:
            s = self.server(p, name)
            self.assertTrue(s["ready"], s)
            self.assertEqual(s["container"],
                             "claw-%s-tool-%s" % (self.slug, name))
            self.assertEqual(s["image"], self.node_image)
        # clawctl status: one line per server, and in its JSON
        out = self.clawctl("status", self.slug)
        for name in SERVERS:
            self.assertRegex(out, r"(?m)^tool %s:\s+ready\b" % name)
        j = json.loads(self.clawctl("status", self.slug, "-o", "json"))
        self.assertEqual(sorted(s["name"] for s in
                                j["observed"]["tool_servers"]),
                         sorted(SERVERS))
        # the dashboard draws them from the placement's observed status
        with open(os.path.join(SRC, "web", "app.js")) as f:
            app = f.read()
        self.assertIn("p.observed && p.observed.tool_servers", app)
        self.assertIn('"data-tool-server"', app)
        self.assertIn('{ id: "tool-servers" }, toolServers(p)', app)

    def test_3_secret_reaches_only_its_server(self):
        own = {"everything": "EVERYTHING_KEY", "fs": "FS_KEY"}
        for name, var in own.items():
            c = self.container(name)
            sec = [m for m in c["Mounts"]
                   if m["Destination"] == "/run/claw/secrets"][0]
            self.assertFalse(sec["RW"])
            self.assertEqual(sorted(os.listdir(sec["Source"])),
                             sorted([var, "claw-mcp-token"]), name)
            with open(os.path.join(sec["Source"], var)) as f:
                self.assertEqual(f.read(), self.secret[name])
            # readable inside by the server's uid
            out = self.env.docker(
                "exec", c["Id"], "node", "-e",
                "process.stdout.write(require('fs').readFileSync("
                "'/run/claw/secrets/%s', 'utf8'))" % var)
            self.assertEqual(out.strip(), self.secret[name])
        for role in ("runtime", "gateway"):
            c = self.env.inspect("claw-%s-%s" % (self.slug, role))
            sec = [m for m in c["Mounts"]
                   if m["Destination"] == "/run/claw/secrets"][0]
            names = os.listdir(sec["Source"])
            for var in own.values():
                self.assertNotIn(var, names, role)
        # no secret value in any of the tenant's containers' inspect
        ids = self.env.docker("ps", "-aq", "--filter",
                              "label=claw.tenant=" + self.slug).split()
        self.assertGreaterEqual(len(ids), 4)
        for cid in ids:
            text = json.dumps(self.env.inspect(cid))
            for v in list(self.secret.values()) + [self.llm_key,
                                                   stack.OPENAI_TOKEN]:
                self.assertNotIn(v, text, cid)

    def test_4_killed_server_heals_while_chat_goes_on(self):
        p = self.observed(lambda p: self.state(p, "fs") == "ready")
        before = self.server(p, "fs")["restarts"]
        old = self.container("fs")["Id"]
        self.env.docker("kill", "claw-%s-tool-fs" % self.slug)
        # a turn that does not use it answers meanwhile
        self.assertEqual(self.gw.chat_text("still here?"),
                         "echo: still here?")
        self.assertIn("hi from the sandbox", self.echo())
        self.observed(lambda p: self.state(p, "fs") == "ready" and
                      self.server(p, "fs")["restarts"] > before, 180)
        self.assertNotEqual(self.container("fs")["Id"], old)

        def listed():
            r = self.gw.wait_tool(FS_LIST, 120)
            return r if "/tmp" in r else None
        reply = wait_for(listed, 180, interval=1,
                                 what="fs's tool after the kill")
        self.assertTrue(reply.startswith("tool result:"), reply)

    def test_5_image_outside_the_policy_refused(self):
        before = self.admin.get("/v1/tenants/%s/tools" % self.slug).json()
        bad = self.servers([{"name": "evil", "image": "docker.io/evil/x:1",
                             "command": ["x"]}])
        r = self.admin.put("/v1/tenants/%s/tools" % self.slug,
                           {"servers": bad})
        self.assertEqual(r.status, 403, r.body)
        err = r.json()["error"]
        self.assertEqual(err["code"], "image_not_allowed")
        self.assertIn("servers[2].image 'docker.io/evil/x:1'",
                      err["message"])
        # audited as a refusal, with its code
        rows = self.admin.get("/v1/audit?limit=100&action=tools.put.denied"
                              "&tenant=" + self.slug).json()["items"]
        self.assertEqual([a["details"]["code"] for a in rows],
                         ["image_not_allowed"])
        # nothing written: the same version, the same deployment running
        after = self.admin.get("/v1/tenants/%s/tools" % self.slug).json()
        self.assertEqual(after["version"], before["version"])
        self.assertEqual(after["body"], before["body"])
        self.assertEqual(self.fleet.placement(self.slug)["deployment_id"],
                         self.dep)
        self.assertNotIn("evil", json.dumps(self.fleet.dep(
            self.slug, self.dep)["spec"]))
        self.assertEqual(self.gw.chat_text("after the refusal"),
                         "echo: after the refusal")

    def test_6_crashing_server_reported_others_answer(self):
        crasher = {"name": "crasher", "image": self.node_image,
                   "command": ["node", "-e", "process.exit(3)"]}
        r = self.put("tools", {"servers": self.servers([crasher])})
        self.assertTrue(r["redeploy_required"], r)
        type(self).deploy()
        p = self.observed(lambda p: self.state(p, "crasher") ==
                          "server_down" and "exited with status 3" in
                          (self.server(p, "crasher")["log_tail"] or ""),
                          180)
        self.assertFalse(self.server(p, "crasher")["ready"])
        out = self.clawctl("status", self.slug)
        self.assertRegex(out, r"(?m)^tool crasher:\s+server_down\b.*")
        self.assertIn("exited with status 3", out)
        # only its own tools are gone: the others' still answer
        self.assertIn("hi from the sandbox", self.echo())
        reply = self.gw.wait_tool(FS_LIST, 120)
        self.assertIn("/tmp", reply)


if __name__ == "__main__":
    unittest.main(verbosity=2)
