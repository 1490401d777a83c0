"""edge - the node's edge for integration tests: a real Caddy (Debian's
caddy 2.6) with its admin API on 127.0.0.1 or a unix socket, Debian's
pebble ACME server with pebble-challtestsrv answering every name with
127.0.0.1, plain local HTTP backends, and HTTPS requests sent to
127.0.0.1 with the TLS name (SNI) and Host header of a tenant's address
(stdlib only).

    caddy = Caddy(admin="tcp").start()      # or admin="unix"
    caddy.admin_url                           # for --edge-admin
    caddy.kill(); caddy.start()               # a crash and a restart
    caddy.load(cfg) / caddy.config()          # its admin API directly
    root = caddy.local_root()                 # PEM file of its local CA
    b = Backend("one"); b.port                # answers "one HOST PATH"
    r = https_request(port, "a.claw.test", "/", cafile=root)
    r.status, r.headers, r.body
    p = Pebble(http_port, tls_port).start()   # ACME on 127.0.0.1
    p.directory, p.ca_file (its own HTTPS), p.issuer_root() (issued certs)
    na = edge_agent(case, caddy, desired, listen_port, ...)  # no Docker

Every port is on 127.0.0.1; every process is stopped by its object (and
by atexit through proc.Daemon).
"""

import http.client
import json
import os
import socket
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

from clawtest.http import free_port
from clawtest.proc import Daemon, wait_for


class Caddy:
    """caddy run with a boot config that holds only its admin endpoint
    (never persisted), so a restart comes up empty, as after a crash."""

    def __init__(self, admin="tcp"):
        self.dir = tempfile.mkdtemp(prefix="claw-caddy-")
        if admin == "unix":
            self.sock = os.path.join(self.dir, "admin.sock")
            self.listen = "unix/" + self.sock
            self.admin_url = "unix:" + self.sock
        else:
            self.sock = None
            port = free_port()
            self.listen = "127.0.0.1:%d" % port
            self.admin_url = "http://" + self.listen
        self.boot = os.path.join(self.dir, "boot.json")
        with open(self.boot, "w") as f:
            json.dump({"admin": {"listen": self.listen,
                                 "config": {"persist": False}}}, f)
        self.daemon = None
        self.starts = 0

    def start(self):
        env = {"HOME": self.dir, "XDG_DATA_HOME": os.path.join(self.dir,
                                                               "data"),
               "XDG_CONFIG_HOME": os.path.join(self.dir, "config")}
        self.starts += 1
        self.daemon = Daemon(["caddy", "run", "--config", self.boot],
                             name="caddy-%d" % self.starts, env=env,
                             log_dir=self.dir)
        self.daemon.start()
        wait_for(lambda: self.admin("GET", "/config/")[0] == 200, 30,
                 what="caddy's admin API")
        return self

    def stop(self):
        if self.daemon:
            self.daemon.stop()

    def kill(self):
        """SIGKILL: Caddy is gone (its config with it)."""
        if self.daemon:
            self.daemon.kill()

    def running(self):
        return self.daemon is not None and self.daemon.running()

    def log_text(self):
        return self.daemon.log_text() if self.daemon else ""

    def admin(self, method, path, body=None, timeout=10):
        """(status, body bytes) of a call to the admin API; 0 when nothing
        answered."""
        c = None
        try:
            if self.sock:
                c = http.client.HTTPConnection("localhost", timeout=timeout)
                c.sock = socket.socket(socket.AF_UNIX)
                c.sock.settimeout(timeout)
                c.sock.connect(self.sock)
            else:
                host, port = self.listen.rsplit(":", 1)
                c = http.client.HTTPConnection(host, int(port),
                                               timeout=timeout)
            data = json.dumps(body).encode() if body is not None else None
            c.putrequest(method, path, skip_host=bool(self.sock),
                         skip_accept_encoding=True)
            if self.sock:
                c.putheader("Host", "")  # what Caddy wants on a socket
            if data is not None:
                c.putheader("Content-Type", "application/json")
                c.putheader("Content-Length", str(len(data)))
            c.endheaders(data)
            r = c.getresponse()
            return r.status, r.read()
        except OSError:
            return 0, b""
        finally:
            if c:
                c.close()

    def config(self):
        status, body = self.admin("GET", "/config/")
        return json.loads(body) if status == 200 else None

    def load(self, cfg):
        return self.admin("POST", "/load", cfg)

    def local_root(self):
        """A PEM file of the root of Caddy's local CA (GET /pki/ca/local);
        ask once a config with the pki app is loaded (Caddy's admin
        endpoint restarts after each load: a failed call is tried
        again)."""
        def get():
            status, body = self.admin("GET", "/pki/ca/local")
            return body if status == 200 else None
        body = wait_for(get, 30, what="caddy's local CA")
        path = os.path.join(self.dir, "local-root.pem")
        with open(path, "w") as f:
            f.write(json.loads(body)["root_certificate"])
        return path


