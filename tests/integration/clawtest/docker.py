"""docker - the real Docker engine, the local registry and node agents for
integration tests (stdlib only).

    env = DockerEnv()                  # scripts/docker-env.sh: engine + registry
    env.docker("ps")                   # the docker CLI against that engine
    ref = env.build_image(binary, "claw-test/x:ok", cmd=[...])  # pinned ref
    img = healthsrv_images(env, "claw-test/x", crash=[...])  # img.ok, ...
    class T(HealthsrvCase): REPO = "claw-test/x"  # cls.env, cls.ok, ...
    with NodeAgent(env, desired) as na:  # claw-node-agent in standalone mode
        na.wait_healthy("acme")
        na.set_desired(new_desired)
    na = agent_for(self, env, tenants)  # one test's agent, cleaned up after

DockerEnv(name) with a name other than "claw" starts a separate dockerd
(its own socket and data root), as a second node has.

AgentProcess is the one launcher of claw-node-agent: NodeAgent here and
FleetAgent (controlplane-fleet/fleet.py, an agent joined to a control
plane) are it with the arguments of their mode.
"""

import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
from types import SimpleNamespace

from clawtest.http import (UnixHTTPConnection, http_get,  # noqa: F401
                           unix_http_get)
from clawtest.proc import stop_process

