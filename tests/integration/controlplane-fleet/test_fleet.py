"""The fleet end to end: a control plane on a real PostgreSQL, node agents
joined to it, real dockerd engines and the local registry.

Join and revoke; one-click deploy (empty body) to healthy; digest pinning;
wrong registry credentials fail with a clear reason and no credential in
any log; suspend/resume; rollback; authorisation (tenant tokens, node
tokens, a node sees only its own assignments); events and the log relay;
two nodes where one is lost, its tenants come up on the other, and after it
returns no tenant runs twice."""

import json
import os
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import (HEALTHSRV, DockerEnv,  # noqa: E402
                             HealthsrvCase, http_get, uniq)
from clawtest.http import Client  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from clawtest.repo import init_repo  # noqa: E402
from fleet import Fleet, FleetSuite  # noqa: E402


class FleetTest(FleetSuite, HealthsrvCase):
    REPO = "claw-test/fleet"
    CRASH = ["--crash-after-ms", "200", "--exit-code", "7"]
    NODE = "node-a"
    NODE_LABELS = "zone=a,disk=ssd"

    def all_logs(self):
        return self.fleet.cp.daemon.log_text() + "".join(
            a.log_text() for a in self.fleet.agents)

    # ---- join and revoke

    def test_join_and_revoke(self):
        anon = Client(self.fleet.cp.url)
        tok = self.fleet.join_token()
        body = {"token": tok, "name": uniq("fake"), "cpus_milli": 1000,
                "memory_mb": 1024, "labels": {"zone": "z1"}}
        r = anon.post("/v1/nodes/join", body)
        self.assertEqual(r.status, 201, r)
        cred, node_id = r.json()["credential"], r.json()["node_id"]
        # single use
        r = anon.post("/v1/nodes/join", dict(body, name=uniq("fake")))
        self.assertEqual((r.status, r.error_code()),
                         (401, "invalid_join_token"))
        # stored hashed: the token is in no log
        self.assertNotIn(tok, self.fleet.cp.daemon.log_text())
        node = self.fleet.client(cred)
        r = node.get("/v1/agent/assignments?generation=0")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["tenants"], [])
        # a node token is for the agent API only
        self.assertEqual(node.get("/v1/tenants").status, 403)
        self.assertEqual(node.get("/v1/nodes").status, 403)
        nodes = {n["id"]: n for n in self.admin.get("/v1/nodes")
                 .json()["items"]}
        self.assertEqual(nodes[node_id]["labels"], {"zone": "z1"})
        # only admins make join tokens
        _, op = self.fleet.cp.new_token("operator")
        self.assertEqual(self.fleet.client(op).post(
            "/v1/nodes/join-tokens", {}).status, 403)
        # a live credential whose node is no longer live (its row
        # revoked behind the API's back): refused, and said why
        db = self.fleet.cp.database_url.split("?")[0].rsplit("/", 1)[1]
        self.pg.psql("UPDATE nodes SET status = 'revoked' WHERE id = '%s'"
                     % node_id, dbname=db)
        r = node.post("/v1/agent/heartbeat", {})
        self.assertEqual((r.status, r.error_code()), (401, "node_revoked"))
        self.pg.psql("UPDATE nodes SET status = 'ready' WHERE id = '%s'"
                     % node_id, dbname=db)
        self.assertEqual(node.post("/v1/agent/heartbeat", {}).status, 200)
        # revoke: refused at once, audited
        r = self.admin.post("/v1/nodes/%s/revoke" % node_id)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "revoked")
        self.assertEqual(node.get("/v1/agent/assignments?generation=0")
                         .status, 401)
        self.assertEqual(node.post("/v1/agent/heartbeat", {}).status, 401)
        actions = [e["action"] for e in self.admin.get(
            "/v1/audit?limit=200").json()["items"]]
        for a in ("node.join", "node.revoke", "node.join_token.create"):
            self.assertIn(a, actions)
        self.assertEqual(self.admin.delete("/v1/nodes/%s" % node_id).status,
                         204)
        self.assertEqual(self.admin.get("/v1/nodes/%s" % node_id).status, 404)

    # ---- deploy

    def test_one_click_deploy_to_healthy(self):
        slug = uniq("acme")
        self.fleet.tenant(slug)
        value = "sk-" + secrets.token_hex(16)
        self.assertEqual(self.admin.put("/v1/tenants/%s/secrets/LLM_KEY" %
                                        slug, {"value": value}).status, 201)
        # a one-click deploy (no body) whose configs name no secret
        # gives its containers none of the tenant's (another tenant, so
        # this one's releases are counted below)
        bare = uniq("bare")
        self.fleet.tenant(bare)
        self.assertEqual(self.admin.put("/v1/tenants/%s/secrets/LLM_KEY" %
                                        bare, {"value": value}).status, 201)
        r = self.admin.post("/v1/tenants/%s/deploy" % bare)  # no body
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["spec"]["secrets"],
                         {"gateway": ["admin_token"],
                          "runtime": ["admin_token"]})
        self.admin.delete("/v1/tenants/%s/deployment" % bare)
        # the runtime's config names LLM_KEY: the runtime gets it, the
        # gateway does not (no "*" by default any more)
        r = self.admin.post("/v1/tenants/%s/deploy" % slug, {
            "runtime_config": {"providers": [{
                "name": "m", "kind": "openai", "model": "m",
                "base_url": "http://llm.test/v1",
                "api_key_secret": "LLM_KEY"}]}})
        self.assertEqual(r.status, 202, r)
        dep = r.json()
        self.assertEqual(dep["phase"], "pending")
        self.assertIn("/deployments/" + dep["id"], r.headers["Location"])
        d = self.fleet.wait_dep(slug, dep["id"], "healthy")
        # the tag was pinned to the digest the node resolved
        self.assertEqual(d["images"], {"gateway": self.ok, "runtime": self.ok})
        p = self.fleet.placement(slug)
        self.assertEqual(p["node_name"], self.node.name)
        rt = self.env.inspect("claw-%s-runtime" % slug)
        self.assertEqual(rt["Config"]["Image"], self.ok)
        self.assertEqual(rt["HostConfig"]["Memory"], 256 << 20)
        self.assertEqual(rt["HostConfig"]["NanoCpus"], 500000000)
        # the secret reached the container as a file, nowhere else
        ip = p["observed"]["roles"]["runtime"]["ip"]
        self.assertEqual(http_get("http://%s:8081/file?path=/run/claw/"
                                  "secrets/LLM_KEY" % ip), (200, value))
        gw_ip = p["observed"]["roles"]["gateway"]["ip"]
        self.assertNotEqual(http_get("http://%s:8081/file?path=/run/claw/"
                                     "secrets/LLM_KEY" % gw_ip)[0], 200)
        raw = self.env.docker("inspect", "claw-%s-runtime" % slug,
                              "claw-%s-gateway" % slug)
        self.assertNotIn(value, raw)
        self.assertNotIn(value, self.all_logs())
        self.assertNotIn(self.env.password, self.all_logs())
        # released once (audited), not on every poll
        time.sleep(1.5)
        rel = [e for e in self.admin.get("/v1/audit?limit=200")
               .json()["items"] if e["action"] == "secret.release" and
               e["tenant_id"] == d["tenant_id"]]
        self.assertEqual(len(rel), 1, rel)
        # a new secret version reaches the node (released again)
        value2 = "sk-" + secrets.token_hex(16)
        self.admin.put("/v1/tenants/%s/secrets/LLM_KEY" % slug,
                       {"value": value2})
        self.fleet.wait(lambda: http_get(
            "http://%s:8081/file?path=/run/claw/secrets/LLM_KEY" % ip)
            == (200, value2), 30, "new secret version on the node")
        # listed, newest first
        items = self.admin.get("/v1/tenants/%s/deployments" % slug).json()
        self.assertEqual(items["items"][0]["id"], dep["id"])
        self.assertEqual(self.admin.delete("/v1/tenants/%s/deployment" %
                                           slug).status, 204)
        self.fleet.wait(lambda: not self.node.running(slug), 30,
                        "containers removed")

    def test_pinned_digest(self):
        slug = uniq("pin")
        self.fleet.tenant(slug)
        dep = self.fleet.deploy(slug, {"gateway_image": self.ok,
                                       "runtime_image": self.ok,
                                       "plan": {"cpus_milli": 250,
                                                "memory_mb": 64,
                                                "pids": 64}})
        self.assertEqual(dep["images"], {"gateway": self.ok,
                                         "runtime": self.ok})
        self.fleet.wait_dep(slug, dep["id"], "healthy")
        gw = self.env.inspect("claw-%s-gateway" % slug)
        self.assertEqual(gw["Config"]["Image"], self.ok)
        self.assertEqual(gw["HostConfig"]["PidsLimit"], 64)
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    def test_wrong_registry_credentials(self):
        slug = uniq("badreg")
        self.fleet.tenant(slug)
        wrong = "wrong-" + secrets.token_hex(12)
        self.admin.put("/v1/tenants/%s/secrets/REG_PW" % slug,
                       {"value": wrong})
        dep = self.fleet.deploy(slug, {
            "gateway_image": self.ok_tag + "-x", "runtime_image":
            self.ok_tag + "-x", "registry": {
                "username": self.env.user, "server": self.env.registry,
                "password_secret": "REG_PW"}})
        d = self.fleet.wait_dep(slug, dep["id"], "failed")
        self.assertRegex(d["reason"], "(?i)unauthori[sz]ed|authentication")
        for text in (d["reason"], self.all_logs(),
                     json.dumps(self.fleet.placement(slug))):
            self.assertNotIn(wrong, text)
            self.assertNotIn(self.env.password, text)
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    def test_suspend_resume_and_rollback(self):
        slug = uniq("kill")
        self.fleet.tenant(slug)
        v1 = self.fleet.deploy(slug, {"gateway_image": self.ok,
                                      "runtime_image": self.ok})
        self.fleet.wait_dep(slug, v1["id"], "healthy")
        gw_started = self.env.inspect("claw-%s-gateway" % slug)["State"][
            "StartedAt"]
        # kill switch: the runtime stops, the gateway stays and is told
        t0 = time.time()
        r = self.admin.post("/v1/tenants/%s/suspend" % slug)
        self.assertEqual(r.status, 200, r)
        self.fleet.wait(lambda: not self.env.inspect(
            "claw-%s-runtime" % slug)["State"]["Running"], 30,
            "runtime stopped")
        print("suspend to runtime stopped: %.2f s" % (time.time() - t0),
              file=sys.stderr)
        gw = self.env.inspect("claw-%s-gateway" % slug)
        self.assertTrue(gw["State"]["Running"])
        self.assertEqual(gw["State"]["StartedAt"], gw_started)
        port = self.fleet.placement(slug)["observed"]["roles"]["gateway"][
            "port"]
        code, body = http_get("http://127.0.0.1:%d/file?path=/etc/claw/"
                              "gateway.json" % port)
        self.assertEqual(json.loads(body)["suspended"], True)
        self.assertEqual(self.admin.post("/v1/tenants/%s/resume" % slug)
                         .status, 200)
        self.fleet.wait(lambda: self.fleet.placement(slug)["phase"] ==
                        "healthy" and self.env.inspect(
                            "claw-%s-runtime" % slug)["State"]["Running"],
                        60, "resumed")
        # a bad version fails; rollback redeploys the last healthy one
        v2 = self.fleet.deploy(slug, {"gateway_image": self.crash,
                                      "runtime_image": self.crash})
        d2 = self.fleet.wait_dep(slug, v2["id"], "failed")
        self.assertIn("exit", d2["reason"])
        r = self.admin.post("/v1/tenants/%s/rollback" % slug)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.json()["rollback_of"], v1["id"])
        self.fleet.wait_dep(slug, r.json()["id"], "healthy")
        self.assertEqual(self.env.inspect("claw-%s-runtime" % slug)
                         ["Config"]["Image"], self.ok)
        actions = [e["action"] for e in self.admin.get(
            "/v1/audit?limit=200").json()["items"]
            if e["target"] == "tenants/" + slug]
        for a in ("deploy", "tenant.suspend", "tenant.resume", "rollback"):
            self.assertIn(a, actions)
        # stop and start
        self.admin.post("/v1/tenants/%s/stop" % slug)
        self.fleet.wait(lambda: not self.node.running(slug), 30, "stopped")
        self.admin.post("/v1/tenants/%s/start" % slug)
        self.fleet.wait(lambda: self.fleet.placement(slug)["phase"] ==
                        "healthy", 60, "started")
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    # ---- scheduling

    def test_labels_and_pending_with_reason(self):
        slug = uniq("sch")
        self.fleet.tenant(slug)
        dep = self.fleet.deploy(slug, {"gateway_image": self.ok,
                                       "runtime_image": self.ok,
                                       "node_labels": {"zone": "b"}})
        p = self.fleet.placement(slug)
        self.assertIsNone(p["node_id"])
        self.assertIn("labels", p["reason"])
        self.assertEqual(self.fleet.dep(slug, dep["id"])["phase"], "pending")
        dep = self.fleet.deploy(slug, {"gateway_image": self.ok,
                                       "runtime_image": self.ok,
                                       "plan": {"cpus_milli": 256000}})
        p = self.fleet.placement(slug)
        self.assertIsNone(p["node_id"])
        self.assertIn("room", p["reason"])
        dep = self.fleet.deploy(slug, {"gateway_image": self.ok,
                                       "runtime_image": self.ok,
                                       "node_labels": {"zone": "a"}})
        self.assertEqual(self.fleet.placement(slug)["node_name"],
                         self.node.name)
        self.fleet.wait_dep(slug, dep["id"], "healthy")
        node = self.admin.get("/v1/nodes/" + self.node.name).json()
        self.assertGreaterEqual(node["allocated"]["cpus_milli"], 500)
        self.assertEqual(node["labels"], {"zone": "a", "disk": "ssd"})
        # cordoned: a new deploy elsewhere waits; uncordon places it
        self.admin.post("/v1/nodes/%s/cordon" % self.node.name)
        other = uniq("sch2")
        self.fleet.tenant(other)
        self.fleet.deploy(other, {"gateway_image": self.ok,
                                  "runtime_image": self.ok})
        self.assertIn("no ready node", self.fleet.placement(other)["reason"])
        self.admin.post("/v1/nodes/%s/uncordon" % self.node.name)
        self.fleet.wait(lambda: self.fleet.placement(other)["node_name"] ==
                        self.node.name, 30, "placed after uncordon")
        self.admin.delete("/v1/tenants/%s/deployment" % slug)
        self.admin.delete("/v1/tenants/%s/deployment" % other)

    # ---- agent config as code

    def test_workspace_pinned_to_commit(self):
        repo = tempfile.mkdtemp(prefix="claw-ws-")
        self.addCleanup(subprocess.run, ["rm", "-rf", repo])
        git, first = init_repo(repo, "be kind\n")
        slug = uniq("ws")
        self.fleet.tenant(slug)
        dep = self.fleet.deploy(slug, {
            "gateway_image": self.ok, "runtime_image": self.ok,
            "runtime_config": {"model": "m"},
            "workspace": {"repo": repo, "ref": "main"}})
        # answered at once, resolving; the commit is pinned off the
        # request thread
        self.assertEqual(dep["phase"], "resolving")
        dep = self.resolved(slug, dep["id"])
        self.assertEqual(dep["spec"]["workspace"]["commit"], first)
        self.assertEqual(dep["spec"]["runtime_config"]["workspace"],
                         {"repo": repo, "commit": first})
        self.fleet.wait_dep(slug, dep["id"], "healthy")
        ip = self.fleet.placement(slug)["observed"]["roles"]["runtime"]["ip"]
        code, body = http_get("http://%s:8081/file?path=/etc/claw/"
                              "runtime.json" % ip)
        self.assertEqual(json.loads(body), {"model": "m", "workspace": {
            "repo": repo, "commit": first}})
        # the ref moves on; the deployment stays pinned, a new one follows
        git("commit", "-q", "--allow-empty", "-m", "two")
        second = git("rev-parse", "HEAD")
        self.assertEqual(self.fleet.dep(slug, dep["id"])["spec"]
                         ["workspace"]["commit"], first)
        dep2 = self.fleet.deploy(slug, {
            "gateway_image": self.ok, "runtime_image": self.ok,
            "workspace": {"repo": repo, "ref": "main"}})
        dep2 = self.resolved(slug, dep2["id"])
        self.assertEqual(dep2["spec"]["workspace"]["commit"], second)
        dep3 = self.fleet.deploy(slug, {
            "workspace": {"repo": repo, "ref": "no-such-branch"}})
        dep3 = self.resolved(slug, dep3["id"])
        self.assertEqual((dep3["phase"], dep3["reason"]),
                         ("failed", "workspace: the repository has no "
                          "branch or tag 'no-such-branch'"))
        self.admin.delete("/v1/tenants/%s/deployment" % slug)

    def resolved(self, slug, dep_id):
        """The deployment once its workspace left "resolving"."""
        return self.fleet.wait(
            lambda: (lambda d: d if d["phase"] != "resolving" else None)(
                self.fleet.dep(slug, dep_id)), 30,
            what="the workspace of %s resolved" % dep_id)

    # ---- authorisation

    def test_authorisation(self):
        a, b = uniq("ta"), uniq("tb")
        self.fleet.tenant(a)
        self.fleet.tenant(b)
        _, ta = self.fleet.cp.new_token("tenant", tenant=a)
        ca = self.fleet.client(ta)
        dep = self.fleet.deploy(a, {"gateway_image": self.ok,
                                    "runtime_image": self.ok}, client=ca)
        self.assertEqual(ca.get("/v1/tenants/%s/deployments/%s" %
                                (a, dep["id"])).status, 200)
        for method, path in (("POST", "deploy"), ("GET", "deployments"),
                             ("POST", "suspend"), ("POST", "rollback"),
                             ("GET", "placement"), ("GET", "logs")):
            r = ca.request(method, "/v1/tenants/%s/%s" % (b, path))
            self.assertEqual(r.status, 404, (path, r))
        self.assertEqual(ca.get("/v1/nodes").status, 403)
        self.assertEqual(ca.get("/v1/agent/assignments").status, 403)
        # a node sees only its own assignments
        tok = self.fleet.join_token()
        r = Client(self.fleet.cp.url).post("/v1/nodes/join", {
            "token": tok, "name": uniq("other"), "cpus_milli": 1,
            "memory_mb": 1})
        other_id = r.json()["node_id"]
        other = self.fleet.client(r.json()["credential"])
        self.fleet.wait_dep(a, dep["id"], "healthy")
        r = other.get("/v1/agent/assignments?generation=0")
        self.assertEqual(r.json()["tenants"], [])
        self.assertEqual(other.post("/v1/tenants/%s/deploy" % a).status, 403)
        # its reports about tenants it does not run are ignored
        other.post("/v1/agent/status", {"tenants": [{
            "tenant": a, "generation": 1, "phase": "failed",
            "reason": "forged"}]})
        self.assertEqual(self.fleet.placement(a)["phase"], "healthy")
        self.admin.post("/v1/nodes/%s/revoke" % other_id)
        self.admin.delete("/v1/tenants/%s/deployment" % a)

    # ---- events and logs

    def test_events_and_logs(self):
        slug = uniq("ev")
        self.fleet.tenant(slug)
        got = []

        def follow():
            req = urllib.request.Request(
                self.fleet.cp.url + "/v1/events?tenant=" + slug,
                headers={"Authorization": "Bearer " +
                         self.fleet.cp.admin_token})
            with urllib.request.urlopen(req, timeout=90) as resp:
                for line in resp:
                    line = line.decode().strip()
                    if line.startswith("data: "):
                        got.append(json.loads(line[6:]))
                        if any(e["type"] == "deployment.phase" and
                               e["data"]["phase"] == "healthy" for e in got):
                            return
        th = threading.Thread(target=follow, daemon=True)
        th.start()
        time.sleep(0.5)
        dep = self.fleet.deploy(slug, {"gateway_image": self.ok,
                                       "runtime_image": self.ok})
        self.fleet.wait_dep(slug, dep["id"], "healthy")
        th.join(30)
        types = [e["type"] for e in got]
        self.assertIn("deployment.created", types)
        self.assertIn("tenant.phase", types)
        self.assertTrue(all(e["tenant"] == slug for e in got))
        # the log relay: lines the runtime writes come back over SSE
        ip = self.fleet.placement(slug)["observed"]["roles"]["runtime"]["ip"]
        word = "hello-" + secrets.token_hex(4)
        http_get("http://%s:8081/say?text=%s" % (ip, word))
        req = urllib.request.Request(
            self.fleet.cp.url + "/v1/tenants/%s/logs?tail=20" % slug,
            headers={"Authorization": "Bearer " +
                     self.fleet.cp.admin_token})
        with urllib.request.urlopen(req, timeout=60) as resp:
            text = resp.read().decode()
        self.assertIn(word, text)
        self.assertIn("event: end", text)
        # follow: a line written later arrives
        word2 = "later-" + secrets.token_hex(4)
        req = urllib.request.Request(
            self.fleet.cp.url + "/v1/tenants/%s/logs?tail=1&follow=1" % slug,
            headers={"Authorization": "Bearer " +
                     self.fleet.cp.admin_token})
        with urllib.request.urlopen(req, timeout=60) as resp:
            threading.Timer(1.0, lambda: http_get(
                "http://%s:8081/say?text=%s" % (ip, word2))).start()
            buf = ""
            while word2 not in buf:
                line = resp.readline().decode()
                self.assertTrue(line, "stream ended early")
                buf += line
        self.admin.delete("/v1/tenants/%s/deployment" % slug)


