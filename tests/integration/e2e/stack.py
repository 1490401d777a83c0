"""stack - the pieces of a real tenant below the control plane, shared by
the end-to-end tests and bench/e2e (stdlib only).

    env = DockerEnv()
    imgs = tenant_images(env)            # deploy/images/tenant-images.sh
    llm = ScriptedLLM(env, egress, key)  # claw/scripted-llm container
    llm = OutsideLLM(out, key)           # or a process "on the internet"
    spec = tenant(name, imgs, llm, out, ...)   # node agent desired entry
    gw = GatewayClient(port)             # the tenant's published gateway

The scripted LLM runs as a container on the node agent's egress network.
Containers on that network cannot reach each other (inter-container
traffic is off, so gateways of different tenants are apart), so the LLM
publishes its port on the egress bridge's own address, where the gateways
reach it through the host; nothing listens on another host address.
OutsideLLM runs it instead in an outside.Outside network namespace, like
the channel fakes: gone only when the test ends it.
"""

import hashlib
import hmac
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.docker import BUILD, SRC  # noqa: E402
import outside  # noqa: E402

OPENAI_TOKEN = "sk-claw-e2e-chat-token"
LLM_PORT = 8090
MCP_PORT = 8091
UNAVAILABLE = "The assistant is switched off for now."
# What a tenant's gateway holds to talk to the fakes of outside.py.
GATEWAY_SECRETS = {
    "telegram_bot_token": outside.TG_TOKEN,
    "telegram_webhook_secret": outside.TG_SECRET,
    "slack_bot_token": outside.SLACK_BOT,
    "slack_signing_secret": outside.SLACK_SIGNING,
    "openai_api_token": OPENAI_TOKEN,
}