SRC = os.environ.get("CLAW_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("CLAW_BUILD_DIR", os.path.join(SRC, "build"))
# The node agent tests' tenant image: answers /healthz, crashes on request.
HEALTHSRV = os.path.join(BUILD, "tests", "integration", "node-agent",
                         "na-healthsrv")


def uniq(prefix):
    """PREFIX-xxxxxx: a name of this run's own (suites share one engine)."""
    return "%s-%s" % (prefix, secrets.token_hex(3))


class DockerEnv:
    def __init__(self, name="claw", registry_port=None, live_restore=None):
        """registry_port: a registry of this instance's own on that port
        (docker-env.sh), instead of the shared one on 5000. live_restore:
        True/False starts the engine with/without live-restore (its
        containers outlive its dockerd); None leaves it to the environment
        (CLAW_DOCKER_LIVE_RESTORE, off by default). An engine already
        running keeps its own setting."""
        self.name = name
        self.script = os.path.join(SRC, "scripts", "docker-env.sh")
        self.script_env = dict(os.environ)
        if registry_port:
            self.script_env["CLAW_REGISTRY_PORT"] = str(registry_port)
        if live_restore is not None:
            self.script_env["CLAW_DOCKER_LIVE_RESTORE"] = \
                "1" if live_restore else "0"
        self.start()

    def start(self):
        out = subprocess.run([self.script, self.name], check=True,
                             env=self.script_env, capture_output=True,
                             text=True).stdout
        self.vars = dict(line.split("=", 1) for line in out.split("\n")
                         if "=" in line)
        self.socket = self.vars["CLAW_DOCKER_SOCKET"]
        self.registry = self.vars["CLAW_REGISTRY"]
        self.user = self.vars["CLAW_REGISTRY_USER"]
        with open(self.vars["CLAW_REGISTRY_PASSWORD_FILE"]) as f:
            self.password = f.read().strip()

    def stop_engine(self):
        """Stop this instance's dockerd (never the default one) and its
        own registry, if it has one."""
        assert self.name != "claw"
        subprocess.run([self.script, "--stop", self.name], check=True,
                       env=self.script_env)

    def env(self):
        e = dict(os.environ)
        e["DOCKER_HOST"] = "unix://" + self.socket
        e.update(self.vars)
        return e

    def docker(self, *args, check=True):
        r = subprocess.run(["docker", *args], env=self.env(),
                           capture_output=True, text=True)
        if check and r.returncode:
            raise RuntimeError("docker %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    def inspect(self, name):
        return json.loads(self.docker("inspect", name))[0]

    def auth(self):
        return {"username": self.user, "password": self.password,
                "serveraddress": self.registry}

    def build_image(self, binary, image, cmd=()):
        args = [os.path.join(SRC, "deploy", "images", "build.sh"),
                "--binary", binary, "--image", image]
        for c in cmd:
            args += ["--cmd", c]
        r = subprocess.run(args, env=self.env(), capture_output=True,
                           text=True)
        if r.returncode:
            raise RuntimeError("build.sh: " + r.stderr)
        return r.stdout.strip()


def healthsrv_images(env, repo, crash=None):
    """na-healthsrv built and pushed as REPO:ok-TAG, TAG fresh, and with
    crash (its arguments, e.g. ["--crash-after-ms", "200"]) as
    REPO:crash-TAG too. Returns .tag, .ok (pinned by digest), .ok_tag (the
    registry's REPO:ok-TAG, by tag) and .crash (pinned; None without
    crash)."""
    tag = secrets.token_hex(3)
    ok = env.build_image(HEALTHSRV, "%s:ok-%s" % (repo, tag))
    crashing = None
    if crash is not None:
        crashing = env.build_image(HEALTHSRV, "%s:crash-%s" % (repo, tag),
                                   cmd=crash)
    return SimpleNamespace(tag=tag, ok=ok, crash=crashing,
                           ok_tag="%s/%s:ok-%s" % (env.registry, repo, tag))


class HealthsrvCase(unittest.TestCase):
    """A suite on the shared engine (cls.env) with healthsrv_images of
    REPO (and CRASH, its crash arguments, or None) as cls.tag, cls.ok,
    cls.ok_tag and cls.crash."""

    REPO = "claw-test/healthsrv"
    CRASH = None

    @classmethod
    def setUpClass(cls):
        cls.env = DockerEnv()
        img = healthsrv_images(cls.env, cls.REPO, cls.CRASH)
        cls.tag, cls.ok, cls.ok_tag, cls.crash = (img.tag, img.ok,
                                                  img.ok_tag, img.crash)


class AgentProcess:
    """One claw-node-agent process and its files: a state directory, a
    secrets directory on /dev/shm, a log, its API's unix socket (api, in
    its directory: only root may open it), a node name and an egress
    network name. The one node-agent launcher of the tests:
    NodeAgent (desired state from a file) and fleet.FleetAgent (joined to
    a control plane) give launch() the arguments of their mode.

    prefix names the temporary directories (PREFIX..., PREFIXsec-...);
    without name the node is "node-" + a tag of its directory, without
    egress the network is "claw-egress-" + that tag (given: a network made
    beforehand, which the agent uses as it is)."""

    def __init__(self, env, name=None, egress=None, prefix="claw-na-"):
        self.env = env
        self.dir = tempfile.mkdtemp(prefix=prefix)
        self.secrets = tempfile.mkdtemp(prefix=prefix + "sec-",
                                        dir="/dev/shm")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.api = os.path.join(self.dir, "api.sock")
        # A node agent owns what carries its node name: a unique default
        # keeps suites that share one engine out of each other's way.
        tag = os.path.basename(self.dir)[-8:].lower()
        self.name = name or "node-" + tag
        self.egress = egress or "claw-egress-" + tag
        self.proc = None
        self.log = None

    def launch(self, source, extra=(), env=None):
        """Run the agent with source (the arguments saying where its
        desired state comes from), then extra, in env (None: this
        process's); returns self once /healthz answers 200, raises with the
        log when the agent exits first or stays silent for 30 s."""
        binary = os.path.join(BUILD, "node-agent", "claw-node-agent")
        args = ([binary, "--docker-socket", self.env.socket,
                 "--state-dir", os.path.join(self.dir, "state"),
                 "--secrets-dir", self.secrets] + list(source) +
                ["--api-socket", self.api,
                 "--node-name", self.name,
                 "--egress-network", self.egress] + list(extra))
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.get("/healthz")[0] == 200:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("agent exited: " + self.log_text())
            time.sleep(0.05)
        raise RuntimeError("agent did not answer: " + self.log_text())

    def stop(self, sig=signal.SIGTERM):
        """sig (SIGTERM; SIGKILL after 30 s) and wait; the exit status (0
        when it was not running)."""
        rc = 0
        if self.proc:
            rc = stop_process(self.proc, sig, 30)
            self.log.close()
        self.proc = None
        return rc

    def kill(self):
        """SIGKILL: the node is lost (its containers keep running)."""
        self.stop(signal.SIGKILL)

    def remove_files(self):
        """The egress network (when unused), the secrets tmpfs and the
        directories; after stop()."""
        self.env.docker("network", "rm", self.egress, check=False)
        subprocess.run(["umount", self.secrets], capture_output=True)
        shutil.rmtree(self.secrets, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def get(self, path, timeout=5):
        """GET path of the agent's local API: (status, body text), 0 when
        nothing answered."""
        return unix_http_get(self.api, path, timeout)

    def connection(self, timeout=5):
        """An http.client connection to the agent's local API (for
        streams)."""
        return UnixHTTPConnection(self.api, timeout)

    def status(self):
        code, body = self.get("/v1/status")
        return json.loads(body) if code == 200 else None


class NodeAgent(AgentProcess):
    """claw-node-agent in standalone mode (desired state from a file)."""

    def __init__(self, env, desired, name=None, extra=()):
        super().__init__(env, name=name, prefix="claw-na-")
        self.desired_path = os.path.join(self.dir, "desired.json")
        self.extra = list(extra)
        self.set_desired(desired)

    def set_desired(self, desired):
        tmp = self.desired_path + ".new"
        with open(tmp, "w") as f:
            json.dump(desired, f)
        os.replace(tmp, self.desired_path)

    def start(self):
        return self.launch(["--desired-file", self.desired_path], self.extra)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def cleanup(self, remove=True):
        """Remove what the agent ran (an empty desired state; skipped with
        remove=False, for an engine the test throws away), then stop the
        agent, whatever happened, and remove its files."""
        done = 2 ** 40  # a generation no test uses: seen means applied
        try:
            if self.proc and remove:
                self.set_desired({"generation": done, "tenants": []})
                self.wait(lambda s: s["desired_generation"] == done and
                          not s["tenants"], 60)
        finally:
            if self.proc:
                self.stop()
        self.remove_files()

    def tenant(self, name):
        s = self.status() or {"tenants": []}
        for t in s["tenants"]:
            if t["tenant"] == name:
                return t
        return None

    def wait(self, pred, timeout=60):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.status()
            if last and pred(last):
                return last
            time.sleep(0.05)
        raise AssertionError("timed out; last status %s\nlog:\n%s" %
                             (json.dumps(last, indent=1), self.log_text()))

    def wait_healthy(self, name, timeout=60):
        """name's tenant entry once its phase is "healthy"."""
        return self.wait_tenant(name, lambda t: t["phase"] == "healthy",
                                timeout)

    def wait_tenant(self, name, pred, timeout=60):
        def check(s):
            for t in s["tenants"]:
                if t["tenant"] == name:
                    return pred(t)
            return False
        s = self.wait(check, timeout)
        return [t for t in s["tenants"] if t["tenant"] == name][0]


def agent_for(case, env, tenants, extra=(), remove=True):
    """A started NodeAgent for one test of case (a unittest.TestCase): a
    node name of its own, generation 1 with tenants, extra arguments;
    cleaned up when the test ends (what it ran removed unless
    remove=False)."""
    na = NodeAgent(env, {"generation": 1, "tenants": tenants},
                   name=uniq("node"), extra=list(extra))
    case.addCleanup(na.cleanup, remove)
    return na.start()


def tenant_spec(name, gateway, runtime, generation=1, deployment="d1",
                auth=None, state="running", secrets=None, config=None):
    t = {"tenant": name, "deployment": deployment, "generation": generation,
         "state": state, "plan": {"cpus": 0.5, "memory_mb": 64, "pids": 64},
         "gateway": {"image": gateway, "config": config or {"role": "gw"},
                     "secrets": (secrets or {}).get("gateway", {})},
         "runtime": {"image": runtime, "config": {"role": "rt"},
                     "secrets": (secrets or {}).get("runtime", {})}}
    if auth:
        t["registry_auth"] = auth
    return t
