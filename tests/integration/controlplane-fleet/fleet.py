"""fleet - a control plane with node agents joined to it, for the fleet's
integration tests and benchmark (stdlib only).

    fl = Fleet(pg, env)                       # control plane, fleet options
    a = fl.agent(env, "node-a")               # join + start an agent
    dep = fl.deploy("acme", {})               # POST .../deploy -> 202 body
    fl.wait_dep("acme", dep["id"], "healthy")
"""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.cp import ControlPlane, default_image_args  # noqa: E402
from clawtest.docker import AgentProcess, uniq  # noqa: E402
from clawtest.http import Client  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402


class FleetAgent(AgentProcess):
    """claw-node-agent joined to a control plane (clawtest's launcher with
    --control-plane and a join token). egress: a network made beforehand
    (the agent uses it as it is)."""

    def __init__(self, fleet, env, name, labels=None, cpus_milli=64000,
                 memory_mb=65536, egress=None):
        super().__init__(env, name=name, egress=egress, prefix="claw-fa-")
        self.fleet = fleet
        self.labels = labels
        self.cap = (cpus_milli, memory_mb)
        self.join_token = fleet.join_token()

    def start(self):
        extra = ["--capacity-cpus-milli", str(self.cap[0]),
                 "--capacity-memory-mb", str(self.cap[1]),
                 "--backoff-ms", "300"]
        if self.labels:
            extra += ["--labels", self.labels]
        return self.launch(["--control-plane", self.fleet.cp.url], extra,
                           env=dict(os.environ,
                                    CLAW_JOIN_TOKEN=self.join_token))

    def remove_containers(self):
        """What the agent made on its engine (labels claw.node=NAME), and
        its tenants' networks (labelled claw.tenant) once empty."""
        out = self.env.docker("ps", "-aq", "--filter",
                              "label=claw.node=" + self.name)
        ids = out.split()
        tenants = set()
        if ids:
            tenants = set(self.env.docker(
                "inspect", "-f", '{{index .Config.Labels "claw.tenant"}}',
                *ids, check=False).split())
            self.env.docker("rm", "-f", *ids, check=False)
        nets = self.env.docker("network", "ls", "-q", "--filter",
                               "label=claw.node=" + self.name).split()
        for t in tenants:
            nets += self.env.docker("network", "ls", "-q", "--filter",
                                    "label=claw.tenant=" + t).split()
        for n in nets:
            # still in use (the tenant runs on the other node): kept
            self.env.docker("network", "rm", n, check=False)

    def cleanup(self):
        self.stop()
        self.remove_containers()
        self.remove_files()

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
                "--registry-password-file", self.pw_file.name,
                "--registry-server", env.registry,
                # test_workspace_pinned_to_commit names a local repository
                "--workspace-allow-local", "true"]
        if gateway_image:
            args += default_image_args(gateway_image, runtime_image)
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
        try:
            return wait_for(pred, timeout, what=what)
        except TimeoutError:
            raise AssertionError("timed out waiting for %s\ncp log tail:\n%s"
                                 % (what, self.cp.daemon.log_text()[-3000:]))

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

    def close(self, check=False):
        """Clean up the agents, stop the control plane and return its exit
        status; with check, raise AssertionError unless it exited cleanly
        (ControlPlane.stop_clean)."""
        for a in self.agents:
            a.cleanup()
        try:
            return self.cp.stop_clean() if check else self.cp.stop()
        finally:
            os.unlink(self.pw_file.name)


class FleetSuite:
    """The set-up of a fleet test class (listed before clawtest's
    HealthsrvCase): a PostgreSQL cluster, a Fleet on it with the healthsrv
    image as gateway and runtime, and one agent joined (cls.pg, cls.fleet,
    cls.admin, cls.node: named NODE, labelled NODE_LABELS); fleet_extra()
    gives more control-plane options. tearDownClass stops both, checking
    the agents' logs."""
    NODE = "node"
    NODE_LABELS = None

    @classmethod
    def fleet_extra(cls):
        return ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pg = PgCluster().start()
        cls.fleet = Fleet(cls.pg, cls.env, gateway_image=cls.ok_tag,
                          runtime_image=cls.ok_tag, extra=cls.fleet_extra())
        cls.admin = cls.fleet.admin
        cls.node = cls.fleet.agent(cls.env, uniq(cls.NODE),
                                   labels=cls.NODE_LABELS)

    @classmethod
    def tearDownClass(cls):
        try:
            cls.fleet.close(check=True)
        finally:
            cls.pg.stop()
