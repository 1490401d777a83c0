"""fakenode - a node agent reduced to its calls of the control plane's agent
API (join, heartbeat, long-polled assignments, status reports), so tests of
clients (clawctl, the dashboard) can produce every phase a real node agent
reports, on cue. The node agent's own tests cover Docker.

    node = FakeNode(cp_url, join_token, "node-a")
    node.tenant("acme")             # its assignment, or None
    node.report("acme", "healthy")  # an observed phase
    FakeNode(url, tok, "b", edge_address="10.0.0.2:8443")  # reports an edge
    stop = node.autopilot()         # heartbeat, and report pulling, healthy
    stop.set()                      # for whatever is assigned, until set
"""

import threading
import time

from clawtest.http import Client


class FakeNode:
    """A node agent reduced to its API calls."""

    def __init__(self, cp_url, join_token, name, edge_address=None):
        r = Client(cp_url).post("/v1/nodes/join", {
            "token": join_token, "name": name, "cpus_milli": 4000,
            "memory_mb": 8192, "version": "test"})
        if r.status != 201:
            raise RuntimeError("join failed: %r" % r)
        j = r.json()
        self.id = j["node_id"]
        self.name = name
        # reported in every heartbeat, as --edge-advertise makes the agent
        self.edge_address = edge_address
        self.last_error = None  # what the autopilot last ran into
        self.api = Client(cp_url, j["credential"])
        self.heartbeat()

    def heartbeat(self):
        body = {"cpus_milli": 4000, "memory_mb": 8192, "version": "test"}
        if self.edge_address:
            body["edge_address"] = self.edge_address
        r = self.api.post("/v1/agent/heartbeat", body)
        assert r.status in (200, 204), r

    def assignments(self, wait=0):
        r = self.api.get("/v1/agent/assignments?generation=0&wait=%d" % wait)
        assert r.status == 200, r
        return r.json()

    def tenant(self, slug):
        for t in self.assignments()["tenants"]:
            if t["tenant"] == slug:
                return t
        return None

    def report(self, slug, phase, reason=None):
        t = self.tenant(slug)
        if t is None:
            return  # taken off this node meanwhile: nothing to report
        entry = {"tenant": slug, "phase": phase,
                 "generation": t["generation"]}
        if reason:
            entry["reason"] = reason
        r = self.api.post("/v1/agent/status", {"tenants": [entry]})
        assert r.status == 204, r

    def autopilot(self, interval=0.2):
        """In a thread, until the returned event is set: heartbeat (so the
        node stays ready), and report pulling then healthy for each new
        assignment."""
        stop = threading.Event()
        done = set()

        def run():
            while not stop.is_set():
                try:
                    self.heartbeat()
                    for t in self.assignments()["tenants"]:
                        key = (t["tenant"], t["deployment"],
                               t["generation"])
                        if key not in done:
                            done.add(key)
                            self.report(t["tenant"], "pulling")
                            self.report(t["tenant"], "healthy")
                except (OSError, AssertionError) as e:
                    # the control plane stopping under a late call: try
                    # again (or end with the test)
                    self.last_error = e
                time.sleep(interval)

        threading.Thread(target=run, daemon=True).start()
        return stop
