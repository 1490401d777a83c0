"""Control-plane replicas over one PostgreSQL (issue 15, point 6): three
claw-controlplane daemons, fake nodes of the agent API (cli/fakenode.py)
and, for the failover of a node agent, a real claw-node-agent with no
Docker engine (it joins, polls and sends heartbeats all the same).

Proves:
- the relays are not one replica's memory (controlplane/relay.h): a log
  stream asked for on replica A is handed to the node by its long poll on
  B, the node posts the log to C, and A's client gets it, ended; the
  request's row is deleted once the stream ends, and once the client goes
  away the node is told 410 log_request_gone; a client that does not read
  keeps at most 1 MiB of chunks waiting, then the node is told 410 and the
  stream ends;
- an approvals call made on A (list) and on C (decide) is handed over by
  the node's long poll on B and answered there; the caller gets the
  runtime's answer and no row is left;
- killing (SIGKILL) the replica that holds the sweep lock moves the sweeps
  to another: a deploy only a sweep can place (its tenant waited homeless
  while every node was cordoned) is placed and healthy through another
  replica; the time from the kill is measured and printed (target 10 s);
  deploys sent to the killed replica as it died are none of them left
  half-done (each is healthy or superseded once the sweeps go on);
- a node's long poll is woken on whichever replica it waits, by its own
  node's changes only (test_e, with re-checks off: NOTIFY claw_wake
  'node:ID', migrations/0020_node_wake.sql);
- a node agent given two control-plane URLs keeps sending heartbeats
  after the first dies; clawctl given two (repeated --url, or a comma
  list) answers through the second.
"""

import os
import subprocess
import sys
import threading
import time
import unittest
import urllib.request
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from clawtest.cp import build_dir  # noqa: E402
from clawtest.docker import AgentProcess  # noqa: E402
from clawtest.http import Client  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from replicas import IMAGES, Replicas  # noqa: E402  (puts cli/ on the path)
from fakenode import FakeApprovals, FakeNode  # noqa: E402

CLAWCTL = os.path.join(build_dir(), "cli", "clawctl")
DB = "replicas"


