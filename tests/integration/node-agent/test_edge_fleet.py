"""The edge with the control plane: two nodes on two Docker engines, each
a node agent joined to a real control plane (PostgreSQL) driving its own
Caddy. The control plane sends public_host and edge_routes (from the
edge_address each agent reports); the agents turn them into routes.

Covered: a tenant answers at its public host through the node that runs
it and through the node that does not; after the node that ran it is
lost, the tenant is healthy on the other node and both edges route
there: the surviving node's at once, the returning node's once its agent
is back (it stops what moved and routes to the other node).
"""

import os
import secrets
import sys
import unittest

HERE = os.path.dirname(__file__)
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "controlplane-fleet"))

from clawtest.docker import HEALTHSRV, DockerEnv, uniq  # noqa: E402
from clawtest.edge import (Caddy, edge_args, https_request,  # noqa: E402
                           until, wait_edge)
from clawtest.http import free_port  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from fleet import Fleet, FleetAgent  # noqa: E402

BASE = "edge-fleet.test"


class EdgeAgent(FleetAgent):
    """A fleet agent with an edge: its own Caddy, ports and edge network,
    advertising its peer listener on 127.0.0.1."""

    def __init__(self, fleet, env, name):
        super().__init__(fleet, env, name)
        self.caddy = Caddy().start()
        self.https, self.peer = free_port(), free_port()
        self.edge_network = uniq("claw-edge")

    def start(self):
        extra = ["--capacity-cpus-milli", str(self.cap[0]),
                 "--capacity-memory-mb", str(self.cap[1]),
                 "--backoff-ms", "300", "--heartbeat-ms", "500",
                 "--edge-network", self.edge_network] + edge_args(
                     self.caddy, self.https, peer_port=self.peer)
        return self.launch(["--control-plane", self.fleet.cp.url], extra,
                           env=dict(os.environ,
                                    CLAW_JOIN_TOKEN=self.join_token))

    def cleanup(self):
        super().cleanup()
        self.env.docker("network", "rm", self.edge_network, check=False)
        self.caddy.stop()

    def ask(self, host, path):
        """GET path through this node's edge (its Caddy's local CA)."""
        return https_request(self.https, host, path,
                             cafile=self.caddy.local_root())


class EdgeFleet(unittest.TestCase):
    def test_every_node_routes_and_follows_a_move(self):
        env_a = DockerEnv()
        env_b = DockerEnv("na-edge2")
        self.addCleanup(env_b.stop_engine)
        ok = env_a.build_image(HEALTHSRV, "claw-test/edge-fleet:ok-" +
                               secrets.token_hex(3))
        pg = PgCluster().start()
        self.addCleanup(pg.stop)
        fleet = Fleet(pg, env_a, extra=["--base-domain", BASE])
        self.addCleanup(fleet.close)

        def agent(env, name):
            a = EdgeAgent(fleet, env, name)
            fleet.agents.append(a)
            a.start()
            fleet.wait(lambda: any(n["name"] == name and
                                   n["status"] == "ready"
                                   for n in fleet.admin.get("/v1/nodes")
                                   .json()["items"]), 30, "node ready")
            return a
        a = agent(env_a, uniq("ea"))
        b = agent(env_b, uniq("eb"))
        fleet.admin.post("/v1/nodes/%s/cordon" % b.name)
        slug = uniq("roam")
        host = "%s.%s" % (slug, BASE)
        fleet.tenant(slug)
        d = fleet.deploy(slug, {"gateway_image": ok, "runtime_image": ok})
        fleet.wait_dep(slug, d["id"], "healthy")
        self.assertEqual(fleet.placement(slug)["node_name"], a.name)
        self.assertEqual(fleet.admin.post("/v1/nodes/%s/uncordon" % b.name)
                         .status, 200)

        def hostname_on(env, node):
            c = env.inspect("claw-%s-gateway" % slug)
            self.assertEqual(c["Config"]["Labels"]["claw.node"], node)
            return c["Config"]["Hostname"].encode()
        on_a = hostname_on(env_a, a.name)
        wait_edge(a, lambda e: e.get("state") == "ok" and
                  e.get("local_routes") == 1, 60)
        wait_edge(b, lambda e: e.get("state") == "ok" and
                  e.get("remote_routes") == 1, 60)
        path = "/file?path=/etc/hostname"
        for node in (a, b):
            r = until(lambda n=node: n.ask(host, path), 60,
                      what="the tenant through " + node.name)
            self.assertEqual((r.status, r.body.strip()), (200, on_a))

        # Node A is lost: the tenant moves to B; B's edge routes to it.
        a.kill()
        fleet.wait_healthy_on(slug, b.name, 120)
        on_b = hostname_on(env_b, b.name)
        until(lambda: b.ask(host, path).body.strip() == on_b or None, 60,
              what="node B's edge routing to the moved tenant")
        wait_edge(b, lambda e: e.get("local_routes") == 1 and
                  e.get("remote_routes") == 0)
        # A comes back: it stops its copy and routes to B.
        a.start()
        fleet.wait(lambda: not a.running(slug), 60, "A stopped its copy")
        wait_edge(a, lambda e: e.get("state") == "ok" and
                  e.get("remote_routes") == 1, 60)
        until(lambda: a.ask(host, path).body.strip() == on_b or None, 60,
              what="node A's edge routing to node B")


if __name__ == "__main__":
    unittest.main(verbosity=2)