class _BackendHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/slow"):
            self.server.slow_started.set()
            self.server.slow_release.wait(30)
        self.server.seen.append((self.command, self.headers.get("Host"),
                                 self.path, len(body)))
        out = ("%s %s %s\n" % (self.server.name, self.headers.get("Host"),
                               self.path)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args):
        pass


class Backend:
    """A plain HTTP server on 127.0.0.1 that answers every GET and POST
    with "NAME HOST PATH" (so a test sees which backend got the request
    and with which Host header); .seen lists (method, host, path,
    body length). A path starting /slow sets .slow_started and answers
    only once .slow_release is set (a request held in flight)."""

    def __init__(self, name):
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _BackendHandler)
        self.server.daemon_threads = True
        self.server.name = name
        self.server.seen = []
        self.server.slow_started = threading.Event()
        self.server.slow_release = threading.Event()
        self.port = self.server.server_address[1]
        self.addr = "127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    @property
    def seen(self):
        return self.server.seen

    @property
    def slow_started(self):
        return self.server.slow_started

    @property
    def slow_release(self):
        return self.server.slow_release

    def stop(self):
        self.server.slow_release.set()
        self.server.shutdown()
        self.server.server_close()


def tls_context(cafile=None):
    """A client context that verifies against cafile (None: no check)."""
    if cafile is None:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    return ssl.create_default_context(cafile=cafile)


def https_request(port, host, path="/", cafile=None, method="GET",
                  body=None, headers=None, timeout=10, sni=None,
                  source=None):
    """A request to 127.0.0.1:port over TLS with server name sni (default
    host) and Host header host, from the loopback address source (say
    127.0.0.2; default the kernel's pick); .status, .headers (dict,
    lower-case names), .body (bytes). Raises ssl.SSLError when the
    handshake fails."""
    ctx = tls_context(cafile)
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                   source_address=(source, 0) if source
                                   else None)
    try:
        s = ctx.wrap_socket(raw, server_hostname=sni or host)
    except Exception:
        raw.close()
        raise
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    c.sock = s
    try:
        c.request(method, path, body=body, headers=dict(headers or {}))
        r = c.getresponse()
        return SimpleNamespace(status=r.status,
                               headers={k.lower(): v
                                        for k, v in r.getheaders()},
                               body=r.read())
    finally:
        c.close()


