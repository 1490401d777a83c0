"""Quotas reach the running gateway without a restart (docs/node-agent.md,
"Quotas"), against the real Docker engine: the assignment's "quota" is
checked and written into the gateway's config file, a changed quota (the
plan raised from 2 to 5 turns a day) rewrites that file and sends the
gateway one SIGHUP, nothing restarts, and a desired state with a negative
or wrong-typed quota is refused with invalid_quota while the running
quota stays."""

import json
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import (HealthsrvCase, agent_for,  # noqa: E402
                             http_get, tenant_spec, uniq)
from clawtest.proc import wait_for  # noqa: E402


def quota(limit, used, message="No more chats today."):
    return {"turns_per_day": {"limit": limit, "used": used,
                              "resets_at": "2099-01-01T00:00:00Z"},
            "tokens_per_month": None, "message": message}


class NodeAgentQuota(HealthsrvCase):

    def spec(self, name, q):
        s = tenant_spec(name, self.ok, self.ok)
        s["quota"] = q
        return s

    def gateway_config(self, gw_ip):
        code, body = http_get("http://%s:8080/file?path=/etc/claw/"
                              "gateway.json" % gw_ip)
        self.assertEqual(code, 200, body)
        return json.loads(body)

    def test_quota_change_reaches_gateway_without_restart(self):
        name = uniq("quota")
        na = agent_for(self, self.env, [self.spec(name, quota(2, 0))],
                       ["--backoff-ms", "300"])
        t = na.wait_healthy(name)
        gw_ip = t["roles"]["gateway"]["ip"]
        cfg = self.gateway_config(gw_ip)
        self.assertEqual(cfg["role"], "gw")   # the deploy's config kept
        self.assertEqual(cfg["quota"], quota(2, 0))
        started = self.env.inspect("claw-%s-gateway" % name)["State"][
            "StartedAt"]
        hups = int(http_get("http://%s:8080/hup" % gw_ip)[1])

        na.set_desired({"generation": 2,
                        "tenants": [self.spec(name, quota(5, 2))]})
        wait_for(lambda: int(http_get("http://%s:8080/hup" % gw_ip)[1])
                 == hups + 1, 30, what="the gateway's SIGHUP")
        self.assertEqual(self.gateway_config(gw_ip)["quota"], quota(5, 2))
        self.assertEqual(self.env.inspect("claw-%s-gateway" % name)
                         ["State"]["StartedAt"], started)

        # bad quotas: the whole desired state refused, nothing changes
        for k, bad in enumerate((
                quota(-1, 0), quota("5", 0),
                {"turns_per_day": 5},
                dict(quota(5, 0), message=""))):
            before = na.log_text().count("invalid_quota")
            na.set_desired({"generation": 3 + k,
                            "tenants": [self.spec(name, bad)]})
            wait_for(lambda: na.log_text().count("invalid_quota") > before,
                     30, what="the refusal")
        time.sleep(1)
        self.assertEqual(self.gateway_config(gw_ip)["quota"], quota(5, 2))
        self.assertEqual(int(http_get("http://%s:8080/hup" % gw_ip)[1]),
                         hups + 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
