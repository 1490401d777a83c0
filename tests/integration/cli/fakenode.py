"""fakenode - a node agent reduced to its calls of the control plane's agent
API (join, heartbeat, long-polled assignments, status reports), so tests of
clients (clawctl, the dashboard) can produce every phase a real node agent
reports, on cue. The node agent's own tests cover Docker.

    node = FakeNode(cp_url, join_token, "node-a")
    node.tenant("acme")             # its assignment, or None
    node.report("acme", "healthy")  # an observed phase
    FakeNode(url, tok, "b", edge_address="10.0.0.2:8443")  # reports an edge,
                                    # and polls as one (edge=1)
    stop = node.autopilot()         # heartbeat, and report pulling, healthy
    stop.set()                      # for whatever is assigned, until set
    node.rpc_handler = fn           # answers relayed approvals calls:
                                    # fn(call) -> (status, body), or None
                                    # to leave the call unanswered
    node.rpc_handler = FakeApprovals()  # plays the tenants' runtimes
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
        # reported in every heartbeat, as --edge-advertise makes the agent;
        # such a node runs an edge, so it long-polls with edge=1
        self.edge_address = edge_address
        self.edge = edge_address is not None
        self.last_error = None  # what the autopilot last ran into
        self.api = Client(cp_url, j["credential"])
        # the approvals relay (controlplane/api/approvals.c): calls the
        # long poll handed over, in order, and who answers them
        self.rpc_handler = None
        self.rpc_calls = []
        self.heartbeat()

    def heartbeat(self):
        body = {"cpus_milli": 4000, "memory_mb": 8192, "version": "test"}
        if self.edge_address:
            body["edge_address"] = self.edge_address
        r = self.api.post("/v1/agent/heartbeat", body)
        assert r.status in (200, 204), r

    def poll_path(self, generation=0, wait=0):
        """The agent's long-poll path, edge=1 for a node with an edge."""
        return "/v1/agent/assignments?generation=%d&wait=%d%s" % (
            generation, wait, "&edge=1" if self.edge else "")

    def assignments(self, wait=0):
        r = self.api.get(self.poll_path(0, wait))
        assert r.status == 200, r
        doc = r.json()
        for call in doc.get("rpc", []):
            self.rpc_calls.append(call)
            threading.Thread(target=self.rpc_answer, args=(call,),
                             daemon=True).start()
        return doc

    def rpc_answer(self, call):
        """Answer a relayed call as the node agent does: {status, body}
        posted to /v1/agent/rpc/ID (none without a handler, or when it
        says None)."""
        answer = self.rpc_handler(call) if self.rpc_handler else None
        if answer is not None:
            status, body = answer
            self.api.post("/v1/agent/rpc/" + call["id"],
                          {"status": status, "body": body})

    def tenant(self, slug):
        for t in self.assignments()["tenants"]:
            if t["tenant"] == slug:
                return t
        return None

    def report(self, slug, phase, reason=None, **more):
        """more: other fields of the tenant's entry, say channels (its
        gateway's connection state of each channel)."""
        t = self.tenant(slug)
        if t is None:
            return  # taken off this node meanwhile: nothing to report
        entry = dict(more, tenant=slug, phase=phase,
                     generation=t["generation"])
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


def rt_error(code, message):
    return {"error": {"code": code, "message": message,
                      "request_id": "rt"}}


class FakeApprovals:
    """The tenants' runtimes' approvals APIs (docs/contracts.md) as a
    node relays them: set it as a FakeNode's rpc_handler. A request whose
    tool is "silent" is taken and never answered."""

    def __init__(self):
        self.lock = threading.Lock()
        self.recs = {}  # tenant -> {id: record}

    def add(self, tenant, aid, state="pending", tool="shell.exec"):
        with self.lock:
            self.recs.setdefault(tenant, {})[aid] = {
                "id": aid, "tool": tool, "category": "shell_exec",
                "state": state, "arguments": {"password": "[redacted]"},
                "applied": False}

    def __call__(self, call):
        with self.lock:
            recs = self.recs.get(call["tenant"], {})
            if call["op"] == "approvals.list":
                return 200, {"approvals": list(recs.values()), "pending":
                             sum(r["state"] == "pending"
                                 for r in recs.values())}
            rec = recs.get(call["approval"])
            if rec is None:
                return 404, rt_error("not_found", "no such approval request")
            if rec["tool"] == "silent":
                return None  # taken, never answered
            if call["op"] == "approvals.get":
                return 200, dict(rec)
            if rec["state"] == "expired":
                return 409, rt_error("approval_expired", "expired")
            if rec["state"] != "pending":
                return 409, rt_error("approval_decided", "decided before")
            rec["state"] = ("approved" if call["decision"] == "approve"
                            else "denied")
            rec["decided_by"] = call["by"]
            return 200, dict(rec)
