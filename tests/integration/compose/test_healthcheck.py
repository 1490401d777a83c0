"""The daemons' probe mode for container health checks (issue 15, point
1): `claw-controlplane healthcheck [URL]` and `claw-node-agent healthcheck
[SOCKET]` GET /readyz once and exit 0 only on a 200, printing one line.

Proves, against a fake /readyz (TCP for the control plane, a unix socket
for the node agent): 200 -> exit 0 "ready"; 503 -> exit 1 with the answer's
reason on one line; nothing listening -> exit 1 "no answer"; a bad argument
-> exit 2; the default URL follows CLAW_LISTEN's port; --help lists the
subcommand.
"""

import http.server
import os
import socketserver
import subprocess
import tempfile
import threading
import unittest

from clawtest.docker import BUILD

CP = os.path.join(BUILD, "controlplane", "claw-controlplane")
NA = os.path.join(BUILD, "node-agent", "claw-node-agent")


class Readyz(http.server.BaseHTTPRequestHandler):
    """/readyz answers with the server's (status, body); counts hits."""

    def do_GET(self):  # noqa: N802 - http.server's name
        status, body = self.server.answer
        self.server.paths.append(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class UnixHTTPServer(socketserver.ThreadingMixIn,
                     socketserver.UnixStreamServer):
    daemon_threads = True

    def get_request(self):
        conn, _ = super().get_request()
        return conn, ("local", 0)


class TCPHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def serve(case, server):
    """server answering 200 until told otherwise, stopped when case's
    test ends."""
    server.answer = (200, b'{"status":"ready"}')
    server.paths = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    case.addCleanup(server.server_close)
    case.addCleanup(server.shutdown)
    return server


def run(args, env=None):
    e = dict(os.environ)
    e.pop("CLAW_LISTEN", None)
    e.pop("CLAW_NODE_AGENT_API_SOCKET", None)
    e.update(env or {})
    r = subprocess.run(args, capture_output=True, text=True, env=e,
                       timeout=60)
    return r.returncode, r.stdout + r.stderr


NOT_READY = (b'{"error": {"code": "unavailable", "message": '
             b'"the database does not answer"}}\n{second line}')


class Probe(unittest.TestCase):
    def expect(self, args, status, *texts, env=None):
        """Run args in env: exit status status and every one of texts
        in its output; the output."""
        rc, out = run(args, env)
        self.assertEqual(rc, status, out)
        for t in texts:
            self.assertIn(t, out)
        return out


class ControlPlaneHealthcheck(Probe):
    def setUp(self):
        self.srv = serve(self, TCPHTTPServer(("127.0.0.1", 0), Readyz))
        self.url = "http://127.0.0.1:%d/readyz" % self.srv.server_port

    def test_ready(self):
        out = self.expect([CP, "healthcheck", self.url], 0)
        self.assertEqual(out, "claw-controlplane: ready (%s)\n" % self.url)
        self.assertEqual(self.srv.paths, ["/readyz"])

    def test_not_ready_says_why_on_one_line(self):
        self.srv.answer = (503, NOT_READY)
        out = self.expect([CP, "healthcheck", self.url], 1,
                          "not ready: HTTP 503",
                          "the database does not answer")
        self.assertNotIn("second line", out)
        self.assertEqual(out.count("\n"), 1, out)

    def test_nothing_listening(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.expect([CP, "healthcheck", self.url], 1,
                    "not ready: no answer from %s" % self.url)

    def test_default_url_from_claw_listen(self):
        self.expect([CP, "healthcheck"], 0, "ready (%s)" % self.url,
                    env={"CLAW_LISTEN": "0.0.0.0:%d" % self.srv.server_port})

    def test_bad_usage(self):
        for args in (["ftp://x/readyz"], [self.url, "more"]):
            self.expect([CP, "healthcheck"] + args, 2,
                        "usage: claw-controlplane healthcheck")
        self.assertEqual(self.srv.paths, [])

    def test_help_lists_it(self):
        self.expect([CP, "--help"], 0, "healthcheck [URL]")


class NodeAgentHealthcheck(Probe):
    def setUp(self):
        d = tempfile.mkdtemp(prefix="claw-hc-")
        self.sock = os.path.join(d, "api.sock")
        self.addCleanup(os.rmdir, d)
        self.addCleanup(os.unlink, self.sock)
        self.srv = serve(self, UnixHTTPServer(self.sock, Readyz))

    def test_ready_on_the_api_socket(self):
        out = self.expect([NA, "healthcheck", self.sock], 0)
        self.assertEqual(out, "claw-node-agent: ready (%s)\n" % self.sock)
        self.assertEqual(self.srv.paths, ["/readyz"])

    def test_socket_from_the_environment(self):
        self.expect([NA, "healthcheck"], 0, "ready (%s)" % self.sock,
                    env={"CLAW_NODE_AGENT_API_SOCKET": self.sock})

    def test_not_ready(self):
        self.srv.answer = (503, b'{"error": {"message": '
                                b'"the Docker engine does not answer"}}')
        self.expect([NA, "healthcheck", self.sock], 1, "HTTP 503",
                    "the Docker engine does not answer")

    def test_no_socket(self):
        self.expect([NA, "healthcheck", self.sock + ".missing"], 1,
                    "not ready: no answer")

    def test_bad_usage_and_help(self):
        self.expect([NA, "healthcheck", "relative.sock"], 2,
                    "usage: claw-node-agent healthcheck")
        self.expect([NA, "--help"], 0, "healthcheck [SOCKET]")


if __name__ == "__main__":
    unittest.main()
