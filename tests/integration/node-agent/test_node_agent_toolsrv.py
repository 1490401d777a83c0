"""Tool servers (issue 14) on the real Docker engine: a tenant's stdio MCP
servers, each in a hardened container of its own run by the node agent
(desired state from a file), reached by the runtime over Streamable HTTP
through claw-mcp-bridge and the gateway's egress proxy.

The stack: the project's gateway and runtime images (stack.tenant_images,
from CLAW_E2E_IMAGE_BUILD_DIR or this build), the scripted LLM in a
container on the agent's egress network, and claw/toolserver-node built
by deploy/images/toolserver-images.sh (Debian's nodejs, the npm servers
preinstalled, and the libraries of this build's bridge when it is a
sanitizer build's, which is dynamic); the agent binds this build's
claw-mcp-bridge (CLAW_NODE_AGENT_MCP_BRIDGE). The tenant declares two
servers, "everything" (@modelcontextprotocol/server-everything),
"memory" (server-memory) and "fs" (server-filesystem on its /tmp), the
first two with a secret of their own.

Proves, in order (one stack): chat turns call everything's echo tool and
fs's list_allowed_directories, each in its own container (hardened: read-only root, no capabilities,
no-new-privileges, the tenant's uid, limits, only the tenant's internal
network, the bridge bound read-only as the entrypoint); each secret
reaches only the server it is named for, as a file, and no secret or
token is in any container's docker inspect; a tool server has no way out
but the gateway's proxy, which refuses what is not allowed, and cannot
reach another tenant's containers; the bridge
answers 401 without the token; a killed tool server is healed while chat
goes on; a restarted agent adopts them as they run; a redeploy replaces
the servers with the rest and a server whose
command exits at once is reported (server_down, with its log tail; the
runtime's /readyz names it in mcp_down, as one that never answers
initialize, whose time-out the runtime logs) while the others' tools still
answer; an image outside the policy is refused
with a clear message; unassigning the tenant removes its tool servers. A
server that reads its stdin and never answers initialize is not ready
(server_down, "timed out waiting for initialize", with its log tail).

BlueGreen (an agent driving a real Caddy, as test_edge_docker.py): during a
blue/green redeploy the draining pair keeps its own tool server (a chat
turn through the edge, still served by the old pair, calls its tool) while
the new generation's runs in the other slot; once the old pair is removed,
so is its tool server.
Only addresses of containers and networks the test made are contacted
(8.8.8.8 is tried from inside the tool server's namespace, where the
internal network has no route, and through the proxy, which refuses it
before any connection)."""

import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from clawtest.docker import BUILD, SRC, DockerEnv, NodeAgent  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
import stack  # noqa: E402
import suite  # noqa: E402
from stack import connect_via_proxy, reach  # noqa: E402
from clawtest.edge import Caddy, edge_args, https_request  # noqa: E402
from clawtest.http import free_port  # noqa: E402

MCP = "/opt/mcp/node_modules/@modelcontextprotocol/"
EVERYTHING = MCP + "server-everything/dist/index.js"
MEMORY = MCP + "server-memory/dist/index.js"
FILESYSTEM = MCP + "server-filesystem/dist/index.js"
BRIDGE = os.path.join(BUILD, "tools", "mcp-bridge", "claw-mcp-bridge")
ECHO = 'use tool everything__echo {"message": "hi from the sandbox"}'


def toolserver_image(env):
    """claw/toolserver-node built from this build (its bridge's
    libraries) and pushed; the pinned reference."""
    script = os.path.join(SRC, "deploy", "images", "toolserver-images.sh")
    tag = "ts-" + hashlib.sha256(BUILD.encode()).hexdigest()[:8]
    r = subprocess.run([script, "--build-dir", BUILD, "--tag", tag],
                       env=env.env(), capture_output=True, text=True)
    m = re.search(r"^CLAW_TOOLSERVER_NODE_IMAGE=(\S+)$", r.stdout, re.M)
    if r.returncode or not m:
        raise RuntimeError("toolserver-images.sh: " + r.stderr)
    return m[1]


