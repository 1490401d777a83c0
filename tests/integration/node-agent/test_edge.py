"""The node agent's edge driver against a real Caddy (Debian's 2.6) and,
for ACME, Debian's pebble: no Docker. The routes point at plain local
HTTP backends through the desired state's edge_routes (tenants "on other
nodes"), which exercise the same config, driver and TLS as local tenants.

Covered: routing by Host with the Host header kept, unknown hosts 404
naming nothing, redirects on the HTTP listener, the body size limit,
the header read deadline; Caddy killed and restarted (config loaded
again), Caddy's config changed behind the agent's back (loaded again),
Caddy refusing a config (reported in status and /readyz, applied once
it can be); the admin API on a unix socket; TLS with Caddy's internal
CA, an operator's certificate files, ACME against pebble (real HTTP-01 /
TLS-ALPN-01 checks), and certificates gated by an `ask` URL; requests in
flight survive config loads, and so do new connections (none reset).
"""

import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from clawtest.edge import (Backend, Caddy, Pebble, edge_agent,  # noqa: E402
                           http_request, https_request, make_cert, until,
                           wait_edge)
from clawtest.http import free_port  # noqa: E402


def route(host, backend, domains=None, tenant=None):
    """An edge route as the control plane sends it: the tenant's public
    host first, then its domains."""
    r = {"hosts": [host] + list(domains or []), "node": "node-b",
         "upstream": backend.addr}
    if tenant:
        r["tenant"] = tenant
    return r


def closed_by_peer(s, wait=20):
    """True when the peer closes s (EOF or reset) within wait seconds,
    whatever it sends before."""
    s.settimeout(wait)
    try:
        while s.recv(4096):
            pass
        return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def desired(gen, routes):
    return {"generation": gen, "tenants": [], "edge_routes": routes}


class EdgeCase(unittest.TestCase):
    ADMIN = "tcp"

    def setUp(self):
        self.caddy = Caddy(admin=self.ADMIN).start()
        self.addCleanup(self.caddy.stop)
        self.one = Backend("one")
        self.two = Backend("two")
        self.addCleanup(self.one.stop)
        self.addCleanup(self.two.stop)
        self.https = free_port()
        self.http = free_port()

    def agent(self, routes, tls="internal", extra=(), http_port=True):
        return edge_agent(self, self.caddy, desired(1, routes), self.https,
                          self.http if http_port else None, tls=tls,
                          extra=extra)

    def get(self, host, path="/", root=None, **kw):
        return https_request(self.https, host, path, cafile=root, **kw)


