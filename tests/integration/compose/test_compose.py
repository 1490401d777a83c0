"""The platform under Compose (issue 15, point 1): deploy/compose/
compose.yaml run by Debian's docker-compose (1.29) against the tests' own
dockerd and registry (clawtest.docker.DockerEnv).

setup.sh builds every image offline from this build (platform-images.sh:
control plane, node agent, PostgreSQL from Debian's binaries, the edge
from Debian's caddy; tenant-images.sh: gateway, runtime, the scripted
LLM) into a project directory of the test's own (a copy of compose.yaml,
.env, config/, secrets/), the way docs/compose.md tells an operator to.
The scripted LLM runs beside it on the node agent's egress network, its
key the fleet's default secret llm_api_key.

Proves, in order, on one project:
1. `up -d` of PostgreSQL and the control plane: both become healthy by
   their health checks (pg_isready; `claw-controlplane healthcheck` on
   /readyz); the node agent joins with a join token from the API given as
   the node_agent_conf secret, and is healthy (`claw-node-agent
   healthcheck`, ready once the edge serves). No secret is in any
   container's environment, no daemon runs as root but the node agent,
   and the only published port is the control plane's, on 127.0.0.1 (the
   edge listens on a 127.0.0.1 port of its own here).
2. A tenant created, its chat token stored as a secret, deployed through
   the API with the fleet's defaults, answers a chat at
   https://SLUG.compose.test through the edge (the scripted LLM's
   "echo: ...").
3. `down` then `up -d`: the tenant, its secrets' names and the deployment
   are still there (named volumes), the node agent is the same node (its
   credential kept), and a redeploy receives the secrets: it answers a
   chat with the same token and the LLM key.
Then the tenant is deleted and `down -v` removes what Compose made.
"""

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
from clawtest.docker import BUILD, SRC, DockerEnv  # noqa: E402
from clawtest.edge import https_request, until  # noqa: E402
from clawtest.http import Client, free_port  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
import stack  # noqa: E402

COMPOSE = os.path.join(SRC, "deploy", "compose")
# the tenant's OpenAI-compatible endpoint token (stack.GatewayClient's)
CHAT_TOKEN = stack.OPENAI_TOKEN
# the services with a health check (the edge's is the node agent's)
SERVICES = ("postgres", "controlplane", "node-agent")
BASE = "compose.test"


def write(path, text, mode=0o600, owner=None):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, mode)
    if owner is not None:
        os.chown(path, owner, owner)
    return path


