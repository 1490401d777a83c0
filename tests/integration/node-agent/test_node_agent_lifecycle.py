"""Node agent against the real Docker engine and the local registry, the
life of a tenant after its first deploy: a config or secret change reaches
the running containers as files and a SIGHUP (no restart); image garbage
collection keeps the last 3 versions of a tenant and removes the rest and
those of a tenant that left; pull progress is reported; the local API
follows a container's log as server-sent events, across a restart, until
the tenant leaves."""

import json
import os
import secrets
import shutil
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import (HEALTHSRV, HealthsrvCase,  # noqa: E402
                             agent_for, http_get, tenant_spec, uniq)
from clawtest.proc import wait_for  # noqa: E402


class SseReader:
    """Events of a server-sent event stream, read as they come."""

    def __init__(self, conn, path):
        self.conn = conn
        self.conn.request("GET", path)
        self.resp = self.conn.getresponse()

    def next_event(self):
        name, data = "message", []
        while True:
            line = self.resp.readline()
            if not line:
                return None
            line = line.decode().rstrip("\n")
            if line == "":
                if data:
                    return name, json.loads("\n".join(data))
                continue
            if line.startswith(":"):
                continue
            k, _, v = line.partition(": ")
            if k == "event":
                name = v
            elif k == "data":
                data.append(v)

    def until(self, pred, limit=200):
        for _ in range(limit):
            ev = self.next_event()
            if ev is None:
                raise AssertionError("the stream ended")
            if pred(ev):
                return ev
        raise AssertionError("no such event")

    def close(self):
        self.conn.close()