class Stack(suite.E2ESuite):
    """The stack and helpers of both classes (no tests of its own)."""
    cleanup_errors_fail = False  # printed; the other cleanups still run

    @classmethod
    def agent_extra(cls):
        return []

    @classmethod
    def gateway(cls, t):
        return stack.GatewayClient(t["roles"]["gateway"]["port"])

    @classmethod
    def _start(cls):
        cls.env = DockerEnv()
        cls.images = stack.tenant_images(cls.env)
        cls.node_image = toolserver_image(cls.env)
        os.environ["CLAW_NODE_AGENT_MCP_BRIDGE"] = BRIDGE
        cls.na = NodeAgent(cls.env, {"generation": 1, "tenants": []},
                           name="ts-" + secrets.token_hex(3),
                           extra=["--backoff-ms", "300"] + cls.agent_extra())
        cls.cleanups.append(cls.na.cleanup)
        cls.na.start()
        cls.llm_key = "sk-llm-" + secrets.token_hex(12)
        cls.llm = stack.ScriptedLLM(cls.env, cls.images["scripted-llm"],
                                    cls.na.egress, cls.llm_key)
        cls.cleanups.insert(0, cls.llm.close)
        cls.name = "ts-" + secrets.token_hex(3)
        cls.other = "ts-o-" + secrets.token_hex(3)  # no tool servers
        cls.secret_a = "sa-" + secrets.token_hex(12)
        cls.secret_b = "sb-" + secrets.token_hex(12)
        cls.gen = 0
        cls.apply()
        t = cls.ready()
        cls.gw = cls.gateway(t)

    @classmethod
    def servers(cls, extra=()):
        return [{"name": "everything", "image": cls.node_image,
                 "command": ["node", EVERYTHING, "stdio"],
                 "secrets": {"EVERYTHING_KEY": cls.secret_a},
                 "limits": {"memory_mb": 256, "pids": 64},
                 "scratch_mb": 8},
                {"name": "memory", "image": cls.node_image,
                 "command": ["node", MEMORY],
                 "env": {"MEMORY_FILE_PATH": "/tmp/memory.json"},
                 "secrets": {"MEMORY_KEY": cls.secret_b}},
                {"name": "fs", "image": cls.node_image,
                 "command": ["node", FILESYSTEM, "/tmp"]}] + list(extra)

    @classmethod
    def spec(cls, extra=(), name=None):
        """The tenant's entry; name: another tenant's, without tool
        servers, at generation 1 for ever."""
        gen = 1 if name else cls.gen
        name = name or cls.name
        return {
            "tenant": name, "deployment": "d%d" % gen,
            "generation": gen, "state": "running", "min_ready_ms": 0,
            "plan": {"cpus": 2, "memory_mb": 1024, "pids": 512},
            "registry_auth": cls.env.auth(),
            "gateway": {"image": cls.images["gateway"],
                        "config": {"tenant": name,
                                   "egress_allow": [cls.llm.hostport],
                                   "channels": {"openai": {}}},
                        "secrets": {"openai_api_token":
                                    stack.OPENAI_TOKEN}},
            "runtime": {"image": cls.images["runtime"],
                        "config": stack.runtime_config(name, cls.llm, []),
                        "secrets": {"llm_api_key": cls.llm_key}},
            "tool_servers": [] if name != cls.name else cls.servers(extra),
        }

    @classmethod
    def apply(cls, extra=(), tenants=None):
        cls.gen += 1
        cls.na.set_desired({"generation": cls.gen, "tenants":
                            [cls.spec(extra), cls.spec(name=cls.other)]
                            if tenants is None else tenants})
        return cls.gen

    NAMES = ("everything", "memory", "fs")

    @classmethod
    def ready(cls, names=None, timeout=240):
        names = names or cls.NAMES

        def ok(t):
            states = {s["name"]: s["state"] for s in t["tool_servers"]}
            return t["phase"] == "healthy" and \
                all(states.get(n) == "ready" for n in names)
        return cls.na.wait_tenant(cls.name, ok, timeout)

    def echo(self, timeout=180):
        """everything's echo called in a chat turn, until it answers. The
        first call after its server was replaced may fail (the new bridge
        does not know the runtime's session: the runtime is told, the
        model gets the error, the next call starts a new session)."""
        def answered():
            reply = self.gw.wait_tool(ECHO, timeout)
            return reply if "hi from the sandbox" in reply else None
        reply = wait_for(answered, timeout, interval=1,
                         what="the echo tool's answer")
        self.assertTrue(reply.startswith("tool result:"), reply)
        return reply

    def tool(self, name):
        return [s for s in self.na.tenant(self.name)["tool_servers"]
                if s["name"] == name][0]

    def container(self, server):
        return self.env.inspect("claw-%s-tool-%s" % (self.name, server))

    def ip(self, c):
        return c["NetworkSettings"]["Networks"][
            "claw-t-" + self.name]["IPAddress"]