class TestRouting(EdgeCase):
    def test_hosts_routed_with_host_kept_unknown_404(self):
        na = self.agent([route("a.claw.test", self.one, ["chat.a-corp.test"],
                               tenant="a"),
                         route("b.claw.test", self.two)],
                        extra=["--edge-max-body-kb", "4",
                               "--edge-header-timeout-ms", "300"])
        e = wait_edge(na, lambda e: e.get("state") == "ok")
        self.assertEqual((e["routes"], e["remote_routes"]), (2, 0 + 2))
        root = self.caddy.local_root()
        r = until(lambda: self.get("a.claw.test", "/x?y=1", root))
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"one a.claw.test:%d /x?y=1\n" % self.https)
        self.assertEqual(self.get("chat.a-corp.test", "/", root).body,
                         b"one chat.a-corp.test:%d /\n" % self.https)
        self.assertEqual(self.get("b.claw.test", "/", root).body,
                         b"two b.claw.test:%d /\n" % self.https)
        # each host's certificate is read and its validity reported (the
        # internal CA's are short-lived; the control plane alerts on them)
        e = wait_edge(na, lambda e: len([c for c in e.get("certs", [])
                                         if c.get("not_after")]) == 3,
                      what="three certificates read")
        self.assertEqual(sorted(c["host"] for c in e["certs"]),
                         ["a.claw.test", "b.claw.test", "chat.a-corp.test"])
        for c in e["certs"]:
            self.assertLess(c["not_before"], c["not_after"])
        # An unknown Host (over a known TLS name): 404 naming nothing.
        r = self.get("a.claw.test", "/", root,
                     headers={"Host": "nobody.claw.test"})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.body, b"not found\n")
        self.assertNotIn("server", r.headers)
        # An unknown TLS name: no certificate is made for it.
        with self.assertRaises(ssl.SSLError):
            self.get("nobody.claw.test", "/")
        # The HTTP listener: known hosts redirected, others 404.
        r = http_request(self.http, "a.claw.test", "/p?q")
        self.assertEqual(r.status, 308)
        self.assertEqual(r.headers["location"],
                         "https://a.claw.test:%d/p?q" % self.https)
        r = http_request(self.http, "nobody.claw.test", "/")
        self.assertEqual((r.status, r.body), (404, b"not found\n"))
        # The body limit: 4 KiB.
        self.assertEqual(self.get("b.claw.test", "/", root, method="POST",
                                  body=b"x" * 4096).status, 200)
        r = self.get("b.claw.test", "/", root, method="POST",
                     body=b"x" * 4097)
        self.assertEqual(r.status, 413)
        self.assertFalse([s for s in self.two.seen if s[3] > 4096])
        # The header deadline: a client that never finishes its headers
        # is cut off (the edge does not wait for it).
        s = socket.create_connection(("127.0.0.1", self.http), timeout=10)
        s.sendall(b"GET / HTTP/1.1\r\nHost: a.claw.test\r\n")
        self.addCleanup(s.close)
        self.assertEqual(s.recv(100), b"")

    def test_trickled_connections_do_not_starve_the_edge(self):
        # 1,050 clients of one address that each send a byte now and then
        # (the attack that exhausted the gateway's 1,024 slots): the
        # address gets its 64 connections (--edge-max-conns-per-ip) and
        # the rest are refused by the kernel; a normal request from
        # another address is answered, and the edge drops the slow ones
        # at its header deadline.
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < 4096 <= hard or (soft < 4096 and hard ==
                                    resource.RLIM_INFINITY):
            resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE,
                            (soft, hard))
        na = self.agent([route("a.claw.test", self.one)],
                        extra=["--edge-header-timeout-ms", "3000",
                               "--edge-max-conns-per-ip", "64"])
        e = wait_edge(na, lambda e: e.get("state") == "ok")
        self.assertEqual((e["conn_limit"], e["conn_limit_error"]), (64, ""))
        table = "claw_edge_%d" % self.https
        rules = subprocess.run(["nft", "list", "table", "inet", table],
                               capture_output=True, text=True,
                               check=True).stdout
        self.assertIn("ct count over 64", rules)
        ports = sorted((self.https, self.http))  # nft lists a set sorted
        self.assertIn("tcp dport { %d, %d }" % tuple(ports), rules)
        root = self.caddy.local_root()
        until(lambda: self.get("a.claw.test", "/", root, source="127.0.0.2"))
        slow, refused = [], 0
        for i in range(1050):
            try:
                s = socket.create_connection(
                    ("127.0.0.1", self.https if i % 2 else self.http),
                    timeout=10, source_address=("127.0.0.3", 0))
            except ConnectionRefusedError:
                refused += 1
                continue
            self.addCleanup(s.close)
            # half an HTTP head on the HTTP port, the first bytes of a TLS
            # record on the HTTPS port
            s.sendall(b"GET / HTTP/1.1\r\nHo" if i % 2 == 0 else b"\x16\x03")
            slow.append(s)
        self.assertEqual((len(slow), refused), (64, 1050 - 64))
        for s in slow[:20]:
            s.sendall(b"x" if s.getpeername()[1] == self.http else b"\x01")
        r = self.get("a.claw.test", "/webhook", root, method="POST",
                     body=b'{"update_id":1}', source="127.0.0.2")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"one a.claw.test:%d /webhook\n" % self.https)
        # They are cut off at the deadline (not kept forever).
        for s in slow[::7]:
            self.assertTrue(closed_by_peer(s))
        # the limit goes with the agent
        na.stop()
        self.assertNotEqual(subprocess.run(
            ["nft", "list", "table", "inet", table],
            capture_output=True).returncode, 0)

    def test_desired_change_applied(self):
        na = self.agent([route("a.claw.test", self.one)])
        wait_edge(na, lambda e: e.get("state") == "ok")
        root = self.caddy.local_root()
        self.assertTrue(until(lambda: self.get("a.claw.test", "/",
                                               root).body.startswith(b"one")))
        na.set_desired(desired(2, [route("a.claw.test", self.two),
                                   route("c.claw.test", self.one)]))
        until(lambda: self.get("a.claw.test", "/", root).body.startswith(
            b"two"), what="the route moved to backend two")
        self.assertTrue(until(lambda: self.get(
            "c.claw.test", "/", root).body.startswith(b"one")))
        self.assertEqual(http_request(self.http, "a.claw.test").status, 308)
        na.set_desired(desired(3, []))
        until(lambda: http_request(self.http, "a.claw.test").status == 404,
              what="the route gone")

    def test_request_in_flight_survives_a_load(self):
        na = self.agent([route("a.claw.test", self.one)])
        e = wait_edge(na, lambda e: e.get("state") == "ok")
        root = self.caddy.local_root()
        until(lambda: self.get("a.claw.test", "/", root))
        out = {}

        def slow():
            out["r"] = self.get("a.claw.test", "/slow", root, timeout=60)
        th = threading.Thread(target=slow)
        th.start()
        self.assertTrue(self.one.slow_started.wait(30))
        # A new config is loaded while the request is held upstream.
        na.set_desired(desired(2, [route("a.claw.test", self.one),
                                   route("c.claw.test", self.two)]))
        wait_edge(na, lambda x: x["loads"] > e["loads"] and
                  x["state"] == "ok")
        until(lambda: self.get("c.claw.test", "/", root))
        self.one.slow_release.set()
        th.join(60)
        self.assertEqual(out["r"].status, 200)
        self.assertEqual(out["r"].body,
                         b"one a.claw.test:%d /slow\n" % self.https)

    def test_new_connections_survive_loads(self):
        """Caddy binds a new listener (SO_REUSEPORT) at every load and
        closes the old one; the kernel reset the connections still queued
        at the old one (about one a load with four clients) until
        net.ipv4.tcp_migrate_req moved them (deploy/sysctl/
        90-claw-node.conf; e2e_edge saw 2 resets in 13 blue/green
        switches). 20 route changes under four clients that open a new
        connection per request: none is reset."""
        with open("/proc/sys/net/ipv4/tcp_migrate_req") as f:
            self.assertEqual(f.read().strip(), "1",
                             "set net.ipv4.tcp_migrate_req = 1 "
                             "(deploy/sysctl/90-claw-node.conf; "
                             "scripts/test.sh does)")
        na = self.agent([route("a.claw.test", self.one)])
        e = wait_edge(na, lambda e: e.get("state") == "ok")
        until(lambda: http_request(self.http, "a.claw.test").status == 308)
        stop = threading.Event()
        answered, failed = [0], []

        def client():
            while not stop.is_set():
                try:
                    http_request(self.http, "a.claw.test")
                    answered[0] += 1
                except OSError as err:
                    failed.append(repr(err))
        clients = [threading.Thread(target=client) for _ in range(4)]
        for t in clients:
            t.start()
        try:
            for gen in range(2, 22):
                na.set_desired(desired(gen, [route(
                    "a.claw.test", (self.two, self.one)[gen % 2])]))
                e = wait_edge(na, lambda x, n=e["loads"]: x["loads"] > n and
                              x["state"] == "ok")
        finally:
            stop.set()
            for t in clients:
                t.join(30)
        self.assertEqual(failed, [], "connections failed across 20 loads "
                         "(%d answered)" % answered[0])
        self.assertGreater(answered[0], 0)

    def test_bad_desired_state_keeps_routes(self):
        na = self.agent([route("a.claw.test", self.one)])
        wait_edge(na, lambda e: e.get("state") == "ok")
        root = self.caddy.local_root()
        until(lambda: self.get("a.claw.test", "/", root))
        # A host claimed twice, an address as a host: refused, the
        # previous state stays in force.
        na.set_desired(desired(2, [route("a.claw.test", self.one),
                                   route("a.claw.test", self.two)]))
        until(lambda: "listed twice" in na.log_text())
        na.set_desired(desired(3, [route("10.0.0.1", self.two)]))
        until(lambda: "'hosts' must hold" in na.log_text())
        self.assertEqual(na.status()["desired_generation"], 1)
        self.assertTrue(self.get("a.claw.test", "/", root).body.startswith(
            b"one"))