def tenant_images(env, build_dir=None):
    """Build and push the gateway, runtime and scripted-llm images from a
    build dir (CLAW_E2E_IMAGE_BUILD_DIR, else the test's own build);
    returns {"gateway": ref, "runtime": ref, "scripted-llm": ref}."""
    build_dir = build_dir or os.environ.get("CLAW_E2E_IMAGE_BUILD_DIR",
                                            BUILD)
    tag = "e2e-" + hashlib.sha256(
        os.path.realpath(build_dir).encode()).hexdigest()[:8]
    r = subprocess.run([os.path.join(SRC, "deploy", "images",
                                     "tenant-images.sh"),
                        "--build-dir", build_dir, "--tag", tag],
                       env=env.env(), capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("tenant-images.sh: " + r.stderr)
    refs = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
    return {"gateway": refs["CLAW_GATEWAY_IMAGE"],
            "runtime": refs["CLAW_RUNTIME_IMAGE"],
            "scripted-llm": refs["CLAW_SCRIPTED_LLM_IMAGE"]}


def container_logs(env, name):
    """A container's log, stdout and stderr together."""
    r = subprocess.run(["docker", "logs", name], env=env.env(),
                       capture_output=True, text=True)
    return r.stdout + r.stderr


def wait_network(env, name, timeout=60):
    """The gateway address (bridge IP on the host) of a Docker network."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = env.docker("network", "inspect", name, check=False)
        nets = json.loads(out) if out.strip().startswith("[") else []
        cfg = nets[0]["IPAM"]["Config"] if nets else None
        if cfg and cfg[0].get("Gateway"):
            return cfg[0]["Gateway"]
        time.sleep(0.1)
    raise AssertionError("network %s did not appear" % name)


def llm_answers(hostport, alive, timeout=30):
    """True once the scripted LLM at hostport answers /healthz 200;
    False after timeout s, or as soon as alive() is false."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        try:
            with urllib.request.urlopen("http://%s/healthz" % hostport,
                                        timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


class ScriptedLLM:
    """claw-scripted-llm in its container, hardened like a tenant's, on the
    egress network, answering on http://BRIDGE_IP:8090/v1 with an API key
    (a secret file bound read-only)."""

    def __init__(self, env, image, network, key):
        self.env = env
        self.ip = wait_network(env, network)
        self.name = "claw-e2e-llm-" + secrets.token_hex(3)
        self.keydir = "/dev/shm/" + self.name
        os.makedirs(self.keydir, mode=0o755)
        keyfile = os.path.join(self.keydir, "llm_api_key")
        with open(keyfile, "w") as f:
            f.write(key)
        os.chown(keyfile, 65532, 65532)
        os.chmod(keyfile, 0o400)
        env.docker("run", "-d", "--name", self.name, "--network", network,
                   "--read-only", "--cap-drop", "ALL", "--security-opt",
                   "no-new-privileges:true", "--tmpfs", "/tmp",
                   "--memory", "64m", "--pids-limit", "64",
                   "-v", self.keydir + ":/run/claw/secrets:ro",
                   "-p", "%s:%d:8090" % (self.ip, LLM_PORT), image,
                   "--listen", "0.0.0.0:8090",
                   "--api-key-file", "/run/claw/secrets/llm_api_key")
        self.base_url = "http://%s:%d/v1" % (self.ip, LLM_PORT)
        self.hostport = "%s:%d" % (self.ip, LLM_PORT)
        if not llm_answers(self.hostport, lambda: True):
            raise AssertionError("scripted LLM did not answer: " +
                                 env.docker("logs", self.name, check=False))

    def close(self):
        self.env.docker("rm", "-f", self.name, check=False)
        for f in os.listdir(self.keydir):
            os.unlink(os.path.join(self.keydir, f))
        os.rmdir(self.keydir)


class OutsideLLM:
    """claw-scripted-llm as a process in an outside.Outside namespace,
    answering on http://OUT.IP:8090/v1 with an API key: the model as the
    internet, which a dockerd killed on the node does not take down (the
    chaos harness)."""

    def __init__(self, out, key):
        self.dir = tempfile.mkdtemp(prefix="claw-llm-")
        keyfile = os.path.join(self.dir, "llm_api_key")
        fd = os.open(keyfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        self.hostport = "%s:%d" % (out.ip, LLM_PORT)
        self.base_url = "http://%s/v1" % self.hostport
        self.log = os.path.join(self.dir, "llm.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                ["ip", "netns", "exec", out.name,
                 os.path.join(BUILD, "tools", "scripted-llm",
                              "claw-scripted-llm"),
                 "--listen", self.hostport, "--api-key-file", keyfile],
                stdout=log, stderr=subprocess.STDOUT)
        if not llm_answers(self.hostport,
                           lambda: self.proc.poll() is None):
            self.close()
            raise AssertionError("scripted LLM did not answer")

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def gateway_config(name, llm, api, mcp_hostport, suspended=False):
    return {
        "tenant": name,
        "suspended": suspended,
        "unavailable_text": UNAVAILABLE,
        "egress_allow": [llm.hostport, mcp_hostport],
        "channels": {
            "telegram": {"api_base": api.base + "/telegram",
                         "bot_username": "claw_e2e_bot"},
            "slack": {"api_base": api.base + "/slack/api",
                      "bot_user_id": "UE2EBOT"},
            "webchat": {},
            "openai": {},
        },
    }


def runtime_config(name, llm, mcp_urls):
    return {
        "tenant": name,
        "proxy": "http://gateway:3128",
        "providers": [{"name": "main", "kind": "openai",
                       "base_url": llm.base_url, "model": "scripted",
                       "api_key_secret": "llm_api_key",
                       "timeout_ms": 20000, "max_retries": 1}],
        "mcp_servers": [{"name": n, "url": u, "timeout_ms": 10000}
                        for n, u in mcp_urls],
    }


def tenant(name, images, llm, llm_key, api, mcp_hostport, mcp_urls, auth,
           state="running", generation=1, deployment="d1", memory_mb=128):
    """A desired-state entry for the node agent (docs/node-agent.md)."""
    return {
        "tenant": name, "deployment": deployment, "generation": generation,
        "state": state,
        "plan": {"cpus": 0.5, "memory_mb": memory_mb, "pids": 128},
        "registry_auth": auth,
        "gateway": {"image": images["gateway"],
                    "config": gateway_config(name, llm, api, mcp_hostport,
                                             state == "suspended"),
                    "secrets": dict(GATEWAY_SECRETS)},
        "runtime": {"image": images["runtime"],
                    "config": runtime_config(name, llm, mcp_urls),
                    "secrets": {"llm_api_key": llm_key}},
    }


def _http(method, url, body=None, headers=None, timeout=30):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class GatewayClient:
    """A tenant's gateway as its users' channels see it (127.0.0.1:PORT)."""

    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.seq = int(time.time()) % 100000 * 100

    def chat(self, text, timeout=60):
        """OpenAI-compatible endpoint: (status, parsed JSON)."""
        st, _, body = _http("POST", self.base + "/v1/chat/completions", {
            "model": "claw", "messages": [{"role": "user", "content": text}]},
            {"Authorization": "Bearer " + OPENAI_TOKEN}, timeout)
        return st, json.loads(body or b"null")

    def chat_text(self, text, timeout=60):
        st, obj = self.chat(text, timeout)
        if st != 200:
            raise AssertionError("chat %d: %r" % (st, obj))
        return obj["choices"][0]["message"]["content"]

    def wait_tool(self, text, timeout=90):
        """Ask for a tool call until the tool answers; the reply. The
        runtime starts before its gateway, so its first MCP handshake
        through the gateway's proxy fails and the server is retried after
        a backoff (1 s, doubling): its tools appear a little later."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.chat_text(text)
            if reply.startswith("tool result:") or \
                    time.monotonic() > deadline:
                return reply
            time.sleep(1)

    def webchat(self, text, timeout=60):
        """Web chat: open a visitor session, post text, read the first
        "message" event of the reply stream; returns its text."""
        st, hdrs, _ = _http("GET", self.base + "/chat")
        if st != 200:
            raise AssertionError("GET /chat: %d" % st)
        cookie = hdrs["Set-Cookie"].split(";", 1)[0]
        st, _, body = _http("POST", self.base + "/chat/messages",
                            {"text": text}, {"Cookie": cookie})
        if st != 202:
            raise AssertionError("POST /chat/messages: %d %r" % (st, body))
        req = urllib.request.Request(self.base + "/chat/events", headers={
            "Cookie": cookie, "Accept": "text/event-stream"})
        event = None
        with urllib.request.urlopen(req, timeout=timeout) as r:
            for raw in r:
                line = raw.decode().rstrip("\r\n")
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "message":
                    return json.loads(line[5:])["text"]
        raise AssertionError("web chat stream ended without a message")

    def telegram(self, text, chat_id):
        """Deliver a Telegram update to the webhook; the HTTP status."""
        self.seq += 1
        upd = {"update_id": self.seq, "message": {
            "message_id": self.seq, "date": int(time.time()),
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ann"},
            "chat": {"id": chat_id, "type": "private"}, "text": text}}
        return _http("POST", self.base + "/telegram/webhook", upd, {
            "X-Telegram-Bot-Api-Secret-Token": outside.TG_SECRET})[0]

    def slack(self, text, channel):
        """Deliver a Slack message event (a DM), signed; the HTTP status."""
        self.seq += 1
        ts = "1700000000.%06d" % self.seq
        body = json.dumps({
            "token": "x", "team_id": "T0E2E", "api_app_id": "A0E2E",
            "type": "event_callback", "event_id": "Ev%d" % self.seq,
            "event_time": int(time.time()),
            "event": {"type": "message", "channel": channel,
                      "channel_type": "im", "user": "U0ANN", "text": text,
                      "ts": ts, "event_ts": ts}}).encode()
        now = str(int(time.time()))
        sig = "v0=" + hmac.new(outside.SLACK_SIGNING.encode(),
                               b"v0:" + now.encode() + b":" + body,
                               hashlib.sha256).hexdigest()
        return _http("POST", self.base + "/slack/events", body, {
            "X-Slack-Request-Timestamp": now, "X-Slack-Signature": sig})[0]

    def metrics(self):
        return _http("GET", self.base + "/metrics")[2].decode()

    def metric(self, name):
        """Sum of a Prometheus series over every label set."""
        total = 0.0
        for line in self.metrics().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                total += float(line.rsplit(" ", 1)[1])
        return total


PROBE = r"""
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect((sys.argv[1], int(sys.argv[2])))
    print("reachable")
except OSError:
    print("unreachable")
"""


def netns_python(pid, code, *args):
    """Run Python code inside the network namespace of a container's
    process (the host's python, the container's network view)."""
    return subprocess.run(["nsenter", "-t", str(pid), "-n", "python3", "-c",
                           code] + [str(a) for a in args], check=True,
                          capture_output=True, text=True).stdout.strip()


def reach(pid, ip, port):
    return netns_python(pid, PROBE, ip, port)


CONNECT = r"""
import socket, sys
s = socket.create_connection((sys.argv[1], 3128), 5)
s.sendall(("CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n\r\n" %
           (sys.argv[2], sys.argv[3], sys.argv[2], sys.argv[3])).encode())
print(s.recv(64).split()[1].decode())
"""


def connect_via_proxy(pid, proxy_ip, ip, port):
    """The status the gateway's proxy (at proxy_ip:3128) answers to
    CONNECT ip:port, asked from a container's network namespace."""
    return int(netns_python(pid, CONNECT, proxy_ip, ip, port))


def isolation_rules_missing(env, networks):
    """The internal networks (of the given names) whose Docker isolation
    rules are not in the host's iptables. Docker drops traffic into an
    internal network from outside its subnet with two rules in the
    DOCKER-ISOLATION-STAGE-1 chain; every dockerd on a host shares that
    chain and flushes it when it starts, so a second engine started on the
    host (a simulated node) silently removes the first engine's rules."""
    rules = subprocess.run(["iptables", "-S", "DOCKER-ISOLATION-STAGE-1"],
                           capture_output=True, text=True).stdout
    missing = []
    for name in networks:
        net = json.loads(env.docker("network", "inspect", name))[0]
        sub = net["IPAM"]["Config"][0]["Subnet"]
        bridge = "br-" + net["Id"][:12]
        if "! -s %s -o %s -j DROP" % (sub, bridge) not in rules:
            missing.append("%s (%s)" % (name, sub))
    return missing
