"""The node agent when its engine or a retiring gateway dies under it
(docs/reliability.md, findings 3 and 5; na-healthsrv stands in for both
roles, its journal depth kept in its data volume).

Covered:
- an old gateway found dead while its pair is retired (a blue/green
  redeploy behind the edge) is started once on its own volume and drained
  like a live one: its 2 unanswered messages keep the old pair until its
  journal reports 0 (before the fix the pair was removed at once and the
  journal stayed unreplayed in its slot's volume);
- the same gateway dying again after that start is not waited for, but
  what its journal holds is reported (status "journal_left", an error in
  the log) and its volume kept;
- the agent killed mid-way through a blue/green (finding 12): the new
  pair's gateway made in the other slot, its runtime not yet. The
  restarted agent takes the serving runtime for the old pair's (before
  the fix, the only runtime it found was taken for the current one and
  replaced in place by the new generation's, so the serving gateway lost
  its runtime), the edge keeps routing to the old pair, and a later
  generation is switched to and the old pair retired;
- the old gateway killed while it still serves, before the new pair is
  ready (finding 16): it is started again and the edge answers through
  it (before the fix it stayed dead until the new pair was ready, and a
  new pair that never got ready left the tenant without a gateway);
- a redeploy of a pair whose gateway is healthy but whose runtime does
  not exist (finding 18) is made in place, not beside a pair that could
  answer nothing;
- a dockerd SIGKILL while a tenant runs, with a dead endpoint left on the
  tenant network's bridge (a veth whose peer sits in a network namespace
  no container holds, with the gateway's address and MAC, as a shim that
  outlived the engine leaves it): after the restart the tenant's network
  is made anew, its bridge holds only the veths of live containers, and
  the tenant is healthy again (the agent probes its gateway on that
  network, egress proxy included);
- the same with a container of the tenant's network left half removed
  (finding 8): the renewal leaves it out, and the tenant comes back;
- (finding 21) an engine with live-restore, dockerd SIGKILLed: the
  tenant's containers keep running and answering while dockerd is down,
  and once it is back the agent takes them as they are (no restart, the
  same containers, its network not made anew); the agent logs and
  reports the engine's setting.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from clawtest.docker import (HEALTHSRV, DockerEnv, HealthsrvCase,  # noqa
                             NodeAgent, agent_for, http_get, tenant_spec,
                             uniq)
from clawtest.edge import (Caddy, edge_args, https_request,  # noqa: E402
                           until, wait_edge)
from clawtest.http import free_port  # noqa: E402

ENGINE = "na-engine-loss"


def sh(*args, check=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(args), r.stderr))
    return r.stdout


class EngineLoss(HealthsrvCase):
    REPO = "claw-test/engine-loss"

    # ------------------------------------------------ finding 3: retirement
    def edge_node(self, name):
        """A Caddy and an agent driving it (the shared engine); cleaned up
        after the test."""
        caddy = Caddy().start()
        self.addCleanup(caddy.stop)
        https, http = free_port(), free_port()
        net = uniq("claw-edge")
        self.addCleanup(self.env.docker, "network", "rm", net, check=False)
        na = NodeAgent(self.env, {"generation": 1, "tenants": []},
                       name=uniq("node"),
                       extra=edge_args(caddy, https, http) +
                       ["--edge-network", net, "--backoff-ms", "300",
                        "--edge-drain-ms", "300"])
        self.addCleanup(na.cleanup)
        na.start()
        wait_edge(na, lambda e: e.get("state") == "ok")
        return na, caddy, https

    def desired(self, name, gen):
        t = tenant_spec(name, self.ok, self.ok, auth=self.env.auth(),
                        config={"tenant": name}, generation=gen,
                        deployment="d%d" % gen)
        t["public_host"] = name + ".claw.test"
        return {"generation": gen, "tenants": [t]}

    def stuck_redeploy(self, name):
        """Generation 1 healthy behind the edge, then generation 2, whose
        gateway never gets healthy: (agent, caddy, its https port,
        generation 1's status)."""
        na, caddy, https = self.edge_node(name)
        na.set_desired(self.desired(name, 1))
        t = na.wait_healthy(name, 120)
        unhealthy = self.env.build_image(
            HEALTHSRV, "%s:unhealthy-%s" % (self.REPO, self.tag),
            cmd=["--unhealthy"])
        d = self.desired(name, 2)
        d["tenants"][0]["gateway"]["image"] = unhealthy
        na.set_desired(d)
        return na, caddy, https, t

    def dead_old_pair(self, name):
        """Generation 1 (slot 0) holding 2 unanswered messages in its
        journal, generation 2 serving in slot 1, and the old pair killed
        while it is kept for its journal: (agent, the old gateway's id)."""
        na, caddy, https = self.edge_node(name)
        host = name + ".claw.test"
        na.set_desired(self.desired(name, 1))
        na.wait_healthy(name, 120)
        until(lambda: https_request(https, host, "/depth?n=2",
                                    caddy.local_root()).body == b"ok", 30)
        na.set_desired(self.desired(name, 2))
        t = na.wait_tenant(name, lambda t: t["roles"]["gateway"]
                           ["generation"] == 2 and
                           t.get("draining", {}).get("routed") is False and
                           t["draining"]["journal_depth"] == 2, 120)
        old = t["draining"]["gateway"]
        # Dead as after an engine restart: neither runs.
        self.env.docker("kill", old)
        self.env.docker("kill", "claw-%s-runtime" % name)
        return na, old

    def test_dead_old_gateway_is_started_and_drained(self):
        name = uniq("revive")
        na, old = self.dead_old_pair(name)
        # Started again on its own volume: it still reports 2, so the
        # pair is kept (it was removed at once before the fix).
        t = na.wait_tenant(name, lambda t: t.get("draining", {})
                           .get("revived") is True and
                           t["draining"]["journal_depth"] == 2 and
                           t["draining"]["ip"] != "", 60)
        self.assertEqual(t["draining"]["gateway"], old)
        self.assertTrue(self.env.inspect(old)["State"]["Running"])
        self.assertTrue(self.env.inspect("claw-%s-runtime" % name)
                        ["State"]["Running"])
        # Its journal empties: then, and only then, it is retired.
        self.assertEqual(http_get("http://%s:8080/depth?n=0" %
                                  t["draining"]["ip"])[1], "ok")
        t = na.wait_tenant(name, lambda t: "draining" not in t, 60)
        self.assertNotIn("journal_left", t)
        # slot 0's pair is gone, slot 1's serves
        self.assertEqual(self.env.docker(
            "ps", "-aq", "--filter",
            "name=^claw-%s-(gateway|runtime)$" % name).split(), [])
        self.assertEqual(t["slot"], 1)

    def test_journal_left_by_a_gateway_that_dies_again_is_reported(self):
        name = uniq("left")
        na, old = self.dead_old_pair(name)
        na.wait_tenant(name, lambda t: t.get("draining", {})
                       .get("revived") is True and
                       t["draining"]["ip"] != "", 60)
        self.env.docker("kill", old)
        t = na.wait_tenant(name, lambda t: "draining" not in t, 60)
        vol = "claw-%s-gateway-data" % name
        self.assertEqual(t.get("journal_left"),
                         [{"slot": 0, "volume": vol, "depth": 2}])
        self.assertIn("kept in volume '%s'" % vol, na.log_text())
        # the volume (and what its journal holds) is kept
        self.assertEqual(self.env.inspect(vol)["Name"], vol)

    # ------------------------------- finding 12: an agent killed mid-way
    def test_agent_killed_before_the_new_runtime(self):
        name = uniq("midway")
        na, caddy, https, t = self.stuck_redeploy(name)
        host = name + ".claw.test"
        rt1 = t["roles"]["runtime"]["container"]
        started = self.env.inspect(rt1)["State"]["StartedAt"]
        # Its runtime is not started (the gate), so the agent is killed
        # with slot 1 holding the new gateway only.
        na.wait_tenant(name, lambda t: t.get("draining", {})
                       .get("generation") == 1 and
                       t["roles"]["gateway"]["exists"] and
                       not t["roles"]["runtime"]["exists"], 60)
        na.kill()
        na.start()
        # Adopted: generation 1 is the old pair, whole, and it serves.
        t = na.wait_tenant(name, lambda t: t.get("draining", {})
                           .get("generation") == 1 and
                           t["slot"] == 1 and
                           not t["roles"]["gateway"]["healthy"], 60)
        self.assertEqual(t["roles"]["gateway"]["generation"], 2)
        self.assertTrue(t["draining"]["routed"])
        for _ in range(20):  # reconcile passes go by: rt1 is left alone
            self.assertEqual(https_request(https, host, "/healthz",
                                           caddy.local_root()).status, 200)
            time.sleep(0.1)
        st = self.env.inspect(rt1)["State"]
        self.assertTrue(st["Running"])
        self.assertEqual(st["StartedAt"], started)
        self.assertNotIn("replacing generation 1", na.log_text())
        # A later generation is switched to, and the old pair retired.
        na.set_desired(self.desired(name, 3))
        t = na.wait_tenant(name, lambda t: "draining" not in t and
                           t["phase"] == "healthy" and
                           t["roles"]["runtime"]["generation"] == 3, 120)
        self.assertEqual(t["slot"], 1)
        self.assertNotIn("journal_left", t)
        self.assertEqual(self.env.docker("ps", "-aq", "--filter",
                                         "id=" + rt1).split(), [])
        until(lambda: https_request(https, host, "/healthz",
                                    caddy.local_root()).status == 200, 30)

    # ------------- finding 16: the serving old gateway killed mid-way
    def test_serving_old_gateway_killed_mid_way_is_started_again(self):
        name = uniq("rescue")
        na, caddy, https, _ = self.stuck_redeploy(name)
        host = name + ".claw.test"
        # The old pair keeps serving, and its gateway is killed meanwhile.
        t = na.wait_tenant(name, lambda t: t.get("draining", {})
                           .get("generation") == 1 and
                           t["roles"]["gateway"]["exists"], 60)
        old = t["draining"]["gateway"]
        self.env.docker("kill", old)
        # Started again (before the fix it stayed dead until the new
        # pair was ready, which here it never is), and the edge routes
        # to it again.
        until(lambda: https_request(https, host, "/healthz",
                                    caddy.local_root()).status == 200, 30)
        self.assertTrue(self.env.inspect(old)["State"]["Running"])
        self.assertIn("which serves until the new pair is ready, is not "
                      "running; starting the old pair again", na.log_text())
        t = na.wait_tenant(name, lambda t: t.get("draining", {})
                           .get("routed") is True, 30)
        self.assertEqual(t["draining"]["gateway"], old)
        # A later generation is switched to, and the old pair drained and
        # retired as usual.
        na.set_desired(self.desired(name, 3))
        t = na.wait_tenant(name, lambda t: "draining" not in t and
                           t["phase"] == "healthy" and
                           t["roles"]["runtime"]["generation"] == 3, 120)
        self.assertNotIn("journal_left", t)
        until(lambda: https_request(https, host, "/healthz",
                                    caddy.local_root()).status == 200, 30)

    # ---- finding 18: a gateway without its runtime does not serve
    def test_redeploy_of_a_gateway_without_its_runtime_is_in_place(self):
        name = uniq("norun")
        na, caddy, https = self.edge_node(name)
        # Its gateway is healthy, but its egress proxy never answers, so
        # its runtime is never started (the gate).
        no_proxy = self.env.build_image(
            HEALTHSRV, "%s:noproxy-%s" % (self.REPO, self.tag),
            cmd=["--proxy-after-ms", "86400000"])
        d = self.desired(name, 1)
        d["tenants"][0]["gateway"]["image"] = no_proxy
        na.set_desired(d)
        na.wait_tenant(name, lambda t: t["roles"]["gateway"]["healthy"] and
                       not t["roles"]["runtime"]["exists"], 60)
        # Redeployed in place (that pair could answer nothing: no old
        # pair to keep serving), not beside it.
        na.set_desired(self.desired(name, 2))
        t = na.wait_healthy(name, 120)
        self.assertEqual(t["roles"]["runtime"]["generation"], 2)
        self.assertEqual(t["slot"], 0)
        self.assertNotIn("starts beside", na.log_text())

    # ------------------------------------------- finding 5: a dead endpoint
    def kill_dockerd(self, env):
        root = os.environ.get("CLAW_DOCKER_ROOT", "/var/tmp/claw-docker")
        with open(os.path.join(root, env.name, "docker.pid")) as f:
            pid = int(f.read().strip())
        os.kill(pid, signal.SIGKILL)
        until(lambda: not os.path.exists("/proc/%d" % pid), 30)

    def end_shims(self, env):
        """containerd shims of env's engine that outlived it (their
        containerd socket is under its exec root), ended by pid."""
        root = os.environ.get("CLAW_DOCKER_ROOT", "/var/tmp/claw-docker")
        mark = os.path.join(root, env.name, "exec") + "/"
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % pid, "rb") as f:
                    cmd = f.read().decode(errors="replace")
            except OSError:
                continue
            if "containerd-shim" in cmd and mark in cmd:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass

    def bridge_ports(self, env, net):
        nid = env.inspect(net)["Id"]
        d = "/sys/class/net/br-%s/brif" % nid[:12]
        return nid, sorted(os.listdir(d)) if os.path.isdir(d) else []

    def tenant_on_own_engine(self, prefix, edge=None, live_restore=False):
        """A tenant, healthy, on an engine of its own (ENGINE) that the
        test may kill: (engine, tenant name, its network, agent, status).
        edge: a dict the edge's Caddy, https port and network are put in
        (the tenant is then served at NAME.claw.test). Without
        live_restore the engine's containers die with its dockerd."""
        env2 = DockerEnv(ENGINE, live_restore=live_restore)
        self.addCleanup(env2.stop_engine)
        self.addCleanup(self.end_shims, env2)
        name = uniq(prefix)
        spec = tenant_spec(name, self.ok, self.ok, auth=self.env.auth())
        extra = ["--backoff-ms", "300"]
        if edge is not None:
            edge["caddy"] = Caddy().start()
            self.addCleanup(edge["caddy"].stop)
            edge["https"], http = free_port(), free_port()
            edge["network"] = uniq("claw-edge")
            extra += edge_args(edge["caddy"], edge["https"], http) + [
                "--edge-network", edge["network"]]
            spec["public_host"] = name + ".claw.test"
        na = agent_for(self, env2, [spec], extra, remove=False)
        return env2, name, "claw-t-" + name, na, na.wait_healthy(name, 120)

    def dead_endpoint(self, env, net, container):
        """A veth on net's bridge whose peer sits in a namespace of its
        own, with container's address and MAC on net: what a container
        that died with dockerd can leave (its host end's name)."""
        ep = env.inspect(container)["NetworkSettings"]["Networks"][net]
        tag = uniq("x")[-6:]
        ns, host_end, peer = "na-el-" + tag, "vs" + tag, "vp" + tag
        sh("ip", "netns", "add", ns)
        self.addCleanup(sh, "ip", "netns", "del", ns, check=False)
        sh("ip", "link", "add", host_end, "type", "veth", "peer", "name",
           peer)
        self.addCleanup(sh, "ip", "link", "del", host_end, check=False)
        sh("ip", "link", "set", peer, "netns", ns)
        sh("ip", "-n", ns, "link", "set", peer, "address", ep["MacAddress"])
        sh("ip", "-n", ns, "addr", "add",
           "%s/%d" % (ep["IPAddress"], ep["IPPrefixLen"]), "dev", peer)
        sh("ip", "-n", ns, "link", "set", peer, "up")
        sh("ip", "link", "set", host_end, "master",
           "br-" + env.inspect(net)["Id"][:12], "up")
        self.assertIn(host_end, self.bridge_ports(env, net)[1])
        return host_end

    def test_dead_endpoint_after_dockerd_sigkill(self):
        """Finding 5 on the tenant's network, finding 19 on the egress and
        edge networks the node's gateways share: a dead endpoint with the
        gateway's address on each, then dockerd SIGKILLed."""
        edge = {}
        env2, name, net, na, t = self.tenant_on_own_engine("endpoint", edge)
        gw = "claw-%s-gateway" % name
        self.assertEqual(env2.inspect(gw)["NetworkSettings"]["Networks"]
                         [net]["IPAddress"], t["roles"]["gateway"]["ip"])
        self.assertEqual(len(self.bridge_ports(env2, net)[1]), 2)
        nets = (net, na.egress, edge["network"])
        old = [self.bridge_ports(env2, n)[0] for n in nets]
        dead = [self.dead_endpoint(env2, n, gw) for n in nets]

        self.assertFalse(na.status()["docker_live_restore"])
        self.assertRegex(na.log_text(), r"connected to Docker engine "
                         r"[^\n]*live-restore off")
        self.kill_dockerd(env2)
        env2.start()
        # Healthy again (its containers restarted), on networks made anew
        # whose bridges hold only the live containers' veths.
        na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                       t["roles"]["runtime"]["restarts"] >= 1 and
                       t["roles"]["gateway"]["restarts"] >= 1, 180)
        # the tenant network holds the pair, the shared ones the gateway
        for n, old_id, want, host_end in zip(nets, old, (2, 1, 1), dead):
            new_id, ports = self.bridge_ports(env2, n)
            self.assertNotEqual(new_id, old_id, n)
            self.assertNotIn(host_end, ports)
            live = env2.inspect(n)["Containers"]
            self.assertEqual(len(live), want, live)
            self.assertEqual(len(ports), want, ports)
            # made anew with its stopped containers joined to it again
            self.assertRegex(na.log_text(), r"network '%s' made anew "
                             r"[^\n]*\(%d stopped container" % (n, want))
        self.assertTrue(env2.inspect(gw)["State"]["Running"])
        # The gateway answers on its network from the host, and reaches
        # the host on the egress network (its bridge's address).
        t = na.tenant(name)
        self.assertEqual(http_get("http://%s:8080/healthz" %
                                  t["roles"]["gateway"]["ip"])[0], 200)
        bridge = env2.inspect(na.egress)["IPAM"]["Config"][0]["Gateway"]
        with socket.create_server((bridge, 0)) as srv:
            code, body = http_get("http://%s:8080/connect?to=%s:%d" % (
                t["roles"]["gateway"]["ip"], bridge,
                srv.getsockname()[1]))
        self.assertEqual((code, body.strip()), (200, "reachable"))
        # and the edge reaches it on the edge network
        host = name + ".claw.test"
        until(lambda: https_request(edge["https"], host, "/healthz",
                                    edge["caddy"].local_root()).status ==
              200, 60)

    # ------------------------------------ finding 8: a half removed container
    def test_dead_container_left_out_of_the_renewal(self):
        """A dockerd killed while it removed a container leaves it "dead"
        (or "removing"), and Docker refuses to connect it to a network
        again: the renewal of the tenant's network after the restart
        (finding 5) then failed on every retry, and the tenant never came
        back. One file of the container's upper layer made immutable stands
        in for the kill: its removal fails and leaves it so. The renewal
        leaves it out, and the tenant is healthy again."""
        env2, name, net, na, _ = self.tenant_on_own_engine("halfgone")
        stray = "claw-%s-stray" % name
        image = env2.inspect("claw-%s-gateway" % name)["Config"]["Image"]
        env2.docker("create", "--name", stray, "--network", net, image)
        upper = env2.inspect(stray)["GraphDriver"]["Data"]["UpperDir"]
        pin = os.path.join(upper, "pin")
        open(pin, "w").close()
        sh("chattr", "+i", pin)
        self.addCleanup(env2.docker, "rm", "-f", stray, check=False)
        self.addCleanup(sh, "chattr", "-i", pin, check=False)
        env2.docker("rm", "-f", stray, check=False)
        self.assertIn(env2.inspect(stray)["State"]["Status"],
                      ("dead", "removing"))

        self.kill_dockerd(env2)
        env2.start()
        na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                       t["roles"]["runtime"]["restarts"] >= 1 and
                       t["roles"]["gateway"]["restarts"] >= 1, 180)
        self.assertRegex(na.log_text(), r"network '%s': unable to remove "
                         r"the dead container" % net)
        live = env2.inspect(net)["Containers"]
        self.assertEqual(len(live), 2, live)

    # ----------------------------------------------- finding 21: live-restore
    def test_live_restore_keeps_tenants_through_dockerd_sigkill(self):
        """With live-restore a dockerd SIGKILL stops no tenant: the pair
        answers while dockerd is down, and the agent, once connected
        again, keeps the same containers (no restart, no network made
        anew)."""
        env2, name, net, na, t = self.tenant_on_own_engine(
            "live", live_restore=True)
        self.assertTrue(na.status()["docker_live_restore"])
        self.assertRegex(na.log_text(), r"connected to Docker engine "
                         r"[^\n]*live-restore on")
        ids = {r: env2.inspect("claw-%s-%s" % (name, r))["Id"]
               for r in ("gateway", "runtime")}
        ips = {r: t["roles"][r]["ip"] for r in ("gateway", "runtime")}

        before = len(na.log_text())
        self.kill_dockerd(env2)
        for r in ("gateway", "runtime"):  # dockerd is down: they answer
            self.assertEqual(http_get("http://%s:8080/healthz" %
                                      ips[r])[0], 200, r)
        env2.start()
        until(lambda: "Docker events stream back" in na.log_text(), 60)
        time.sleep(2)  # the rebuilt view's pass: it would restart here
        t = na.wait_healthy(name, 60)
        for r in ("gateway", "runtime"):
            self.assertEqual(t["roles"][r]["restarts"], 0, r)
            self.assertEqual(env2.inspect("claw-%s-%s" % (name, r))["Id"],
                             ids[r])
            self.assertTrue(env2.inspect(ids[r])["State"]["Running"])
            self.assertEqual(http_get("http://%s:8080/healthz" %
                                      t["roles"][r]["ip"])[0], 200, r)
        after = na.log_text()[before:]
        self.assertIn("Docker events stream back", after)
        self.assertNotIn("made anew", after)
        self.assertNotIn("exited with code", after)


if __name__ == "__main__":
    unittest.main(verbosity=2)