class TestCaddyLifecycle(EdgeCase):
    def test_restart_reapplied(self):
        na = self.agent([route("a.claw.test", self.one)])
        wait_edge(na, lambda e: e.get("state") == "ok")
        root = self.caddy.local_root()
        until(lambda: self.get("a.claw.test", "/", root).status == 200)
        self.caddy.kill()
        e = wait_edge(na, lambda e: e.get("state") == "down")
        self.assertIn("did not answer", e["error"])
        code, body = na.get("/readyz")
        self.assertEqual(code, 503)
        self.assertIn("the edge is down", body)
        self.caddy.start()
        e = wait_edge(na, lambda e: e.get("state") == "ok" and
                      e.get("reloads", 0) >= 1)
        # Its local CA lives in its data directory: the same root.
        r = until(lambda: self.get("a.claw.test", "/", root))
        self.assertTrue(r.body.startswith(b"one"))
        code, body = na.get("/readyz")
        self.assertNotIn("edge", body)

    def test_drift_reapplied(self):
        na = self.agent([route("a.claw.test", self.one)])
        e = wait_edge(na, lambda e: e.get("state") == "ok")
        loads = e["loads"]
        # Someone replaces Caddy's config behind the agent's back.
        status, _ = self.caddy.load({"admin": {"listen": self.caddy.listen}})
        self.assertEqual(status, 200)
        wait_edge(na, lambda e: e["loads"] > loads and e["reloads"] >= 1)
        cfg = self.caddy.config()
        self.assertIn("claw-https", cfg["apps"]["http"]["servers"])

    def test_refused_reported_then_applied(self):
        # Something else holds the HTTP listener's port: Caddy refuses
        # the config (and keeps its old one).
        blocker = socket.socket()
        self.addCleanup(blocker.close)
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        blocker.bind(("127.0.0.1", self.http))
        blocker.listen(1)
        na = self.agent([route("a.claw.test", self.one)])
        e = wait_edge(na, lambda e: e.get("state") == "refused")
        self.assertIn("Caddy refused the config", e["error"])
        self.assertIn("address already in use", e["error"])
        code, body = na.get("/readyz")
        self.assertEqual(code, 503)
        self.assertIn("the edge is refused", body)
        blocker.close()
        wait_edge(na, lambda e: e.get("state") == "ok")
        root = self.caddy.local_root()
        self.assertTrue(until(lambda: self.get("a.claw.test", "/", root)
                              .body.startswith(b"one")))


