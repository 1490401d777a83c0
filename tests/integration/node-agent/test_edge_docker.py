"""The edge with real tenants: a real Caddy driven by the node agent in
front of gateway containers on a real Docker engine (the test image,
na-healthsrv, stands in for the gateway), and a second engine for a
second node.

Covered: a tenant reached through the edge by its host with no port
published on the host (the gateway on the edge network only); gateways
cannot reach each other over the edge network; the same address after
the gateway is killed and healed; 5 redeploys and 2 rollbacks with a
client asking continuously through the edge: no failed request, each
generation's gateway answering in turn; the old gateway kept until its
journal is empty, then retired; a request arriving at the node that
does not host the tenant (its own dockerd) is proxied to the node that
does, the Host header kept; the peer listener serves local tenants only.
"""

import json
import os
import sys
import threading
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from clawtest.docker import (DockerEnv, HealthsrvCase, NodeAgent,  # noqa
                             http_get, tenant_spec, uniq)
from clawtest.edge import (Caddy, edge_args, http_request,  # noqa: E402
                           https_request, until, wait_edge)
from clawtest.http import free_port  # noqa: E402


class EdgeDocker(HealthsrvCase):
    REPO = "claw-test/edge-healthsrv"

    def node(self, env, tenants, routes=(), advertise=False):
        """A Caddy and an agent driving it on env, cleaned up after the
        test: (agent, caddy, https port, http port, peer port)."""
        caddy = Caddy().start()
        self.addCleanup(caddy.stop)
        https, http, peer = free_port(), free_port(), free_port()
        net = uniq("claw-edge")
        # Cleanups run last first: the network goes after the agent.
        self.addCleanup(env.docker, "network", "rm", net, check=False)
        na = NodeAgent(env, {"generation": 1, "tenants": tenants,
                             "edge_routes": list(routes)},
                       name=uniq("node"),
                       extra=edge_args(caddy, https, http,
                                       peer if advertise else None) +
                       ["--edge-network", net, "--backoff-ms", "300",
                        "--edge-drain-ms", "300"])
        na.edge_network = net
        self.addCleanup(na.cleanup)
        na.start()
        wait_edge(na, lambda e: e.get("state") == "ok")
        return na, caddy, https, http, peer

    def spec(self, name, host):
        t = tenant_spec(name, self.ok, self.ok, auth=self.env.auth(),
                        config={"tenant": name})
        t["public_host"] = host
        return t

    def test_reached_through_edge_without_published_port(self):
        a, b = uniq("edge-a"), uniq("edge-b")
        ha, hb = a + ".claw.test", b + ".claw.test"
        na, caddy, https, http, _ = self.node(
            self.env, [self.spec(a, ha), self.spec(b, hb)])
        ta = na.wait_healthy(a, 120)
        tb = na.wait_healthy(b, 120)
        wait_edge(na, lambda e: e.get("state") == "ok" and
                  e.get("local_routes") == 2)
        gw = ta["roles"]["gateway"]
        self.assertNotIn("port", gw)
        self.assertIn("edge_ip", gw)
        c = self.env.inspect("claw-%s-gateway" % a)
        self.assertFalse(c["HostConfig"].get("PortBindings"))
        self.assertFalse(c["NetworkSettings"]["Ports"].get("8080/tcp"))
        self.assertIn(na.edge_network, c["NetworkSettings"]["Networks"])
        self.assertEqual(c["Config"]["Labels"]["claw.edge"], na.edge_network)
        rt = self.env.inspect("claw-%s-runtime" % a)
        self.assertNotIn(na.edge_network, rt["NetworkSettings"]["Networks"])
        net = json.loads(self.env.docker("network", "inspect",
                                         na.edge_network))[0]
        self.assertTrue(net["Internal"])
        self.assertEqual(net["Options"].get(
            "com.docker.network.bridge.enable_icc"), "false")
        root = caddy.local_root()
        path = "/file?path=/etc/claw/gateway.json"
        r = until(lambda: https_request(https, ha, path, root), 30,
                  what="tenant a through the edge")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["tenant"], a)
        r = https_request(https, hb, path, root)
        self.assertEqual(json.loads(r.body)["tenant"], b)
        r = http_request(http, "nobody.claw.test")
        self.assertEqual((r.status, r.body), (404, b"not found\n"))
        # Gateways share the edge network but cannot reach each other
        # over it.
        self.assertEqual(http_get("http://%s:8081/connect?to=%s:8080" % (
            ta["roles"]["runtime"]["ip"], tb["roles"]["gateway"]["edge_ip"]))
            [1], "unreachable")
        self.assertEqual(https_request(
            https, ha, "/connect?to=%s:8080" % tb["roles"]["gateway"]
            ["edge_ip"], root).body, b"unreachable")

        # Killed and healed: the same address answers again.
        restarts = gw["restarts"]
        self.env.docker("kill", "claw-%s-gateway" % a)
        na.wait_tenant(a, lambda t: t["phase"] == "healthy" and
                       t["roles"]["gateway"]["restarts"] > restarts, 60)
        r = until(lambda: https_request(https, ha, path, root).status == 200
                  or None, 30, what="tenant a again after the kill")
        self.assertTrue(r)
        self.assertEqual(json.loads(https_request(https, ha, path, root)
                                    .body)["tenant"], a)

    def test_redeploys_without_a_failed_request(self):
        name = uniq("bg")
        host = name + ".claw.test"
        na, caddy, https, _, _ = self.node(self.env, [])
        root = caddy.local_root()

        def desired(gen, dep):
            t = self.spec(name, host)
            t["generation"], t["deployment"] = gen, dep
            return {"generation": gen, "tenants": [t]}
        na.set_desired(desired(1, "d1"))
        na.wait_healthy(name, 120)
        until(lambda: https_request(https, host, "/healthz", root).status
              == 200 or None, 30, what="the tenant through the edge")

        # A client asks continuously which container answers it (each
        # container has its own /etc/hostname), one connection a request.
        stop = threading.Event()
        seen, failures = [], []

        def client():
            while not stop.is_set():
                try:
                    r = https_request(https, host,
                                      "/file?path=/etc/hostname", root)
                    if r.status != 200:
                        failures.append("HTTP %d %r" % (r.status, r.body))
                    else:
                        seen.append(r.body.strip())
                except Exception as e:  # noqa: BLE001 - all count
                    failures.append(repr(e))
        th = threading.Thread(target=client)
        th.start()
        try:
            # 5 redeploys and 2 rollbacks (a rollback is a redeploy of an
            # earlier deployment at a new generation).
            deps = ["d2", "d3", "d4", "d5", "d6", "d1", "d2"]
            for gen, dep in enumerate(deps, start=2):
                na.set_desired(desired(gen, dep))
                na.wait_tenant(name, lambda t, g=gen: t["generation"] == g
                               and t["phase"] == "healthy" and
                               "draining" not in t and
                               t["roles"]["gateway"]["generation"] == g,
                               120)
        finally:
            stop.set()
            th.join(60)
        self.assertEqual(failures, [], "failed requests during redeploys")
        self.assertGreater(len(seen), 50)
        # Each generation's gateway answered in turn: once a new one
        # answered, the old one never did again.
        order = []
        for h in seen:
            if not order or order[-1] != h:
                self.assertNotIn(h, order, "an old gateway answered again")
                order.append(h)
        self.assertEqual(len(order), len(deps) + 1, order)
        # Only the last pair is left; its slot alternated.
        names = self.env.docker("ps", "-a", "--filter",
                                "label=claw.tenant=" + name,
                                "--format", "{{.Names}}").split()
        self.assertEqual(len(names), 2, names)
        t = na.tenant(name)
        self.assertEqual(t["slot"], len(deps) % 2)

    def test_old_gateway_kept_until_its_journal_is_empty(self):
        name = uniq("drain")
        host = name + ".claw.test"
        na, caddy, https, _, _ = self.node(self.env, [])
        root = caddy.local_root()

        def desired(gen):
            t = self.spec(name, host)
            t["generation"], t["deployment"] = gen, "d%d" % gen
            return {"generation": gen, "tenants": [t]}
        na.set_desired(desired(1))
        na.wait_healthy(name, 120)
        old = until(lambda: https_request(https, host, "/file?path=/etc/"
                                          "hostname", root).body, 30)
        # The serving gateway holds two unanswered messages.
        self.assertEqual(https_request(https, host, "/depth?n=2",
                                       root).body, b"ok")
        na.set_desired(desired(2))
        t = na.wait_tenant(name, lambda t: t["roles"]["gateway"]
                           ["generation"] == 2 and
                           t["phase"] == "healthy" and
                           t.get("draining", {}).get("routed") is False and
                           t["draining"]["journal_depth"] == 2, 120)
        # The edge routes to the new gateway; the old one is kept while
        # its journal is not empty.
        new = https_request(https, host, "/file?path=/etc/hostname",
                            root).body
        self.assertNotEqual(new, old)
        self.assertEqual(https_request(https, host, "/metrics", root).body
                         .split()[-1], b"0")  # the new slot's own journal
        self.assertTrue(self.env.inspect(t["draining"]["gateway"])
                        ["State"]["Running"])
        # Its journal empties: the old pair is retired.
        self.assertEqual(http_get("http://%s:8080/depth?n=0" %
                                  t["draining"]["ip"])[1], "ok")
        na.wait_tenant(name, lambda t: "draining" not in t, 60)
        names = self.env.docker("ps", "-a", "--filter",
                                "label=claw.tenant=" + name,
                                "--format", "{{.Names}}").split()
        self.assertEqual(sorted(names), ["claw-%s-gateway-1" % name,
                                         "claw-%s-runtime-1" % name])

    def test_every_node_is_an_entry_point(self):
        env_b = DockerEnv("na-edge2")
        self.addCleanup(env_b.stop_engine)  # after the agents' cleanups
        name = uniq("roam")
        host = name + ".claw.test"
        na_a, caddy_a, https_a, _, peer_a = self.node(
            self.env, [self.spec(name, host)], advertise=True)
        na_a.wait_healthy(name, 120)
        wait_edge(na_a, lambda e: e.get("state") == "ok" and
                  e.get("local_routes") == 1)
        route = {"hosts": [host], "node": na_a.name,
                 "upstream": "127.0.0.1:%d" % peer_a}
        na_b, caddy_b, https_b, http_b, peer_b = self.node(
            env_b, [], [route], advertise=True)
        wait_edge(na_b, lambda e: e.get("state") == "ok" and
                  e.get("remote_routes") == 1)
        path = "/file?path=/etc/claw/gateway.json"
        r = until(lambda: https_request(https_b, host, path,
                                        caddy_b.local_root()), 30,
                  what="the tenant through the node that does not host it")
        self.assertEqual(r.status, 200)
        self.assertEqual(json.loads(r.body)["tenant"], name)
        # The hosting node's peer listener: its local tenant, with the
        # Host header as the entry node kept it; nothing else.
        r = http_request(peer_a, host, path)
        self.assertEqual(json.loads(r.body)["tenant"], name)
        self.assertEqual(http_request(peer_a, "nobody.claw.test").status,
                         404)
        # A peer listener never forwards again (no loops): node B's has
        # no route for a tenant it does not host.
        self.assertEqual(http_request(peer_b, host, path).status, 404)
        # The tenant leaves node A: node B's route answers 404 once the
        # control plane drops it there too.
        na_b.set_desired({"generation": 2, "tenants": [],
                          "edge_routes": []})
        until(lambda: http_request(http_b, host).status == 404,
              what="the route gone from node B")


if __name__ == "__main__":
    unittest.main(verbosity=2)