class ToolServers(Stack):
    # ------------------------------------------------------------ tests
    def test_1_tool_call_in_its_own_container(self):
        self.echo()
        reply = self.gw.wait_tool("use tool fs__list_allowed_directories {}",
                                  120)
        self.assertTrue(reply.startswith("tool result:"), reply)
        self.assertIn("/tmp", reply)
        c = self.container("everything")
        h = c["HostConfig"]
        self.assertTrue(h["ReadonlyRootfs"])
        self.assertEqual(h["CapDrop"], ["ALL"])
        self.assertIn("no-new-privileges:true", h["SecurityOpt"])
        self.assertTrue(any(o.startswith("seccomp=")
                            for o in h["SecurityOpt"]))
        self.assertEqual(h["Memory"], 256 << 20)
        self.assertEqual(h["PidsLimit"], 64)
        self.assertIn("size=8m", h["Tmpfs"]["/tmp"])
        self.assertEqual(h["RestartPolicy"]["Name"], "no")
        rt = self.env.inspect("claw-%s-runtime" % self.name)
        self.assertEqual(c["Config"]["User"], rt["Config"]["User"])
        self.assertNotEqual(c["Config"]["User"].split(":")[0], "0")
        self.assertEqual(c["Config"]["Entrypoint"], ["/claw/mcp-bridge"])
        self.assertEqual(list(c["NetworkSettings"]["Networks"]),
                         ["claw-t-" + self.name])
        bridge = [m for m in c["Mounts"]
                  if m["Destination"] == "/claw/mcp-bridge"][0]
        self.assertFalse(bridge["RW"])
        self.assertEqual(bridge["Source"], BRIDGE)

    def test_2_secret_reaches_only_its_server(self):
        own = {"everything": ("EVERYTHING_KEY", self.secret_a),
               "memory": ("MEMORY_KEY", self.secret_b)}
        for server, (var, value) in own.items():
            c = self.container(server)
            sec = [m for m in c["Mounts"]
                   if m["Destination"] == "/run/claw/secrets"][0]
            self.assertFalse(sec["RW"])
            files = sorted(os.listdir(sec["Source"]))
            self.assertEqual(files, sorted([var, "claw-mcp-token"]))
            with open(os.path.join(sec["Source"], var)) as f:
                self.assertEqual(f.read(), value)
            # Readable inside by the server's uid.
            out = self.env.docker(
                "exec", c["Id"], "node", "-e",
                "process.stdout.write(require('fs').readFileSync("
                "'/run/claw/secrets/%s', 'utf8'))" % var)
            self.assertEqual(out.strip(), value)
        # In no container's docker inspect (env, args, labels), and not
        # among the runtime's or gateway's secret files.
        for what in ("tool-everything", "tool-memory", "runtime",
                     "gateway"):
            c = self.env.inspect("claw-%s-%s" % (self.name, what))
            text = json.dumps(c)
            for v in (self.secret_a, self.secret_b, "Bearer"):
                self.assertNotIn(v, text, what)
            if what in ("runtime", "gateway"):
                sec = [m for m in c["Mounts"]
                       if m["Destination"] == "/run/claw/secrets"][0]
                names = os.listdir(sec["Source"])
                self.assertNotIn("EVERYTHING_KEY", names)
                self.assertNotIn("MEMORY_KEY", names)

    def test_3_no_way_out_but_the_proxy(self):
        c = self.container("everything")
        pid = c["State"]["Pid"]
        gw = self.env.inspect("claw-%s-gateway" % self.name)
        gw_ip = gw["NetworkSettings"]["Networks"][
            "claw-t-" + self.name]["IPAddress"]
        # No route: the internet, the host (the LLM's port on the egress
        # bridge's host address).
        self.assertEqual(reach(pid, "8.8.8.8", 53), "unreachable")
        self.assertEqual(reach(pid, self.llm.ip, stack.LLM_PORT),
                         "unreachable")
        # The gateway's proxy is its way out, and refuses what the
        # tenant's allow-list does not name.
        self.assertEqual(reach(pid, gw_ip, 3128), "reachable")
        self.assertEqual(connect_via_proxy(pid, gw_ip, "8.8.8.8", 53), 403)
        # Nor another tenant's containers.
        self.na.wait_healthy(self.other, 180)
        for role, port in (("gateway", 8080), ("gateway", 3128),
                           ("runtime", 8081)):
            o = self.env.inspect("claw-%s-%s" % (self.other, role))
            for net in o["NetworkSettings"]["Networks"].values():
                self.assertEqual(reach(pid, net["IPAddress"], port),
                                 "unreachable", (role, port))
        env = c["Config"]["Env"]
        self.assertIn("HTTPS_PROXY=http://gateway:3128", env)

    def test_4_bridge_refuses_without_token(self):
        url = "http://%s:8080/mcp" % self.ip(self.container("everything"))
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize",
                           "params": {"protocolVersion": "2025-06-18",
                                      "capabilities": {},
                                      "clientInfo": {"name": "t",
                                                     "version": "1"}}})
        for auth in (None, "Bearer " + "0" * 64):
            hdrs = {"Content-Type": "application/json",
                    "Accept": "application/json, text/event-stream"}
            if auth:
                hdrs["Authorization"] = auth
            req = urllib.request.Request(url, body.encode(), hdrs)
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(req, timeout=10)
            self.assertEqual(cm.exception.code, 401)
            self.assertEqual(json.loads(cm.exception.read())["error"]["code"],
                             "unauthorized")

    def test_5_killed_server_heals_while_chat_goes_on(self):
        before = self.tool("everything")["restarts"]
        old = self.container("everything")["Id"]
        self.env.docker("kill", "claw-%s-tool-everything" % self.name)
        self.assertEqual(self.gw.chat_text("still here?"),
                         "echo: still here?")
        self.na.wait_tenant(self.name, lambda t: [
            s for s in t["tool_servers"] if s["name"] == "everything" and
            s["state"] == "ready" and s["restarts"] > before], 120)
        self.assertNotEqual(self.container("everything")["Id"], old)
        self.echo()

    def test_5a_restarted_agent_adopts_them(self):
        ids = {s: self.container(s)["Id"] for s in ("everything", "memory")}
        # A clean exit (sanitizers: no report, no leak).
        self.assertEqual(self.na.stop(), 0)
        self.assertNotIn("Sanitizer", self.na.log_text())
        self.assertNotIn("runtime error:", self.na.log_text())
        self.na.start()
        self.ready()
        # Found as they were (same deployment, token and declaration):
        # kept, not replaced, and still called.
        for s, cid in ids.items():
            self.assertEqual(self.container(s)["Id"], cid, s)
        self.echo()

    def test_6_redeploy_replaces_and_a_crashing_server_is_reported(self):
        old = {s: self.container(s)["Id"] for s in ("everything", "memory")}
        self.apply([{"name": "crasher", "image": self.node_image,
                     "command": ["node", "-e", "process.exit(3)"]},
                    {"name": "silent", "image": self.node_image,
                     # reads its stdin, never answers
                     "command": ["node", "-e",
                                 "process.stdin.on('data', () => 0)"],
                     "env": {"CLAW_MCP_BRIDGE_INIT_TIMEOUT_MS": "3000"},
                     "timeout_ms": 2000}])
        t = self.na.wait_tenant(self.name, lambda t: any(
            s["name"] == "crasher" and s["state"] == "server_down" and
            "exited with status 3" in s["log_tail"]
            for s in t["tool_servers"]), 180)
        self.assertEqual(t["generation"], self.gen)
        # The one that never answers initialize is not ready either: the
        # bridge's MCP-level readiness, timed out, with the reason.
        t = self.na.wait_tenant(self.name, lambda t: any(
            s["name"] == "silent" and s["state"] == "server_down" and
            "timed out waiting for initialize" in s["error"] and
            "timed out waiting for initialize" in s["log_tail"]
            for s in t["tool_servers"]), 180)
        silent = [s for s in t["tool_servers"] if s["name"] == "silent"][0]
        self.assertFalse(silent["ready"])
        t = self.ready()
        # The pair was replaced too: its gateway has a new port.
        type(self).gw = stack.GatewayClient(t["roles"]["gateway"]["port"])
        for s in ("everything", "memory"):
            self.assertNotEqual(self.container(s)["Id"], old[s], s)
        # Only its own tools are gone: everything's still answer.
        self.echo()
        # The runtime names the missing server in its /readyz (200: the
        # rest works).
        rt = self.env.inspect("claw-%s-runtime" % self.name)
        url = "http://%s:8081/readyz" % self.ip(rt)

        def down():
            with urllib.request.urlopen(url, timeout=10) as r:
                d = json.loads(r.read())["mcp_down"]
            return d == ["crasher", "silent"]
        wait_for(down, 120, interval=0.5, what="crasher and silent named")
        # The one that never answers initialize: timed out, in the log.
        logs = stack.container_logs(self.env,
                                    "claw-%s-runtime" % self.name)
        self.assertIn("mcp silent: ", logs)

    def test_7_image_outside_the_policy_refused(self):
        bad = self.spec([{"name": "evil", "image": "docker.io/evil/x:1",
                          "command": ["x"]}])
        bad["generation"] = self.gen + 1
        self.na.set_desired({"generation": self.gen + 1, "tenants": [bad]})
        wait_for(lambda: "outside the fleet's image policy" in
                 self.na.log_text(), 60, what="the refusal logged")
        self.assertIn("tool server 'evil': image 'docker.io/evil/x:1'",
                      self.na.log_text())
        # The last good state goes on.
        self.assertEqual(self.na.status()["desired_generation"], self.gen)
        self.apply([])
        self.ready()

    def test_8_unassigned_tenant_loses_its_tool_servers(self):
        self.apply(tenants=[])

        def gone():
            out = self.env.docker("ps", "-a", "--format", "{{.Names}}",
                                  "--filter", "name=claw-%s-" % self.name)
            return not out.strip()
        wait_for(gone, 120, what="the tenant's containers removed")
        self.na.wait(lambda s: not s["tenants"], 120)