class TestUnixAdmin(EdgeCase):
    ADMIN = "unix"

    def test_admin_on_unix_socket(self):
        na = self.agent([route("a.claw.test", self.one)])
        wait_edge(na, lambda e: e.get("state") == "ok")
        root = self.caddy.local_root()
        r = until(lambda: self.get("a.claw.test", "/", root))
        self.assertTrue(r.body.startswith(b"one"))
        self.caddy.kill()
        self.caddy.start()
        wait_edge(na, lambda e: e.get("state") == "ok" and
                  e.get("reloads", 0) >= 1)
        self.assertTrue(until(lambda: self.get("a.claw.test", "/", root)))


class TestTLS(EdgeCase):
    def test_operator_files(self):
        d = tempfile.mkdtemp(prefix="claw-edge-files-")
        cert, key = make_cert(d, ["*.claw.test"], "wild")
        na = self.agent([route("a.claw.test", self.one)], tls="files",
                        extra=["--edge-cert", cert, "--edge-key", key])
        wait_edge(na, lambda e: e.get("state") == "ok")
        r = until(lambda: self.get("a.claw.test", "/", cert))
        self.assertTrue(r.body.startswith(b"one"))
        self.assertIn("load_files",
                      json.dumps(self.caddy.config()["apps"]["tls"]))
        # the validity of the certificate served, in the node's status:
        # the file's own dates (openssl's -days 2)
        e = wait_edge(na, lambda e: any(c.get("not_after")
                                        for c in e.get("certs", [])),
                      what="the certificate's dates")
        c = e["certs"][0]
        self.assertEqual(c["host"], "a.claw.test")
        want = subprocess.run(["openssl", "x509", "-noout", "-enddate",
                               "-in", cert], capture_output=True,
                              text=True, check=True).stdout
        after = datetime.strptime(c["not_after"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual(after.strftime("notAfter=%b %e %H:%M:%S %Y GMT\n"),
                         want)
        before = datetime.strptime(c["not_before"], "%Y-%m-%dT%H:%M:%SZ")
        self.assertEqual((after - before).total_seconds(), 2 * 86400)

    def test_acme_against_pebble(self):
        pebble = Pebble(self.http, self.https).start()
        self.addCleanup(pebble.stop)
        na = self.agent([route("a.claw.test", self.one)], tls="acme",
                        extra=["--edge-acme-ca", pebble.directory,
                               "--edge-acme-ca-root", pebble.ca_file])
        wait_edge(na, lambda e: e.get("state") == "ok")
        root = pebble.issuer_root()
        try:
            r = until(lambda: self.get("a.claw.test", "/", root), 90,
                      what="a certificate from pebble")
        except TimeoutError:
            self.fail("no certificate; caddy:\n%s\npebble:\n%s" %
                      (self.caddy.log_text()[-3000:],
                       pebble.log_text()[-3000:]))
        self.assertTrue(r.body.startswith(b"one"))
        # It is pebble's: Caddy's local CA does not verify it.
        with self.assertRaises(ssl.SSLError):
            self.get("a.claw.test", "/", self.caddy.local_root())

    def test_on_demand_asks(self):
        asked = []

        class Ask(BaseHTTPRequestHandler):
            def do_GET(self):
                dom = parse_qs(urlparse(self.path).query).get("domain",
                                                              [""])[0]
                asked.append(dom)
                self.send_response(200 if dom in ("chat.yes.test",
                                                  "a.claw.test") else 403)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass
        srv = ThreadingHTTPServer(("127.0.0.1", 0), Ask)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        self.addCleanup(srv.shutdown)
        ask = "http://127.0.0.1:%d/ask" % srv.server_address[1]
        na = self.agent([route("a.claw.test", self.one,
                               ["chat.yes.test", "chat.no.test"])],
                        extra=["--edge-ask", ask])
        wait_edge(na, lambda e: e.get("state") == "ok")
        root = self.caddy.local_root()
        r = until(lambda: self.get("chat.yes.test", "/", root), 30,
                  what="an on-demand certificate")
        self.assertTrue(r.body.startswith(b"one chat.yes.test"))
        with self.assertRaises(ssl.SSLError):
            self.get("chat.no.test", "/")
        self.assertIn("chat.yes.test", asked)
        self.assertIn("chat.no.test", asked)
        # Every routed host is asked for, the public host too.
        self.assertTrue(until(lambda: self.get("a.claw.test", "/", root)))
        self.assertIn("a.claw.test", asked)
        # A name the node does not route is never asked for.
        with self.assertRaises(ssl.SSLError):
            self.get("other.claw.test", "/")
        self.assertNotIn("other.claw.test", asked)


if __name__ == "__main__":
    unittest.main(verbosity=2)