def http_request(port, host, path="/", method="GET", body=None,
                 timeout=10):
    """A plain HTTP request to 127.0.0.1:port with Host host."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers={"Host": host})
    r = c.getresponse()
    out = SimpleNamespace(status=r.status,
                          headers={k.lower(): v for k, v in r.getheaders()},
                          body=r.read())
    c.close()
    return out


def make_cert(dirname, names, name="cert"):
    """A self-signed certificate (also its own CA) for names with openssl:
    (cert path, key path)."""
    cert = os.path.join(dirname, name + ".pem")
    key = os.path.join(dirname, name + "-key.pem")
    san = ",".join(("IP:" if n[0].isdigit() else "DNS:") + n for n in names)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=" + names[0],
                    "-addext", "subjectAltName=" + san,
                    "-addext", "basicConstraints=critical,CA:TRUE"],
                   check=True, capture_output=True)
    return cert, key


class Pebble:
    """pebble (ACME, on 127.0.0.1) with pebble-challtestsrv as its DNS:
    every A query is answered 127.0.0.1 (AAAA: nothing), so its HTTP-01
    and TLS-ALPN-01 checks reach the edge under test on http_port and
    tls_port. The checks are real (PEBBLE_VA_ALWAYS_VALID is not set)."""

    def __init__(self, http_port, tls_port):
        self.dir = tempfile.mkdtemp(prefix="claw-pebble-")
        self.port = free_port()
        self.mgmt = free_port()
        self.dns = free_port()
        self.http_port, self.tls_port = http_port, tls_port
        self.ca_file, key = make_cert(self.dir, ["localhost", "127.0.0.1"],
                                      "pebble")
        self.config = os.path.join(self.dir, "pebble.json")
        with open(self.config, "w") as f:
            json.dump({"pebble": {
                "listenAddress": "127.0.0.1:%d" % self.port,
                "managementListenAddress": "127.0.0.1:%d" % self.mgmt,
                "certificate": self.ca_file, "privateKey": key,
                "httpPort": http_port, "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": False}}, f)
        self.directory = "https://127.0.0.1:%d/dir" % self.port
        self.dnssrv = self.pebble = None

    def start(self):
        self.dnssrv = Daemon(
            ["pebble-challtestsrv", "-defaultIPv4", "127.0.0.1",
             "-defaultIPv6", "", "-dns01", "127.0.0.1:%d" % self.dns,
             "-http01", "", "-https01", "", "-tlsalpn01", "",
             "-management", "127.0.0.1:%d" % free_port()],
            name="challtestsrv", log_dir=self.dir)
        self.dnssrv.start()
        self.pebble = Daemon(
            ["pebble", "-config", self.config, "-dnsserver",
             "127.0.0.1:%d" % self.dns],
            name="pebble", log_dir=self.dir,
            env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"})
        self.pebble.start()
        ctx = tls_context(self.ca_file)

        def up():
            c = http.client.HTTPSConnection("127.0.0.1", self.port,
                                            context=ctx, timeout=2)
            try:
                c.request("GET", "/dir")
                return c.getresponse().status == 200
            except OSError:
                return False
            finally:
                c.close()
        wait_for(up, 30, what="pebble")
        return self

    def issuer_root(self):
        """A PEM file of the root pebble signs certificates with (it makes
        a new one at each start)."""
        c = http.client.HTTPSConnection("127.0.0.1", self.mgmt,
                                        context=tls_context(self.ca_file),
                                        timeout=5)
        c.request("GET", "/roots/0")
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 200, body
        path = os.path.join(self.dir, "issuer-root.pem")
        with open(path, "wb") as f:
            f.write(body)
        return path

    def log_text(self):
        return "".join(d.log_text() for d in (self.dnssrv, self.pebble) if d)

    def stop(self):
        for d in (self.pebble, self.dnssrv):
            if d:
                d.stop()


class NoDocker:
    """Stands in for DockerEnv where no engine is used: the agent gets a
    socket nothing listens on (its edge works without Docker when no
    tenant runs on the node)."""

    def __init__(self):
        self.socket = os.path.join(tempfile.mkdtemp(prefix="claw-nod-"),
                                   "docker.sock")

    def docker(self, *args, check=True):
        return ""


def edge_args(caddy, listen_port, http_port=None, peer_port=None,
              tls="internal", extra=()):
    args = ["--edge-admin", caddy.admin_url,
            "--edge-listen", "127.0.0.1:%d" % listen_port,
            "--edge-tls", tls, "--edge-poll-ms", "200"]
    if http_port:
        args += ["--edge-http-listen", "127.0.0.1:%d" % http_port]
    if peer_port:
        args += ["--edge-advertise", "127.0.0.1:%d" % peer_port]
    return args + list(extra)


def edge_state(na):
    s = na.status() or {}
    return s.get("edge", {})


def wait_edge(na, pred, timeout=30, what="the edge"):
    """The agent's edge status once pred(edge) holds."""
    last = {}

    def check():
        nonlocal last
        last = edge_state(na)
        return last if pred(last) else None
    try:
        return wait_for(check, timeout, what=what)
    except TimeoutError:
        raise AssertionError("%s: last edge status %s\nagent log:\n%s" %
                             (what, last, na.log_text()[-3000:]))


def edge_agent(case, caddy, desired, listen_port, http_port=None,
               peer_port=None, tls="internal", extra=(), env=None):
    """A started standalone claw-node-agent (no Docker) driving caddy,
    cleaned up after the test."""
    from clawtest.docker import NodeAgent, uniq
    na = NodeAgent(env or NoDocker(), desired, name=uniq("edge"),
                   extra=edge_args(caddy, listen_port, http_port, peer_port,
                                   tls, extra))
    case.addCleanup(na.cleanup)
    return na.start()


def until(pred, timeout=30, what="condition"):
    """pred() until it returns something truthy without raising."""
    def safe():
        try:
            return pred()
        except (OSError, ssl.SSLError, http.client.HTTPException):
            return None
    return wait_for(safe, timeout, what=what)


__all__ = ["Caddy", "Backend", "Pebble", "NoDocker", "https_request",
           "http_request", "make_cert", "edge_agent", "edge_args",
           "edge_state", "wait_edge", "until", "tls_context"]
