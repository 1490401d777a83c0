"""docker - the real Docker engine, the local registry and node agents for
integration tests (stdlib only).

    env = DockerEnv()                  # scripts/docker-env.sh: engine + registry
    env.docker("ps")                   # the docker CLI against that engine
    ref = env.build_image(binary, "claw-test/x:ok", cmd=[...])  # pinned ref
    with NodeAgent(env, desired) as na:  # claw-node-agent in standalone mode
        na.wait_tenant("acme", lambda t: t["phase"] == "healthy")
        na.set_desired(new_desired)

DockerEnv(name) with a name other than "claw" starts a separate dockerd
(its own socket and data root), as a second node has.
"""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request

SRC = os.environ.get("CLAW_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("CLAW_BUILD_DIR", os.path.join(SRC, "build"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DockerEnv:
    def __init__(self, name="claw"):
        self.name = name
        self.script = os.path.join(SRC, "scripts", "docker-env.sh")
        self.start()

    def start(self):
        out = subprocess.run([self.script, self.name], check=True,
                             capture_output=True, text=True).stdout
        self.vars = dict(line.split("=", 1) for line in out.split("\n")
                         if "=" in line)
        self.socket = self.vars["CLAW_DOCKER_SOCKET"]
        self.registry = self.vars["CLAW_REGISTRY"]
        self.user = self.vars["CLAW_REGISTRY_USER"]
        with open(self.vars["CLAW_REGISTRY_PASSWORD_FILE"]) as f:
            self.password = f.read().strip()

    def stop_engine(self):
        """Stop this instance's dockerd (never the default one)."""
        assert self.name != "claw"
        subprocess.run([self.script, "--stop", self.name], check=True)

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


def http_get(url, timeout=5):
    """(status, body text); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


class NodeAgent:
    """claw-node-agent in standalone mode (desired state from a file)."""

    def __init__(self, env, desired, name=None, extra=()):
        self.env = env
        self.dir = tempfile.mkdtemp(prefix="claw-na-")
        self.secrets = tempfile.mkdtemp(prefix="claw-na-sec-", dir="/dev/shm")
        self.desired_path = os.path.join(self.dir, "desired.json")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.port = free_port()
        # A node agent owns what carries its node name: a unique default
        # keeps suites that share one engine out of each other's way.
        self.name = name or "node-" + os.path.basename(self.dir)[-8:].lower()
        self.extra = list(extra)
        self.egress = "claw-egress-" + os.path.basename(self.dir)[-8:].lower()
        self.proc = None
        self.set_desired(desired)

    def set_desired(self, desired):
        tmp = self.desired_path + ".new"
        with open(tmp, "w") as f:
            json.dump(desired, f)
        os.replace(tmp, self.desired_path)

    def start(self):
        binary = os.path.join(BUILD, "node-agent", "claw-node-agent")
        args = [binary, "--docker-socket", self.env.socket,
                "--state-dir", os.path.join(self.dir, "state"),
                "--secrets-dir", self.secrets,
                "--desired-file", self.desired_path,
                "--listen", "127.0.0.1:%d" % self.port,
                "--node-name", self.name,
                "--egress-network", self.egress] + self.extra
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if http_get("http://127.0.0.1:%d/healthz" % self.port)[0] == 200:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("agent exited: " + self.log_text())
            time.sleep(0.05)
        raise RuntimeError("agent did not answer: " + self.log_text())

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()
        rc = self.proc.returncode if self.proc else 0
        self.proc = None
        return rc

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
        self.env.docker("network", "rm", self.egress, check=False)
        subprocess.run(["umount", self.secrets], capture_output=True)
        shutil.rmtree(self.secrets, ignore_errors=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def status(self):
        code, body = http_get("http://127.0.0.1:%d/v1/status" % self.port)
        return json.loads(body) if code == 200 else None

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

    def wait_tenant(self, name, pred, timeout=60):
        def check(s):
            for t in s["tenants"]:
                if t["tenant"] == name:
                    return pred(t)
            return False
        s = self.wait(check, timeout)
        return [t for t in s["tenants"] if t["tenant"] == name][0]


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
