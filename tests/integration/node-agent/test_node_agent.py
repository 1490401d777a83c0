"""Node agent against the real Docker engine and the local registry:
deploy to healthy, digest pinning, hardening, secrets only as tmpfs files
(never in docker inspect), docker kill healed, agent restart adopts without
restarting, suspend, wrong credentials and missing image with clear reasons
and no credential in any log, crash loop backoff and report, cross-tenant
isolation, a dockerd restart mid-run."""

import json
import os
import secrets
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import (DockerEnv, HealthsrvCase,  # noqa: E402
                             agent_for, http_get, tenant_spec, uniq)


class NodeAgentDocker(HealthsrvCase):
    CRASH = ["--crash-after-ms", "300", "--exit-code", "3"]

    def agent(self, tenants, env=None, extra=(), remove=True):
        return agent_for(self, env or self.env, tenants,
                         ["--backoff-ms", "300", "--crash-loop-after", "3"] +
                         list(extra), remove)

    def test_deploy_pin_harden_secrets_heal_adopt(self):
        name = uniq("acme")
        sec = {"gateway": {"TG_TOKEN": "tg-" + secrets.token_hex(12)},
               "runtime": {"LLM_KEY": "sk-" + secrets.token_hex(12)}}
        spec = tenant_spec(name, self.ok_tag, self.ok_tag,
                           auth=self.env.auth(), secrets=sec)
        na = self.agent([spec])
        t = na.wait_healthy(name)
        # Pinned by digest: the tag was resolved, the containers run it.
        self.assertIn("@sha256:", t["images"]["runtime"])
        self.assertEqual(t["images"]["runtime"], self.ok)
        gw = self.env.inspect("claw-%s-gateway" % name)
        rt = self.env.inspect("claw-%s-runtime" % name)
        for c in (gw, rt):
            self.assertEqual(c["Config"]["Image"], self.ok)
            hc = c["HostConfig"]
            self.assertTrue(hc["ReadonlyRootfs"])
            self.assertEqual(c["Config"]["User"], "65532:65532")
            self.assertEqual(hc["CapDrop"], ["ALL"])
            self.assertIn("no-new-privileges:true", hc["SecurityOpt"])
            self.assertEqual(hc["PidsLimit"], 64)
            self.assertEqual(hc["Memory"], 64 << 20)
            self.assertIn("/tmp", hc["Tmpfs"])
            self.assertEqual(c["Config"]["Labels"]["claw.tenant"], name)
        # No secret value anywhere in docker inspect, nor in the env.
        raw = self.env.docker("inspect", gw["Id"], rt["Id"])
        for role in sec.values():
            for v in role.values():
                self.assertNotIn(v, raw)
        rt_ip = t["roles"]["runtime"]["ip"]
        code, body = http_get("http://%s:8081/file?path=/run/claw/secrets/"
                              "LLM_KEY" % rt_ip)
        self.assertEqual((code, body), (200, sec["runtime"]["LLM_KEY"]))
        code, body = http_get("http://%s:8081/env" % rt_ip)
        self.assertNotIn(sec["runtime"]["LLM_KEY"], body)
        # The runtime does not get the gateway's secrets.
        code, _ = http_get("http://%s:8081/file?path=/run/claw/secrets/"
                           "TG_TOKEN" % rt_ip)
        self.assertEqual(code, 404)
        code, body = http_get("http://%s:8081/file?path=/etc/claw/"
                              "runtime.json" % rt_ip)
        self.assertEqual(json.loads(body), {"role": "rt"})
        # The gateway alone is published, on 127.0.0.1.
        port = t["roles"]["gateway"]["port"]
        self.assertEqual(http_get("http://127.0.0.1:%d/healthz" % port)[0],
                         200)
        self.assertFalse(rt["HostConfig"].get("PortBindings"))
        # docker kill is healed.
        before = t["roles"]["runtime"]["restarts"]
        self.env.docker("kill", "claw-%s-runtime" % name)
        na.wait_tenant(name, lambda t: t["roles"]["runtime"]["restarts"] >
                       before and t["phase"] == "healthy", 30)
        # A restarted agent adopts without restarting.
        ids = {c: self.env.inspect("claw-%s-%s" % (name, c))["State"]
               ["StartedAt"] for c in ("gateway", "runtime")}
        self.assertEqual(na.stop(), 0)
        na.start()
        na.wait_healthy(name)
        for c in ("gateway", "runtime"):
            self.assertEqual(self.env.inspect("claw-%s-%s" % (name, c))
                             ["State"]["StartedAt"], ids[c])
        # Suspend: the runtime stops, the gateway stays.
        spec["state"] = "suspended"
        na.set_desired({"generation": 2, "tenants": [spec]})
        na.wait_tenant(name, lambda t: t["phase"] == "suspended", 30)
        self.assertFalse(self.env.inspect("claw-%s-runtime" % name)
                         ["State"]["Running"])
        self.assertEqual(self.env.inspect("claw-%s-gateway" % name)
                         ["State"]["StartedAt"], ids["gateway"])
        spec["state"] = "running"
        na.set_desired({"generation": 3, "tenants": [spec]})
        na.wait_healthy(name)
        # Secret values never reached the agent's log.
        log = na.log_text()
        for role in sec.values():
            for v in role.values():
                self.assertNotIn(v, log)
        self.assertNotIn(self.env.password, log)

    def test_wrong_credentials_and_missing_image(self):
        bad = uniq("badauth")
        missing = uniq("missing")
        wrong = dict(self.env.auth(), password="wrong-" + secrets.token_hex(8))
        na = self.agent([
            tenant_spec(bad, self.ok_tag, self.ok_tag, auth=wrong),
            tenant_spec(missing, self.ok_tag + "-nope", self.ok_tag + "-nope",
                        auth=self.env.auth()),
        ])
        t = na.wait_tenant(bad, lambda t: t["phase"] == "failed", 60)
        self.assertRegex(t["reason"], "(?i)unauthori[sz]ed|authentication")
        t = na.wait_tenant(missing, lambda t: t["phase"] == "failed", 60)
        self.assertRegex(t["reason"], "(?i)not found|manifest unknown")
        status = json.dumps(na.status())
        log = na.log_text()
        for text in (status, log):
            self.assertNotIn(wrong["password"], text)
            self.assertNotIn(self.env.password, text)

    def test_crash_loop_backs_off_and_is_reported(self):
        name = uniq("crashy")
        na = self.agent([tenant_spec(name, self.ok, self.crash)])
        t = na.wait_tenant(name, lambda t: t["phase"] == "crash_loop", 90)
        rt = t["roles"]["runtime"]
        self.assertEqual(rt["last_exit_code"], 3)
        self.assertTrue(rt["crash_loop"])
        self.assertIn("crashing with 3", rt["log_tail"])
        self.assertIn("exit code 3", t["reason"])
        # Backoff: restarts grow slower than the crashes would allow.
        n = rt["restarts"]
        time.sleep(2)
        self.assertLessEqual(na.tenant(name)["roles"]["runtime"]["restarts"],
                             n + 2)
        # The agent's log API decodes Docker's multiplexed stream.
        code, body = http_get("http://127.0.0.1:%d/v1/tenants/%s/logs?"
                              "role=runtime&tail=5" % (na.port, name))
        self.assertEqual(code, 200)
        self.assertIn("crashing with 3", body)

    def test_cross_tenant_isolation(self):
        a, b = uniq("iso-a"), uniq("iso-b")
        na = self.agent([tenant_spec(a, self.ok, self.ok),
                         tenant_spec(b, self.ok, self.ok)])
        ta = na.wait_healthy(a)
        tb = na.wait_healthy(b)
        a_rt = ta["roles"]["runtime"]["ip"]

        def reach(src, to):
            return http_get("http://%s:8081/connect?to=%s" % (src, to))[1]
        # A's runtime reaches A's gateway on their network ...
        self.assertEqual(reach(a_rt, ta["roles"]["gateway"]["ip"] + ":8080"),
                         "reachable")
        # ... and nothing of B's, on any of B's networks.
        b_ips = []
        for role in ("gateway", "runtime"):
            c = self.env.inspect("claw-%s-%s" % (b, role))
            b_ips += [n["IPAddress"] for n in
                      c["NetworkSettings"]["Networks"].values()]
        for ip in b_ips:
            self.assertEqual(reach(a_rt, ip + ":8080"), "unreachable", ip)
            self.assertEqual(reach(a_rt, ip + ":8081"), "unreachable", ip)
        # Gateways share the egress network but not a path to each other.
        a_gw = self.env.inspect("claw-%s-gateway" % a)
        egress = [n["IPAddress"] for k, n in
                  a_gw["NetworkSettings"]["Networks"].items()
                  if k.startswith("claw-egress")][0]
        self.assertEqual(reach(tb["roles"]["gateway"]["ip"],
                               egress + ":8080"), "unreachable")

    def test_dockerd_restart_mid_run(self):
        env2 = DockerEnv("na-restart")
        self.addCleanup(env2.stop_engine)  # runs after the agent's cleanup
        name = uniq("survivor")
        # The engine is thrown away after the test: its containers are not
        # removed one by one (after an unclean engine restart Docker may
        # refuse with "device or resource busy" on the old rootfs, and the
        # agent would retry until the engine goes).
        na = self.agent([tenant_spec(name, self.ok, self.ok,
                                     auth=self.env.auth())], env=env2,
                        remove=False)
        na.wait_healthy(name, 120)
        env2.stop_engine()
        env2.start()
        t = na.wait_healthy(name, 120)
        self.assertGreaterEqual(t["roles"]["runtime"]["restarts"], 1)
        self.assertTrue(env2.inspect("claw-%s-runtime" % name)["State"]
                        ["Running"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