class RelayNode(FakeNode):
    """A fake node whose long poll goes to one replica and whose log
    chunks go to another (log_to): each log request it is handed is
    answered with the lines of self.log_lines, then ended."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.log_to = self.api
        self.log_lines = b"line one\nline two\n"
        self.log_requests = []
        self.log_answers = {}  # id -> statuses of the posts
        self.serve = True  # False: requests are recorded, not answered

    def assignments(self, wait=0):
        doc = super().assignments(wait)
        for req in doc.get("logs", []):
            self.log_requests.append(req)
            if self.serve:
                    threading.Thread(target=self.serve_log, args=(req,),
                                 daemon=True).start()
        return doc

    def serve_log(self, req):
        out = self.log_answers.setdefault(req["id"], [])
        for q, data in (("", self.log_lines), ("?end=1", b"")):
            r = self.log_to.request("POST", "/v1/agent/logs/%s%s" %
                                    (req["id"], q), data,
                                    {"Content-Type": "text/plain"})
            out.append(r.status)


def sse_events(url, token, until_event="end", timeout=60):
    """The events of an SSE stream, [(event, data)] (data lines joined
    by newlines), read until until_event or the stream ends."""
    req = urllib.request.Request(url, headers={
        "Authorization": "Bearer " + token})
    out, event, data = [], None, []
    with urllib.request.urlopen(req, timeout=timeout) as f:
        for raw in f:
            line = raw.decode().rstrip("\n")
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") or line == "data:":
                data.append(line[6:])
            elif not line and event:
                out.append((event, "\n".join(data)))
                if event == until_event:
                    break
                event, data = None, []
    return out


class Replicas3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = PgCluster().start()
        try:
            # long polls are woken by NOTIFY only (no re-check within a
            # test's time): what test_e proves
            cls.cl = Replicas(cls.pg, DB, n=3, extra_args=[
                "--long-poll-recheck-ms", "600000"]).start()
        except Exception:
            cls.pg.stop()
            raise
        cls.a, cls.b, cls.c = cls.cl.cps
        r = cls.cl.client(cls.a).post("/v1/nodes/join-tokens",
                                      {"ttl_s": 600})
        cls.node = RelayNode(cls.b.url, r.json()["token"], "rep-node")
        cls.node.log_to = Client(cls.c.url, cls.node.api.token)
        cls.runtimes = FakeApprovals()
        cls.node.rpc_handler = cls.runtimes
        cls.stops = [cls.node.autopilot(interval=0.1)]
        cls.deploy(cls.cl.client(cls.a), "rep-t", "rep-node")

    @classmethod
    def tearDownClass(cls):
        try:
            for s in cls.stops:
                s.set()
            cls.cl.stop()
        finally:
            cls.pg.stop()

    @classmethod
    def deploy(cls, client, slug, node_name):
        assert client.post("/v1/tenants", {"slug": slug,
                                           "name": slug}).status == 201
        r = client.post("/v1/tenants/%s/deploy" % slug, IMAGES)
        assert r.status == 202, r
        wait_for(lambda: client.get("/v1/tenants/%s/placement" % slug)
                 .json().get("node_name") == node_name, timeout=60,
                 what=slug + " placed on " + node_name)

    def unserved_stream(self):
        """A follow stream opened on A whose request the node (polling B)
        takes and does not answer by itself: (the open response, the
        request's id)."""
        before = len(self.node.log_requests)
        self.node.serve = False
        req = urllib.request.Request(
            self.a.url + "/v1/tenants/rep-t/logs?follow=1",
            headers={"Authorization": "Bearer " + self.cl.token})
        f = urllib.request.urlopen(req, timeout=60)
        try:
            wait_for(lambda: len(self.node.log_requests) > before, 30,
                     what="the log request handed over")
        except Exception:
            f.close()
            raise
        finally:
            self.node.serve = True
        return f, self.node.log_requests[before]["id"]

    def rows(self, sql):
        return self.pg.psql(sql, dbname=DB)

    def test_a_log_stream_across_replicas(self):
        before = len(self.node.log_requests)
        ev = sse_events(self.a.url + "/v1/tenants/rep-t/logs?tail=5",
                        self.cl.token)
        self.assertEqual(ev, [("log", "line one\nline two\n"),
                              ("end", "{}")])
        req = self.node.log_requests[before]
        self.assertEqual((req["tenant"], req["tail"]), ("rep-t", 5))
        answers = self.node.log_answers[req["id"]]
        wait_for(lambda: len(answers) == 2, 30, what="both posts answered")
        self.assertEqual(answers, [204, 204])
        # the stream ended: its row goes
        wait_for(lambda: self.rows("SELECT count(*) FROM relay_calls "
                                   "WHERE id = '%s'" % req["id"]) == "0",
                 30, what="the log request's row deleted")

    def test_b_log_client_gone(self):
        """The client goes away: the node's posts (to C) turn 410 and the
        request's row is gone."""
        f, rid = self.unserved_stream()
        f.close()

        def refused():
            r = self.node.log_to.request("POST", "/v1/agent/logs/" + rid,
                                         b"more\n",
                                         {"Content-Type": "text/plain"})
            self.assertIn(r.status, (204, 410), r)
            return r if r.status == 410 else None
        r = wait_for(refused, 60, interval=0.2, what="410 once gone")
        self.assertEqual(r.error_code(), "log_request_gone")
        self.assertEqual(self.rows("SELECT count(*) FROM relay_calls "
                                   "WHERE id = '%s'" % rid), "0")

    def test_c_approvals_across_replicas(self):
        self.runtimes.add("rep-t", "apr_rep1")
        r = self.cl.client(self.a).get("/v1/tenants/rep-t/approvals")
        self.assertEqual(r.status, 200, r)
        self.assertIn("apr_rep1", [x["id"] for x in r.json()["approvals"]])
        r = self.cl.client(self.c).post(
            "/v1/tenants/rep-t/approvals/apr_rep1", {"decision": "approve"})
        self.assertEqual((r.status, r.json().get("state")),
                         (200, "approved"), r)
        ops = [c["op"] for c in self.node.rpc_calls
               if c.get("approval") == "apr_rep1"]
        self.assertEqual(ops, ["approvals.decide"])
        wait_for(lambda: self.rows("SELECT count(*) FROM relay_calls "
                                   "WHERE kind = 'rpc'") == "0", 30,
                 what="the calls' rows deleted")

    def test_d_log_client_slow(self):
        """A client that does not read: the chunks not read yet stay
        bounded; past 1 MiB of them the node gets 410 and the stream
        ends."""
        f, rid = self.unserved_stream()
        try:
            chunk = (b"x" * 1023 + b"\n") * 512  # 512 KiB
            for _ in range(256):  # socket buffers first, then the rows
                r = self.node.log_to.request(
                    "POST", "/v1/agent/logs/" + rid, chunk,
                    {"Content-Type": "text/plain"})
                if r.status != 204:
                    break
            self.assertEqual((r.status, r.error_code()),
                             (410, "log_request_gone"))
            unread = self.rows("SELECT coalesce(sum(length(data)), 0) "
                               "FROM relay_chunks WHERE call_id = '%s'" %
                               rid)
            self.assertLessEqual(int(unread), (1 << 20) + 2)  # + end's {}
            tail = b""
            for block in iter(lambda: f.read(1 << 16), b""):
                tail = (tail + block)[-64:]
            self.assertTrue(tail.endswith(b"event: end\ndata: {}\n\n"),
                            tail)
        finally:
            f.close()

    def test_e_long_poll_woken_by_its_node_only(self):
        """A deploy through A wakes the node's long poll waiting on B at
        once (NOTIFY claw_wake 'node:ID'; the replicas re-check only every
        600 s here), while a long poll of another node waiting on C is
        not answered: it runs to its end, 204."""
        quiet = FakeNode(self.c.url, self.cl.client(self.a).post(
            "/v1/nodes/join-tokens", {"ttl_s": 600}).json()["token"],
            "rep-quiet")
        self.stops.append(quiet.autopilot(interval=0.1))
        r = self.cl.client(self.a).post("/v1/nodes/%s/cordon" % quiet.id)
        self.assertEqual(r.status, 200, r)
        gen = self.node.api.get("/v1/agent/assignments?generation=0") \
            .json()["generation"]
        qgen = quiet.api.get("/v1/agent/assignments?generation=0") \
            .json()["generation"]
        polls = {}

        def poll(name, client, have, wait):
            polls[name] = client.get("/v1/agent/assignments?generation=%d"
                                     "&wait=%d" % (have, wait))
        # the node's long poll waits 120 s unless woken; its client gives
        # up at 90
        ts = [threading.Thread(target=poll, args=a) for a in (
            ("node", Client(self.b.url, self.node.api.token, timeout=90),
             gen, 120),
            ("quiet", Client(self.c.url, quiet.api.token), qgen, 3))]
        for t in ts:
            t.start()
        time.sleep(0.5)  # both waiting (a deploy before is answered too)
        r = self.cl.client(self.a).post("/v1/tenants/rep-t/deploy", IMAGES)
        self.assertEqual(r.status, 202, r)
        for t in ts:
            t.join()
        self.assertEqual(polls["node"].status, 200, polls["node"])
        self.assertGreater(polls["node"].json()["generation"], gen)
        self.assertEqual(polls["quiet"].status, 204, polls["quiet"])

    def test_z_sweep_leader_killed(self):
        cl = self.cl
        leader = cl.leader()
        other = [cp for cp in cl.alive() if cp is not leader][0]
        oc = cl.client(other)
        # a node that talks only to a survivor, and a real agent given
        # the leader first
        r = oc.post("/v1/nodes/join-tokens", {"ttl_s": 600})
        n2 = FakeNode(other.url, r.json()["token"], "rep-node2")
        self.stops.append(n2.autopilot(interval=0.1))
        agent = self.start_agent(leader, other)
        cl.homeless(other, [self.node.id, n2.id, agent["id"]], "rep-home")
        # deploys sent to the leader as it dies
        burst = ["rep-burst-%d" % i for i in range(6)]
        for slug in burst:
            self.assertEqual(oc.post("/v1/tenants", {"slug": slug,
                                                     "name": slug}).status,
                             201)
        sent, threads, hb = [], [], []

        def fire(lc):
            for slug in burst:
                try:
                    sent.append((slug, lc.post("/v1/tenants/%s/deploy" %
                                               slug, IMAGES).status))
                except OSError:
                    sent.append((slug, None))

        def before_kill(dying, survivor):
            self.assertIs(dying, leader)
            hb.append(self.last_heartbeat(oc, agent["id"]))
            threads.append(threading.Thread(target=fire,
                                             args=(cl.client(dying),)))
            threads[0].start()
            wait_for(lambda: sent, 30, what="a deploy sent")
        secs, _, _ = cl.failover(n2, "rep-home", before_kill)
        threads[0].join(60)
        self.assertIsNot(cl.leader(), leader)  # a live one sweeps now
        sys.stderr.write("replica failover (sweep leader killed until a "
                         "deploy placed by another): %.2f s (target "
                         "10 s)\n" % secs)
        # no deployment half-done: each is healthy or superseded
        wait_for(lambda: self.rows(
            "SELECT count(*) FROM deployments d JOIN tenants t ON "
            "t.id = d.tenant_id WHERE t.slug LIKE 'rep-burst-%' AND "
            "d.phase NOT IN ('healthy', 'superseded')") == "0", 60,
            what="every burst deployment finished")
        # the node agent: heartbeats through the second URL
        wait_for(lambda: self.last_heartbeat(oc, agent["id"]) > hb[0], 60,
                 what="a heartbeat after the kill")
        self.assertIn("trying the next replica",
                      agent["proc"].log_text())
        # clawctl: repeated --url, and a comma list
        env = dict(os.environ, CLAW_TOKEN=cl.token)
        env.pop("CLAW_URL", None)
        for urls in (["--url", leader.url, "--url", other.url],
                     ["--url", leader.url + "," + other.url]):
            r = subprocess.run([CLAWCTL] + urls + ["tenants", "list",
                                                   "-o", "json"],
                               capture_output=True, text=True, env=env,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("rep-home", r.stdout)
            self.assertIn("trying the next replica", r.stderr)

    def last_heartbeat(self, client, node_id):
        return client.get("/v1/nodes/" + node_id).json()["last_heartbeat"]

    def start_agent(self, first, second):
        r = self.cl.client(second).post("/v1/nodes/join-tokens",
                                        {"ttl_s": 600})
        env = SimpleNamespace(socket="/nonexistent/docker.sock",
                              docker=lambda *a, **k: None)
        ag = AgentProcess(env, name="rep-agent")
        self.addCleanup(ag.remove_files)
        self.addCleanup(ag.stop)
        ag.launch(["--control-plane", first.url + "," + second.url,
                   "--heartbeat-ms", "300"],
                  env=dict(os.environ, CLAW_JOIN_TOKEN=r.json()["token"]))
        oc = self.cl.client(second)

        def joined():
            for n in oc.get("/v1/nodes").json()["items"]:
                if n["name"] == "rep-agent" and n["status"] == "ready":
                    return n["id"]
            return None
        return {"id": wait_for(joined, 60, what="the agent joined"),
                "proc": ag}


if __name__ == "__main__":
    unittest.main(verbosity=2)