class NodeAgentLifecycle(HealthsrvCase):

    def agent(self, tenants, extra=()):
        return agent_for(self, self.env, tenants,
                         ["--backoff-ms", "300"] + list(extra))

    def test_config_change_reloads_with_sighup(self):
        name = uniq("reload")
        tok = "tg-" + secrets.token_hex(8)
        spec = tenant_spec(name, self.ok, self.ok,
                           secrets={"gateway": {"TG_TOKEN": tok}})
        na = self.agent([spec])
        t = na.wait_healthy(name)
        gw_ip, rt_ip = t["roles"]["gateway"]["ip"], t["roles"]["runtime"]["ip"]
        started = {r: self.env.inspect("claw-%s-%s" % (name, r))["State"]
                   ["StartedAt"] for r in ("gateway", "runtime")}
        self.assertEqual(http_get("http://%s:8080/hup" % gw_ip)[1], "0")
        # The same deployment and generation with another gateway config
        # and a rotated secret: files rewritten in place, then SIGHUP.
        tok2 = "tg-" + secrets.token_hex(8)
        spec2 = tenant_spec(name, self.ok, self.ok,
                            config={"role": "gw", "greeting": "hi"},
                            secrets={"gateway": {"TG_TOKEN": tok2}})
        na.set_desired({"generation": 2, "tenants": [spec2]})
        wait_for(lambda: http_get("http://%s:8080/hup" % gw_ip)[1] == "1",
                 30, what="the gateway's SIGHUP")
        code, body = http_get("http://%s:8080/file?path=/etc/claw/"
                              "gateway.json" % gw_ip)
        self.assertEqual(json.loads(body), {"role": "gw", "greeting": "hi"})
        self.assertEqual(http_get("http://%s:8080/file?path=/run/claw/"
                                  "secrets/TG_TOKEN" % gw_ip), (200, tok2))
        # Nothing restarted; the runtime, whose files did not change, got
        # no signal.
        for r in ("gateway", "runtime"):
            self.assertEqual(self.env.inspect("claw-%s-%s" % (name, r))
                             ["State"]["StartedAt"], started[r])
        self.assertEqual(http_get("http://%s:8081/hup" % rt_ip)[1], "0")
        t = na.wait_healthy(name)
        self.assertEqual(t["roles"]["gateway"]["restarts"], 0)
        # The label that tells what the container was given follows, so a
        # restarted agent does not signal again.
        self.assertEqual(na.stop(), 0)
        na.start()
        na.wait_healthy(name)
        time.sleep(1)
        self.assertEqual(http_get("http://%s:8080/hup" % gw_ip)[1], "1")
        log = na.log_text()
        for v in (tok, tok2):
            self.assertNotIn(v, log)

    def test_replaced_container_is_stopped_not_killed(self):
        """A new generation replaces the pair in place (no edge): the old
        containers get SIGTERM and their grace before the removal, as a
        retired pair does. A gateway killed at once could lose the record
        of a reply just sent, and its successor on the same journal
        answered the message again (docs/reliability.md, finding 9).
        na-healthsrv writes /var/lib/claw/terminated on SIGTERM, in the
        data volume its successor reads."""
        name = uniq("replace")
        na = self.agent([tenant_spec(name, self.ok, self.ok)])
        t = na.wait_healthy(name)
        old = t["roles"]["gateway"]["container"]
        na.set_desired({"generation": 2, "tenants": [
            tenant_spec(name, self.ok, self.ok, generation=2)]})
        t = na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                           t["roles"]["gateway"]["container"] != old)
        for r, port in (("gateway", 8080), ("runtime", 8081)):
            self.assertEqual(http_get(
                "http://%s:%d/file?path=/var/lib/claw/terminated" %
                (t["roles"][r]["ip"], port)), (200, "SIGTERM"), r)

    def test_unassigned_pair_is_stopped_not_killed(self):
        """A tenant no longer assigned here (moved, or homeless after a
        node loss) has its pair stopped before the removal, as a replaced
        or retired one. Killed at once, a gateway lost the record of the
        reply it was sending, and when the tenant came back its successor
        on the same journal answered the message again
        (docs/reliability.md, finding 14)."""
        name = uniq("unassign")
        na = self.agent([tenant_spec(name, self.ok, self.ok)])
        na.wait_healthy(name)
        na.set_desired({"generation": 2, "tenants": []})
        na.wait(lambda s: not s["tenants"], 60)
        na.set_desired({"generation": 3, "tenants": [
            tenant_spec(name, self.ok, self.ok, generation=3)]})
        t = na.wait_healthy(name)
        for r, port in (("gateway", 8080), ("runtime", 8081)):
            self.assertEqual(http_get(
                "http://%s:%d/file?path=/var/lib/claw/terminated" %
                (t["roles"][r]["ip"], port)), (200, "SIGTERM"), r)

    def test_young_container_gets_its_first_second_before_sigterm(self):
        """A container's PID 1 that does not yet catch SIGTERM loses it,
        and Docker kills it only after the whole 20 s grace: a gateway
        replaced right after its start took 20 s to go
        (docs/reliability.md, finding 20). The agent lets a container
        under a second old finish that second first. Here the gateway
        catches signals from 600 ms after its start and is replaced in
        place the moment it runs: it must end on SIGTERM."""
        name = uniq("young")
        late = self.env.build_image(
            HEALTHSRV, "%s:signals-late-%s" % (self.REPO, self.tag),
            cmd=["--signals-after-ms", "600"])
        na = self.agent([tenant_spec(name, late, self.ok)])
        gw = "claw-%s-gateway" % name

        def running():
            out = self.env.docker("inspect", "-f", "{{.State.Running}}", gw,
                                  check=False)
            return out.strip() == "true"
        wait_for(running, 60, what="generation 1's gateway running")
        na.set_desired({"generation": 2, "tenants": [
            tenant_spec(name, self.ok, self.ok, generation=2)]})
        t = na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                           t["roles"]["gateway"]["generation"] == 2, 60)
        self.assertEqual(http_get(
            "http://%s:8080/file?path=/var/lib/claw/terminated" %
            t["roles"]["gateway"]["ip"]), (200, "SIGTERM"))
        self.assertNotIn("did not stop within", na.log_text())

    def test_image_gc_keeps_last_three_and_reports_pull_progress(self):
        name = uniq("gc")
        run = secrets.token_hex(3)
        versions = []
        bins = tempfile.mkdtemp(prefix="claw-na-gc-")
        self.addCleanup(shutil.rmtree, bins, True)
        for k in range(5):
            # Each version its own layer: the binary under a name of its
            # own. (Two images of one binary built within the same second
            # have the same layer, byte for byte, as the tar holds whole
            # seconds; the second pull then finds it present and
            # downloads nothing, and bytes_total stays 0.)
            binary = os.path.join(bins, "healthsrv-%s-%d" % (run, k))
            shutil.copy(HEALTHSRV, binary)
            pinned = self.env.build_image(
                binary, "claw-test/gc-%s:v%d" % (run, k),
                cmd=["--gc-version", "%s-%d" % (run, k)])
            tag = "%s/claw-test/gc-%s:v%d" % (self.env.registry, run, k)
            # Only the registry holds it: the agent pulls it.
            self.env.docker("rmi", tag)
            self.env.docker("rmi", pinned, check=False)
            versions.append((tag, pinned))

        def present(ref):
            return self.env.docker("image", "inspect", ref,
                                   check=False).strip() not in ("", "[]")

        na = self.agent([], extra=["--image-keep", "3"])
        for k, (tag, pinned) in enumerate(versions):
            spec = tenant_spec(name, tag, tag, generation=k + 1,
                               deployment="d%d" % k, auth=self.env.auth())
            na.set_desired({"generation": k + 1, "tenants": [spec]})
            t = na.wait_tenant(name, lambda t: t["phase"] == "healthy" and
                               t["images"]["runtime"] == pinned, 90)
            # Pull progress: every layer of the image was pulled.
            p = t["pull"]
            self.assertFalse(p["active"])
            self.assertGreaterEqual(p["layers_total"], 1)
            self.assertEqual(p["layers_done"], p["layers_total"])
            self.assertGreater(p["bytes_total"], 0)
            self.assertEqual(p["bytes_done"], p["bytes_total"])
        # The last three stay for a rollback, the two before go.
        wait_for(lambda: not present(versions[0][1]) and
                 not present(versions[1][1]), 60,
                 what="the old images' removal")
        for _, pinned in versions[2:]:
            self.assertTrue(present(pinned), pinned)
        # No tag was left behind by the agent's pulls.
        self.assertFalse(present(versions[4][0]))
        # An image the agent never pulled for a tenant is not touched.
        self.assertTrue(present(self.ok))
        # The tenant leaves the node: its images are no longer kept.
        na.set_desired({"generation": 10, "tenants": []})
        na.wait(lambda s: not s["tenants"], 60)
        wait_for(lambda: not any(present(p) for _, p in versions), 60,
                 what="the removal of the images of a tenant that left")
        self.assertTrue(present(self.ok))

    def test_log_follow_across_restart_until_the_tenant_leaves(self):
        name = uniq("follow")
        spec = tenant_spec(name, self.ok, self.ok)
        na = self.agent([spec])
        t = na.wait_healthy(name)
        rt_ip = t["roles"]["runtime"]["ip"]
        bad = na.get("/v1/tenants/%s/logs?follow=2" % name)
        self.assertEqual(bad[0], 422)
        self.assertEqual(na.get("/v1/tenants/nope/logs?follow=1")[0], 404)
        sse = SseReader(na.connection(30), "/v1/tenants/%s/logs?role=runtime&"
                        "follow=1&tail=1" % name)
        self.addCleanup(sse.close)
        self.assertEqual(sse.resp.status, 200)
        self.assertEqual(sse.resp.getheader("Content-Type"),
                         "text/event-stream")
        ev = sse.next_event()
        self.assertEqual(ev[0], "log")
        self.assertEqual(ev[1]["line"], "healthsrv starting")
        self.assertEqual(ev[1]["stream"], "stdout")
        self.assertRegex(ev[1]["time"], r"^\d{4}-\d\d-\d\dT[0-9:.]+Z$")
        # New lines come as they are written, stdout and stderr, in order.
        words = ["w%d-%s" % (i, secrets.token_hex(2)) for i in range(3)]
        for w in words:
            self.assertEqual(http_get("http://%s:8081/say?text=%s" %
                                      (rt_ip, w), 30), (200, "said"))
        got = [sse.until(lambda e: e[0] == "log")[1]["line"]
               for _ in words]
        self.assertEqual(got, words)
        http_get("http://%s:8081/say?err=1&text=oops" % rt_ip)
        ev = sse.until(lambda e: e[0] == "log")
        self.assertEqual((ev[1]["stream"], ev[1]["line"]), ("stderr", "oops"))
        # A crash and restart: the follow goes on with the new run.
        self.env.docker("kill", "claw-%s-runtime" % name)
        sse.until(lambda e: e[0] == "log" and
                  e[1]["line"] == "healthsrv starting")
        t = na.wait_healthy(name)
        rt_ip = t["roles"]["runtime"]["ip"]
        http_get("http://%s:8081/say?text=after-restart" % rt_ip)
        sse.until(lambda e: e[0] == "log" and e[1]["line"] == "after-restart")
        # The tenant leaves: the stream ends with a reason.
        na.set_desired({"generation": 5, "tenants": []})
        ev = sse.until(lambda e: e[0] == "end")
        self.assertIn("no longer on this node", ev[1]["reason"])
        self.assertIsNone(sse.next_event())


if __name__ == "__main__":
    unittest.main(verbosity=2)
