"""edgestack - real tenants behind a real edge, through the control plane,
shared by test_edge_e2e.py and bench/edge (stdlib only):

    st = EdgeStack(drain_ms=300)           # PostgreSQL, control plane
    slug = st.tenant()                     # created, secrets, deployed
    st.chat(slug, "hi")                    # reply text through the edge
    st.gateway_ip(slug)                    # the gateway on the edge network
    st.redeploy(slug) / st.rollback(slug)  # until the old pair is gone
    ch = Chatter(lambda text: st.chat(slug, text)).start()
    ...; ch.stop(); ch.sent, ch.failures, ch.duplicates, ch.mismatches
    st.close()

The pieces: claw-controlplane with --base-domain, one node agent joined
to it (test_edge_fleet's EdgeAgent: its own Caddy with the internal CA
and its own edge network) running the project's own gateway and runtime
images (stack.tenant_images), and the scripted LLM container on the
node's egress network, made before the agent starts. A tenant's gateway
serves the OpenAI-compatible endpoint only; its runtime uses the
scripted LLM, which answers "echo: TEXT", so a reply names the request
it belongs to. Every port is on 127.0.0.1 or a bridge of this engine.
"""

import json
import os
import secrets
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
for d in ("..", "../controlplane-fleet", "../node-agent"):
    p = os.path.normpath(os.path.join(HERE, d))
    if p not in sys.path:
        sys.path.insert(0, p)

from clawtest.docker import DockerEnv  # noqa: E402
from clawtest.edge import https_request, until, wait_edge  # noqa: E402
from clawtest.pg import PgCluster  # noqa: E402
from fleet import Fleet  # noqa: E402
import stack  # noqa: E402
from test_edge_fleet import EdgeAgent  # noqa: E402

BASE = "edge-e2e.test"
CHAT_TOKEN = stack.OPENAI_TOKEN
# The conversation every chat of a Chatter belongs to (the OpenAI
# endpoint's "user": one session, carried across the redeploys).
USER = "edge-e2e"


class EdgeNode(EdgeAgent):
    """test_edge_fleet's agent (its own Caddy, ports and edge network)
    with more arguments and an egress network made beforehand."""

    def __init__(self, fleet, env, name, egress, more=()):
        super().__init__(fleet, env, name)
        self.egress = egress
        self.more = list(more)

    def launch(self, source, extra=(), env=None):
        return super().launch(source, list(extra) + self.more, env)


def up_sh_defaults(dirname):
    """cp_extra for EdgeStack: what scripts/up.sh gives its control plane
    ("The fleet's default tenant configs"): the OpenAI-compatible endpoint
    and web chat, the provider (this stack's scripted LLM) through the
    gateway's egress proxy with its key by the secret name llm_api_key,
    and that key as the fleet's default secret. Files in dirname."""
    def write(name, text):
        path = os.path.join(dirname, name)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def extra(st):
        gw = write("gateway.json", json.dumps({
            "egress_allow": [st.llm.hostport],
            "channels": {"openai": {}, "webchat": {}}}))
        rt = write("runtime.json", json.dumps({
            "proxy": "http://gateway:3128",
            "providers": [{"name": "main", "kind": "openai",
                           "base_url": st.llm.base_url, "model": "scripted",
                           "api_key_secret": "llm_api_key"}]}))
        return ["--default-gateway-config", gw,
                "--default-runtime-config", rt,
                "--default-secret",
                "llm_api_key=" + write("llm_api_key", st.llm_key)]
    return extra