class ComposePlatform(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("docker-compose"):
            raise unittest.SkipTest("no docker-compose (apt-get install "
                                    "docker-compose)")
        # what it made, undone in reverse order (also when setUp fails)
        cls.slugs = []
        cls.env = DockerEnv()
        tag = secrets.token_hex(3)
        cls.project = "claw-compose-" + tag
        cls.node = "compose-" + tag
        cls.dir = tempfile.mkdtemp(prefix="claw-compose-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, ignore_errors=True)
        # the node agent's host paths: Docker bind-mounts tenant files
        # from them; secrets on a tmpfs
        cls.state = os.path.join(cls.dir, "node-state")
        cls.run_dir = tempfile.mkdtemp(prefix="claw-compose-",
                                       dir="/dev/shm")
        cls.addClassCleanup(cls._remove_run_dir)
        os.makedirs(cls.state, mode=0o700)
        cls.edge_run = tempfile.mkdtemp(prefix="claw-compose-edge-")
        cls.addClassCleanup(shutil.rmtree, cls.edge_run, ignore_errors=True)
        cls.edge_port = free_port()
        cls.edge_network = "claw-edge-compose-" + tag
        cls.addClassCleanup(cls.env.docker, "network", "rm",
                            cls.edge_network, check=False)
        cls.egress = "claw-egress-compose-" + tag
        cls.env.docker("network", "create", "--driver", "bridge", "--opt",
                       "com.docker.network.bridge.enable_icc=false",
                       "--label", "claw.managed=1", cls.egress)
        cls.addClassCleanup(cls.env.docker, "network", "rm", cls.egress,
                            check=False)
        llm_ip = stack.wait_network(cls.env, cls.egress)
        llm_base = "http://%s:%d/v1" % (llm_ip, stack.LLM_PORT)
        cls.llm_key = "sk-llm-" + secrets.token_hex(12)
        key_file = write(os.path.join(cls.dir, "llm_key"), cls.llm_key)

        # The project: compose.yaml as shipped, then setup.sh as an
        # operator runs it (images, .env, config, secrets).
        shutil.copy(os.path.join(COMPOSE, "compose.yaml"), cls.dir)
        cls.port = free_port()
        write(os.path.join(cls.dir, ".env"), "\n".join([
            "CLAW_PORT=%d" % cls.port,
            "CLAW_DOCKER_SOCKET=" + cls.env.socket,
            "CLAW_NODE_STATE_DIR=" + cls.state,
            "CLAW_NODE_RUN_DIR=" + cls.run_dir,
            "CLAW_EGRESS_NETWORK=" + cls.egress,
            "CLAW_EDGE_LISTEN=127.0.0.1:%d" % cls.edge_port,
            "CLAW_EDGE_RUN_DIR=" + cls.edge_run,
            "CLAW_DOCKER_VOLUMES=" + os.path.join(cls.env.docker(
                "info", "-f", "{{.DockerRootDir}}").strip(), "volumes"),
            ""]), 0o644)
        r = subprocess.run(
            [os.path.join(COMPOSE, "setup.sh"), "--project-dir", cls.dir,
             "--build-dir", BUILD, "--tag", "compose-test",
             "--llm-base-url", llm_base, "--llm-model", "scripted",
             "--llm-key-file", key_file, "--base-domain", BASE],
            env=cls.env.env(), capture_output=True, text=True, timeout=600)
        if r.returncode:
            raise RuntimeError("setup.sh: %s%s" % (r.stdout, r.stderr))
        with open(os.path.join(cls.dir, ".env")) as f:
            cls.dotenv = dict(line.split("=", 1) for line in
                              f.read().splitlines()
                              if "=" in line and not line.startswith("#"))
        cls.llm = stack.ScriptedLLM(cls.env,
                                    cls.dotenv["CLAW_SCRIPTED_LLM_IMAGE"],
                                    cls.egress, cls.llm_key)
        cls.addClassCleanup(cls.llm.close)
        cls.addClassCleanup(cls._down)

        # 1. PostgreSQL and the control plane, then the node agent with a
        # join token of the API as its secret
        cls.compose("up", "-d", "postgres", "controlplane")
        cls.wait_healthy(("postgres", "controlplane"))
        cls.url = "http://127.0.0.1:%d" % cls.port
        cls.admin = Client(cls.url, cls.admin_token())
        r = cls.admin.post("/v1/nodes/join-tokens", {"ttl_s": 600})
        assert r.status == 201, r
        conf = os.path.join(cls.dir, "secrets", "node_agent.conf")
        write(conf, "join-token = %s\nnode-name = %s\nedge-network = %s\n"
              "backoff-ms = 300\n" % (r.json()["token"], cls.node,
                                       cls.edge_network), 0o400, 0)
        cls.compose("up", "-d")
        cls.wait_healthy(SERVICES)
        cls.wait(lambda: any(n["name"] == cls.node and n["status"] == "ready"
                             for n in cls.admin.get("/v1/nodes")
                             .json()["items"]), 60, "node ready")

    # ---------------------------------------------------------- helpers
    @classmethod
    def compose(cls, *args, check=True, timeout=300):
        r = subprocess.run(["docker-compose", "-p", cls.project, *args],
                           cwd=cls.dir, env=cls.env.env(),
                           capture_output=True, text=True, timeout=timeout)
        if check and r.returncode:
            raise AssertionError("docker-compose %s: %s%s\n%s" % (
                " ".join(args), r.stdout, r.stderr, cls.logs()))
        return r.stdout

    @classmethod
    def logs(cls):
        r = subprocess.run(["docker-compose", "-p", cls.project, "logs",
                            "--no-color", "--tail", "40"], cwd=cls.dir,
                           env=cls.env.env(), capture_output=True, text=True)
        return r.stdout[-6000:]

    @classmethod
    def container(cls, service):
        ids = cls.compose("ps", "-q", service).split()
        return ids[0] if ids else None

    @classmethod
    def health(cls, service):
        c = cls.container(service)
        if not c:
            return None
        return cls.env.docker("inspect", "-f", "{{.State.Health.Status}}",
                              c, check=False).strip()

    @classmethod
    def wait(cls, pred, timeout, what):
        try:
            return wait_for(pred, timeout, interval=0.2, what=what)
        except TimeoutError as e:
            raise AssertionError("%s\n%s" % (e, cls.logs()))

    @classmethod
    def wait_healthy(cls, services, timeout=180):
        cls.wait(lambda: all(cls.health(s) == "healthy" for s in services),
                 timeout, "%s healthy" % ", ".join(services))

    @classmethod
    def volume_path(cls, name):
        return cls.env.docker("volume", "inspect", "-f", "{{.Mountpoint}}",
                              "%s_%s" % (cls.project, name)).strip()

    @classmethod
    def admin_token(cls):
        """admin.token as the control plane wrote it in its volume."""
        path = os.path.join(cls.volume_path("cpdata"), "admin.token")
        cls.wait(lambda: os.path.exists(path), 60, "admin.token")
        with open(path) as f:
            return f.read().strip()

    @classmethod
    def _remove_run_dir(cls):
        subprocess.run(["umount", os.path.join(cls.run_dir, "secrets")],
                       capture_output=True)
        shutil.rmtree(cls.run_dir, ignore_errors=True)

    @classmethod
    def _down(cls):
        """What the node agent made for the tenants (containers and data
        volumes labelled with its node, the tenants' networks), then
        `down -v`."""
        ids = cls.env.docker("ps", "-aq", "--filter",
                             "label=claw.node=" + cls.node).split()
        if ids:
            cls.env.docker("rm", "-f", *ids, check=False)
        nets = cls.env.docker("network", "ls", "-q", "--filter",
                              "label=claw.node=" + cls.node).split()
        for slug in cls.slugs:
            nets += cls.env.docker("network", "ls", "-q", "--filter",
                                   "label=claw.tenant=" + slug).split()
        for n in nets:
            cls.env.docker("network", "rm", n, check=False)
        vols = cls.env.docker("volume", "ls", "-q", "--filter",
                              "label=claw.node=" + cls.node).split()
        if vols:
            cls.env.docker("volume", "rm", *vols, check=False)
        cls.compose("down", "-v", "--remove-orphans", check=False)
        left = cls.env.docker("volume", "ls", "-q", "--filter",
                              "name=" + cls.project).split()
        assert not left, "volumes left: %s" % left

    def placement(self, slug):
        return self.admin.get("/v1/tenants/%s/placement" % slug).json()

    def chat(self, slug, text):
        """One chat turn with the tenant at https://SLUG.BASE through the
        edge (Caddy's internal CA, its root from the edge's volume): the
        reply text, once one comes (the edge switches to a new pair when
        it is ready)."""
        root = os.path.join(self.volume_path("edgedata"), "data", "caddy",
                            "pki", "authorities", "local", "root.crt")
        body = json.dumps({"model": "claw", "user": "compose", "messages": [
            {"role": "user", "content": text}]}).encode()

        def turn():
            if not os.path.exists(root):
                return None
            r = https_request(self.edge_port, "%s.%s" % (slug, BASE),
                              "/v1/chat/completions", root, "POST", body,
                              {"Authorization": "Bearer " + CHAT_TOKEN,
                               "Content-Type": "application/json"}, 60)
            if r.status != 200:
                return None
            return json.loads(r.body)["choices"][0]["message"]["content"]
        try:
            return until(turn, 120, what="%s answers through the edge" % slug)
        except TimeoutError as e:
            raise AssertionError("%s\n%s" % (e, self.logs()))

    def deploy(self, slug):
        r = self.admin.post("/v1/tenants/%s/deploy" % slug, {})
        self.assertEqual(r.status, 202, r)
        dep = r.json()["id"]
        self.wait(lambda: self.admin.get("/v1/tenants/%s/deployments/%s" % (
            slug, dep)).json().get("phase") == "healthy", 180,
            "deployment %s healthy" % dep)
        return dep

    # ------------------------------------------------------------ tests
    def test_1_hardening(self):
        for s in SERVICES + ("edge",):
            c = self.env.inspect(self.container(s))
            env = "\n".join(c["Config"]["Env"])
            for value in (self.llm_key, self.env.password):
                self.assertNotIn(value, env, s)
            self.assertNotIn("join-token", env, s)
            self.assertTrue(c["HostConfig"]["ReadonlyRootfs"], s)
            self.assertIn("ALL", c["HostConfig"]["CapDrop"] or [], s)
            user = c["Config"]["User"]
            if s == "node-agent":
                self.assertEqual(user, "0:0")
            else:
                self.assertEqual(user, "65532:65532", s)
            for bindings in (c["HostConfig"]["PortBindings"] or {}).values():
                for b in bindings:
                    self.assertEqual(b["HostIp"], "127.0.0.1", s)
        # PostgreSQL is on the internal network only, unpublished
        pg = self.env.inspect(self.container("postgres"))
        self.assertFalse(pg["HostConfig"]["PortBindings"])
        with open(os.path.join(self.dir, "secrets", "pgpass")) as f:
            pw = f.read().strip().rsplit(":", 1)[1]
        for s in SERVICES + ("edge",):
            self.assertNotIn(pw, json.dumps(self.env.inspect(
                self.container(s))), s)

    def test_2_deploy_chat_down_up_redeploy(self):
        slug = "compose-" + secrets.token_hex(3)
        self.slugs.append(slug)
        r = self.admin.post("/v1/tenants", {"slug": slug, "name": slug})
        self.assertEqual(r.status, 201, r)
        r = self.admin.put("/v1/tenants/%s/secrets/openai_api_token" % slug,
                           {"value": CHAT_TOKEN})
        self.assertEqual(r.status, 201, r)
        first = self.deploy(slug)
        self.assertEqual(self.chat(slug, "hello"), "echo: hello")

        self.compose("down")
        self.assertEqual(self.compose("ps", "-q").split(), [])
        self.compose("up", "-d")
        self.wait_healthy(SERVICES)
        self.wait(lambda: any(n["name"] == self.node and
                              n["status"] == "ready"
                              for n in self.admin.get("/v1/nodes")
                              .json()["items"]), 60, "node ready again")
        nodes = [n for n in self.admin.get("/v1/nodes").json()["items"]
                 if n["name"] == self.node]
        self.assertEqual(len(nodes), 1, nodes)
        r = self.admin.get("/v1/tenants/%s" % slug)
        self.assertEqual(r.status, 200, r)
        names = sorted(s["name"] for s in self.admin.get(
            "/v1/tenants/%s/secrets" % slug).json()["items"])
        self.assertIn("openai_api_token", names)
        r = self.admin.get("/v1/tenants/%s/deployments/%s" % (slug, first))
        self.assertEqual(r.status, 200, r)

        second = self.deploy(slug)
        self.assertNotEqual(second, first)
        p = self.placement(slug)
        self.assertEqual(p.get("deployment_id", second), second, p)
        self.assertEqual(self.chat(slug, "again"), "echo: again")

        r = self.admin.delete("/v1/tenants/%s" % slug)
        self.assertIn(r.status, (200, 202, 204), r)
        self.wait(lambda: not self.env.docker(
            "ps", "-aq", "--filter", "label=claw.tenant=" + slug).split(),
            120, "%s's containers removed" % slug)


if __name__ == "__main__":
    unittest.main()