class EdgeGatewayClient(stack.GatewayClient):
    """The tenant's gateway through the edge (Caddy, TLS internal)."""

    def __init__(self, port, host):
        super().__init__(0)
        self.port, self.host = port, host

    def chat(self, text, timeout=60):
        r = https_request(self.port, self.host, "/v1/chat/completions",
                          method="POST", timeout=timeout,
                          body=json.dumps({"model": "claw", "messages": [
                              {"role": "user", "content": text}]}),
                          headers={"Authorization":
                                   "Bearer " + stack.OPENAI_TOKEN,
                                   "Content-Type": "application/json"})
        return r.status, json.loads(r.body or b"null")


class BlueGreen(Stack):
    """Blue/green: the draining pair keeps its tool server."""

    NAMES = ("everything",)

    @classmethod
    def _start(cls):
        cls.caddy = None
        try:
            super()._start()
        finally:  # after the agent's (cleanups run in order)
            if cls.caddy:
                cls.cleanups += [cls.caddy.stop, lambda: cls.env.docker(
                    "network", "rm", cls.edge_net, check=False)]

    @classmethod
    def agent_extra(cls):
        cls.caddy = Caddy().start()
        cls.https = free_port()
        cls.edge_net = "claw-edge-" + secrets.token_hex(3)
        return edge_args(cls.caddy, cls.https) + [
            "--edge-network", cls.edge_net, "--edge-drain-ms", "300"]

    @classmethod
    def gateway(cls, t):
        return EdgeGatewayClient(cls.https, cls.name + ".claw.test")

    @classmethod
    def servers(cls, extra=()):
        return [{"name": "everything", "image": cls.node_image,
                 "command": ["node", EVERYTHING, "stdio"]}]

    @classmethod
    def spec(cls, extra=(), name=None):
        t = super().spec(extra, name)
        t["public_host"] = t["tenant"] + ".claw.test"
        if cls.gen == 2 and not name:
            # a pair that never gets ready: the old one keeps serving
            t["runtime"]["config"]["no_such_option"] = True
        return t

    def routed(self):
        """Until the edge routes a chat to a gateway that answers it."""
        def ok():
            try:
                return self.gw.chat("ping")[0] == 200
            except (OSError, ValueError):
                return False
        wait_for(ok, 120, interval=1, what="the tenant through the edge")

    def test_draining_pair_keeps_its_tool_server(self):
        self.routed()
        self.echo()
        old = self.container("everything")["Id"]
        self.apply()  # generation 2: its runtime never starts
        t = self.na.wait_tenant(self.name, lambda t: "draining" in t and any(
            s["name"] == "everything" and s["slot"] == t["slot"] and
            s["state"] == "ready" for s in t["tool_servers"]), 240)
        self.assertEqual(t["slot"], 1)
        states = sorted((s["slot"], s["state"]) for s in t["tool_servers"])
        self.assertEqual(states, [(0, "draining"), (1, "ready")])
        # Its own server, the same container, still answers the old pair.
        self.assertEqual(self.container("everything")["Id"], old)
        self.assertTrue(self.env.inspect(
            "claw-%s-tool-everything.1" % self.name)["State"]["Running"])
        reply = self.gw.chat_text(ECHO, 120)
        self.assertIn("hi from the sandbox", reply)
        # Generation 3 is good: the switch, then the old pair and its
        # tool server go.
        self.apply()
        self.na.wait_tenant(self.name, lambda t: "draining" not in t and
                            t["generation"] == self.gen and
                            t["phase"] == "healthy" and
                            [s["slot"] for s in t["tool_servers"]] == [1],
                            240)
        wait_for(lambda: not self.env.docker(
            "ps", "-aq", "--filter",
            "name=^claw-%s-tool-everything$" % self.name).strip(),
            120, what="the old slot's tool server removed")
        self.routed()
        self.echo()


if __name__ == "__main__":
    unittest.main(verbosity=2)