class TwoNodes(unittest.TestCase):
    """Node loss: tenants move to the other node; the lost node, back,
    stops what moved (fencing by generation)."""

    def test_node_loss_and_return(self):
        env_a = DockerEnv()
        env_b = DockerEnv("node2")
        ok = env_a.build_image(HEALTHSRV, "claw-test/fleet2:ok-" +
                               secrets.token_hex(3))
        pg = PgCluster().start()
        fleet = Fleet(pg, env_a)
        try:
            a = fleet.agent(env_a, uniq("na"))
            b = fleet.agent(env_b, uniq("nb"))
            fleet.admin.post("/v1/nodes/%s/cordon" % b.name)
            tenants = [uniq("t%d" % i) for i in range(3)]
            for t in tenants:
                fleet.tenant(t)
                d = fleet.deploy(t, {"gateway_image": ok,
                                     "runtime_image": ok})
                fleet.wait_dep(t, d["id"], "healthy")
                self.assertEqual(fleet.placement(t)["node_name"], a.name)
            self.assertEqual(fleet.admin.post("/v1/nodes/%s/uncordon" %
                                              b.name).status, 200)
            # node A is lost (its containers keep running on engine A)
            a.kill()
            for t in tenants:
                fleet.wait_healthy_on(t, b.name, 90)
                self.assertEqual(len(b.running(t)), 2)
            nodes = {n["name"]: n for n in fleet.admin.get("/v1/nodes")
                     .json()["items"]}
            self.assertEqual(nodes[a.name]["status"], "down")
            # A comes back: it stops what moved, so nothing runs twice
            a.start()
            fleet.wait(lambda: all(not a.running(t) for t in tenants), 60,
                       "moved tenants stopped on the returning node")
            fleet.wait(lambda: {n["name"]: n["status"] for n in
                                fleet.admin.get("/v1/nodes").json()["items"]}
                       [a.name] == "ready", 30, "node A ready again")
            for t in tenants:
                self.assertEqual(len(b.running(t)), 2)
                self.assertEqual(a.running(t), [])
            # drain B: tenants move to A one at a time, each healthy there
            r = fleet.admin.post("/v1/nodes/%s/drain" % b.name)
            self.assertEqual(r.status, 200)
            for t in tenants:
                fleet.wait_healthy_on(t, a.name, 120)
            fleet.wait(lambda: all(not b.running(t) for t in tenants), 60,
                       "drained")
            actions = [e["action"] for e in fleet.admin.get(
                "/v1/audit?limit=200").json()["items"]]
            for act in ("node.drain", "node.down", "node.up", "tenant.move"):
                self.assertIn(act, actions)
        finally:
            fleet.close()
            pg.stop()
            env_b.stop_engine()


if __name__ == "__main__":
    unittest.main(verbosity=2)