class EdgeStack:
    def __init__(self, drain_ms=300, cp_extra=(), env=None, images=None,
                 on_fleet=None, outside=None):
        """cp_extra: more flags of the control plane, or a function of
        the stack that gives them once the scripted LLM runs. env: the
        node's engine (default: the shared one); images: tenant_images
        already built; on_fleet(stack): called once the control plane
        runs, before the node agent starts (e.g. to move cp.url, the
        address the agent is given); outside: an outside.Outside the
        scripted LLM then runs in (stack.OutsideLLM) instead of its
        container on the egress network."""
        self.cleanups = []
        self.cp_extra = cp_extra
        self.env, self.images, self.on_fleet = env, images, on_fleet
        self.outside = outside
        try:
            self._start(drain_ms)
        except BaseException:
            self.close()
            raise

    def _start(self, drain_ms):
        self.env = self.env or DockerEnv()
        self.images = self.images or stack.tenant_images(self.env)
        self.pg = PgCluster().start()
        self.cleanups.append(self.pg.stop)
        tag = secrets.token_hex(3)
        self.egress = "claw-egress-edge-" + tag
        self.env.docker("network", "create", "--driver", "bridge", "--opt",
                        "com.docker.network.bridge.enable_icc=false",
                        "--label", "claw.managed=1", self.egress)
        self.cleanups.insert(0, lambda: self.env.docker(
            "network", "rm", self.egress, check=False))
        self.llm_key = "sk-llm-" + secrets.token_hex(12)
        if self.outside:
            self.llm = stack.OutsideLLM(self.outside, self.llm_key)
        else:
            self.llm = stack.ScriptedLLM(self.env,
                                         self.images["scripted-llm"],
                                         self.egress, self.llm_key)
        self.cleanups.insert(0, self.llm.close)
        self.fleet = Fleet(self.pg, self.env,
                           gateway_image=self.images["gateway"],
                           runtime_image=self.images["runtime"],
                           extra=["--base-domain", BASE] + list(
                               self.cp_extra(self) if callable(self.cp_extra)
                               else self.cp_extra))
        self.cleanups.insert(0, self.fleet.close)
        if self.on_fleet:
            self.on_fleet(self)
        self.node = EdgeNode(self.fleet, self.env, "edge-e2e-" + tag,
                             self.egress, ["--edge-drain-ms", str(drain_ms)])
        self.fleet.agents.append(self.node)
        self.node.start()
        self.fleet.wait(lambda: any(
            n["name"] == self.node.name and n["status"] == "ready"
            for n in self.fleet.admin.get("/v1/nodes").json()["items"]),
            30, "node ready")
        wait_edge(self.node, lambda e: e.get("state") == "ok", 60)
        self.root = self.node.caddy.local_root()

    def close_clean(self):
        """close, the control plane first stopped and checked to exit 0
        with no ASan/UBSan report."""
        try:
            self.fleet.cp.stop_clean()
        finally:
            self.close()

    def close(self):
        for fn in self.cleanups:
            try:
                fn()
            except Exception as e:  # keep cleaning up
                print("cleanup: %r" % e, file=sys.stderr)
        self.cleanups = []

    # ---------------------------------------------------------- tenants
    def body(self, slug):
        """A deploy body: the OpenAI endpoint (no per-sender rate limit:
        the client chats back to back as one sender), the scripted LLM,
        each secret to the container that needs it."""
        return {"gateway_config": {"tenant": slug,
                                   "egress_allow": [self.llm.hostport],
                                   "channels": {"openai": {
                                       "rate_limit_per_minute": 0}}},
                "runtime_config": stack.runtime_config(slug, self.llm, []),
                "secrets": {"gateway": ["openai_api_token"],
                            "runtime": ["llm_api_key"]}}

    def tenant(self, slug=None, **more):
        """A new tenant, its secrets stored, deployed (more: more fields
        of the deploy body, e.g. runtime_image) and answering through the
        edge; its slug."""
        slug = slug or "edge-" + secrets.token_hex(3)
        self.fleet.tenant(slug)
        for name, value in (("openai_api_token", CHAT_TOKEN),
                            ("llm_api_key", self.llm_key)):
            r = self.fleet.admin.put("/v1/tenants/%s/secrets/%s" %
                                     (slug, name), {"value": value})
            assert r.status == 201, r
        body = dict(self.body(slug), **more)
        self.settle(slug, self.fleet.deploy(slug, body)["id"])
        until(lambda: self.chat(slug, "ready?"), 60,
              what="%s through the edge" % slug)
        return slug

    def host(self, slug):
        return "%s.%s" % (slug, BASE)

    def settle(self, slug, dep_id, timeout=180):
        """Until dep_id is healthy and the node serves it with one pair
        (the old one drained and removed); the node's tenant entry."""
        self.fleet.wait_dep(slug, dep_id, "healthy", timeout)
        return self.node_tenant(slug, lambda t: t.get("deployment") ==
                                dep_id and t["phase"] == "healthy" and
                                "draining" not in t, timeout)

    def node_tenant(self, slug, pred, timeout=60):
        def check():
            for t in (self.node.status() or {}).get("tenants", []):
                if t["tenant"] == slug and pred(t):
                    return t
            return None
        return self.fleet.wait(check, timeout, "%s on the node" % slug)

    def redeploy(self, slug):
        dep = self.fleet.deploy(slug, self.body(slug))
        return self.settle(slug, dep["id"])

    def rollback(self, slug):
        r = self.fleet.admin.post("/v1/tenants/%s/rollback" % slug)
        assert r.status == 202, r
        return self.settle(slug, r.json()["id"])

    def transcript(self, slug):
        """The messages of the shared conversation (USER) as the tenant's
        runtime data volume holds them (sessions/*.jsonl, one JSON message
        a line), read on the host."""
        mp = self.env.docker("volume", "inspect", "-f", "{{.Mountpoint}}",
                             "claw-%s-runtime-data" % slug).strip()
        sessions = os.path.join(mp, "sessions")
        for name in sorted(os.listdir(sessions)):
            with open(os.path.join(sessions, name)) as f:
                lines = [json.loads(x) for x in f if x.strip()]
            if any(m.get("sender") == USER for m in lines):
                return lines
        return []

    def gateway_ip(self, slug):
        """The serving gateway's address on the edge network (port 8080:
        the gateway without the edge in front)."""
        t = self.node_tenant(slug, lambda t: t["phase"] == "healthy")
        return t["roles"]["gateway"]["edge_ip"]

    # ------------------------------------------------------------- chat
    def chat_request(self, text):
        """(path, body, headers) of one chat turn in the shared
        conversation."""
        body = json.dumps({"model": "claw", "user": USER, "messages": [
            {"role": "user", "content": text}]}).encode()
        return ("/v1/chat/completions", body,
                {"Authorization": "Bearer " + CHAT_TOKEN,
                 "Content-Type": "application/json"})

    def chat(self, slug, text, timeout=30):
        """One turn through the edge, a new TLS connection: the reply
        text; raises on anything but 200."""
        path, body, headers = self.chat_request(text)
        r = https_request(self.node.https, self.host(slug), path, self.root,
                          "POST", body, headers, timeout)
        if r.status != 200:
            raise RuntimeError("HTTP %d %r" % (r.status, r.body[:200]))
        return json.loads(r.body)["choices"][0]["message"]["content"]


class Chatter:
    """A client that chats back to back (one turn in flight) until
    stopped; each message carries a unique id, so a reply that is not the
    echo of its own request (misrouted) or that comes twice (duplicated)
    is seen. send(text) returns the reply text or raises."""

    def __init__(self, send, tag="m"):
        self.send = send
        self.tag = "%s-%s" % (tag, secrets.token_hex(3))
        self.sent = 0
        self.failures, self.mismatches, self.duplicates = [], [], []
        self.latencies = []
        self.replies = set()
        self.stop_flag = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def _run(self):
        while not self.stop_flag.is_set():
            self.sent += 1
            text = "%s-%d" % (self.tag, self.sent)
            t0 = time.monotonic()
            try:
                reply = self.send(text)
            except Exception as e:  # noqa: BLE001 - every kind counts
                self.failures.append("%s: %r" % (text, e))
                continue
            self.latencies.append(time.monotonic() - t0)
            if reply in self.replies:
                self.duplicates.append(reply)
            self.replies.add(reply)
            if reply != "echo: " + text:
                self.mismatches.append((text, reply))

    def stop(self):
        self.stop_flag.set()
        self.thread.join(60)
        return self
