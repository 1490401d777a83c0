"""fleet - a control plane with node agents joined to it, for the fleet's
integration tests and benchmark (stdlib only).

    fl = Fleet(pg, env)                       # control plane, fleet options
    a = fl.agent(env, "node-a")               # join + start an agent
    dep = fl.deploy("acme", {})               # POST .../deploy -> 202 body
    fl.wait_dep("acme", dep["id"], "healthy")
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.cp import ControlPlane  # noqa: E402
from clawtest.docker import BUILD, free_port, http_get  # noqa: E402
from clawtest.http import Client  # noqa: E402


class FleetAgent:
    """claw-node-agent joined to a control plane."""

    def __init__(self, fleet, env, name, labels=None, cpus_milli=64000,
                 memory_mb=65536, egress=None):
        self.fleet, self.env, self.name = fleet, env, name
        self.dir = tempfile.mkdtemp(prefix="claw-fa-")
        self.secrets = tempfile.mkdtemp(prefix="claw-fa-sec-",
                                        dir="/dev/shm")
        self.log_path = os.path.join(self.dir, "agent.log")
        self.port = free_port()
        # egress: a network made beforehand (the agent uses it as it is)
        self.egress = egress or ("claw-egress-" +
                                 os.path.basename(self.dir)[-8:].lower())
        self.labels = labels
        self.cap = (cpus_milli, memory_mb)
        self.proc = None
        self.join_token = fleet.join_token()

    def start(self):
        binary = os.path.join(BUILD, "node-agent", "claw-node-agent")
        args = [binary, "--docker-socket", self.env.socket,
                "--state-dir", os.path.join(self.dir, "state"),
                "--secrets-dir", self.secrets,
                "--control-plane", self.fleet.cp.url,
                "--listen", "127.0.0.1:%d" % self.port,
                "--node-name", self.name,
                "--egress-network", self.egress,
                "--capacity-cpus-milli", str(self.cap[0]),
                "--capacity-memory-mb", str(self.cap[1]),
                "--backoff-ms", "300"]
        if self.labels:
            args += ["--labels", self.labels]
        env = dict(os.environ, CLAW_JOIN_TOKEN=self.join_token)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if http_get("http://127.0.0.1:%d/healthz" % self.port)[0] == 200:
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("agent exited: " + self.log_text())
            time.sleep(0.05)
        raise RuntimeError("agent did not answer: " + self.log_text())

    def kill(self):
        """SIGKILL: the node is lost (its containers keep running)."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        if self.proc:
            self.log.close()
        self.proc = None

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

    def remove_containers(self):
        """What the agent made on its engine (labels claw.node=NAME)."""
        out = self.env.docker("ps", "-aq", "--filter",
                              "label=claw.node=" + self.name)
        ids = out.split()
        if ids:
            self.env.docker("rm", "-f", *ids, check=False)
        nets = self.env.docker("network", "ls", "-q", "--filter",
                               "label=claw.node=" + self.name).split()
        for n in nets:
            self.env.docker("network", "rm", n, check=False)

    def cleanup(self):
        self.stop()
        self.remove_containers()
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

    def running(self, tenant):
        """Names of this engine's running containers of tenant."""
        out = self.env.docker("ps", "--format", "{{.Names}}", "--filter",
                              "label=claw.tenant=" + tenant, "--filter",
                              "label=claw.node=" + self.name)
        return sorted(out.split())


class Fleet:
    def __init__(self, pg, env, gateway_image=None, runtime_image=None,
                 extra=()):
        self.pw_file = tempfile.NamedTemporaryFile("w", delete=False)
        self.pw_file.write(env.password)
        self.pw_file.close()
        args = ["--heartbeat-ms", "500", "--node-grace-intervals", "3",
                "--sweep-ms", "200", "--registry-user", env.user,
                "--registry-password-file", self.pw_file.name]
        if gateway_image:
            args += ["--default-gateway-image", gateway_image,
                     "--default-runtime-image", runtime_image]
        self.cp = ControlPlane(database_url=pg.create_database(
            "fleet%d" % os.getpid() + str(int(time.time() * 1000) % 100000)),
            extra_args=args + list(extra)).start()
        self.admin = self.cp.client()
        self.agents = []

    def join_token(self):
        r = self.admin.post("/v1/nodes/join-tokens", {"ttl_s": 600})
        assert r.status == 201, r
        return r.json()["token"]

    def agent(self, env, name, **kw):
        a = FleetAgent(self, env, name, **kw)
        self.agents.append(a)
        a.start()
        self.wait(lambda: any(n["name"] == name and n["status"] == "ready"
                              for n in self.admin.get("/v1/nodes")
                              .json()["items"]), 30, "node %s ready" % name)
        return a

    def tenant(self, slug):
        r = self.admin.post("/v1/tenants", {"slug": slug, "name": slug})
        assert r.status == 201, r
        return r.json()

    def deploy(self, slug, body=None, client=None):
        r = (client or self.admin).post("/v1/tenants/%s/deploy" % slug, body)
        assert r.status == 202, r
        return r.json()

    def dep(self, slug, dep_id):
        return self.admin.get("/v1/tenants/%s/deployments/%s" %
                              (slug, dep_id)).json()

    def placement(self, slug):
        return self.admin.get("/v1/tenants/%s/placement" % slug).json()

    def wait(self, pred, timeout=60, what="condition"):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = pred()
            if v:
                return v
            time.sleep(0.05)
        raise AssertionError("timed out waiting for %s\ncp log tail:\n%s" %
                             (what, self.cp.daemon.log_text()[-3000:]))

    def wait_dep(self, slug, dep_id, phase, timeout=90):
        last = {}

        def check():
            last["d"] = self.dep(slug, dep_id)
            return last["d"] if last["d"]["phase"] == phase else None
        try:
            return self.wait(check, timeout, "deployment %s %s" %
                             (dep_id, phase))
        except AssertionError as e:
            raise AssertionError("%s\nlast: %s\nagents:\n%s" % (
                e, last.get("d"), "\n".join(a.log_text()[-2000:]
                                            for a in self.agents)))

    def wait_healthy_on(self, slug, node, timeout=90):
        return self.wait(lambda: (lambda p: p if p.get("node_name") == node
                                  and p.get("phase") == "healthy" else None)(
                                      self.placement(slug)),
                         timeout, "%s healthy on %s" % (slug, node))

    def client(self, token):
        return Client(self.cp.url, token)

    def close(self):
        for a in self.agents:
            a.cleanup()
        rc = self.cp.stop()
        os.unlink(self.pw_file.name)
        return rc
