"""Integration: the HTTP server's bounds on slow and abusive clients are
control-plane settings (http-per-ip-limit, http-head-timeout-s,
http-body-timeout-s, http-per-token-limit; defaults the lib's), and what
they did is on /metrics (claw_httpd_*).

- defaults: /metrics shows the lib's limits (256 per address, 32 per
  credential) and the counters at zero;
- a credential over --http-per-token-limit gets 429 rate_limited with
  Retry-After while its streams are open; another credential does not; the
  429 is counted;
- a head trickled past --http-head-timeout-s is cut without a reply and
  counted, and the daemon still answers others;
- --http-per-ip-limit and --http-connection-limit are the ones in force
  (their behaviour: the lib's tests);
- bad values stop the daemon at start, naming the option.
No assertion is on wall-clock time: the tests wait for outcomes.
"""

import os
import re
import select
import socket
import subprocess
import time
import unittest
import urllib.request

from clawtest.cp import binary, with_pg
from clawtest.http import request
from clawtest.proc import wait_for
from common import stop_clean_with_pg


def metric(cp, name):
    r = request("GET", cp.url + "/metrics")
    assert r.status == 200, r
    m = re.search(r"^%s (\d+)$" % re.escape(name), r.text, re.M)
    return int(m.group(1)) if m else None


class HttpLimitsBase(unittest.TestCase):
    EXTRA = []

    @classmethod
    def setUpClass(cls):
        cls.pg, cls.cp = with_pg(cls.__name__.lower(), cls.EXTRA,
                                 name=cls.__name__)

    @classmethod
    def tearDownClass(cls):
        stop_clean_with_pg(cls.cp, cls.pg)


class DefaultsTest(HttpLimitsBase):

    def test_defaults_are_the_libs(self):
        self.assertEqual(metric(self.cp, "claw_httpd_per_ip_limit"), 256)
        self.assertEqual(metric(self.cp, "claw_httpd_per_token_limit"), 32)
        self.assertEqual(metric(self.cp, "claw_httpd_connection_limit"),
                         1024)
        self.assertGreaterEqual(
            metric(self.cp, "claw_httpd_connections_open"), 1)
        for c in ("claw_httpd_deadline_closed_total",
                  "claw_httpd_pressure_closed_total",
                  "claw_httpd_rate_limited_total"):
            self.assertEqual(metric(self.cp, c), 0, c)
        text = request("GET", self.cp.url + "/metrics").text
        self.assertIn("# TYPE claw_httpd_rate_limited_total counter", text)
        self.assertIn("# TYPE claw_httpd_connections_open gauge", text)

    def test_bad_values_stop_the_daemon(self):
        for args, want in ((["--http-per-ip-limit", "-1"],
                            "http-per-ip-limit"),
                           (["--http-head-timeout-s", "0"],
                            "http-head-timeout-s"),
                           (["--http-body-timeout-s", "99999"],
                            "http-body-timeout-s"),
                           (["--http-per-token-limit", "x"],
                            "http-per-token-limit"),
                           (["--http-connection-limit", "8"],
                            "http-connection-limit")):
            p = subprocess.run([binary(), "--listen", "127.0.0.1:0",
                                "--data-dir", "/nonexistent/cp10c"] + args,
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(want, p.stderr, args)


class TightTest(HttpLimitsBase):
    EXTRA = ["--http-per-token-limit", "2", "--http-head-timeout-s", "1",
             "--http-body-timeout-s", "2", "--http-per-ip-limit", "40",
             "--http-connection-limit", "200"]

    def stream(self, token):
        """An open /v1/events stream (a request in flight until closed)."""
        req = urllib.request.Request(
            self.cp.url + "/v1/events",
            headers={"Authorization": "Bearer " + token})
        return urllib.request.urlopen(req, timeout=10)

    def test_per_token_cap(self):
        self.assertEqual(metric(self.cp, "claw_httpd_per_token_limit"), 2)
        admin = self.cp.admin_token
        _, other = self.cp.new_token("operator")
        streams = [self.stream(admin), self.stream(admin)]
        try:
            r = request("GET", self.cp.url + "/v1/tenants", token=admin)
            self.assertEqual((r.status, r.error_code()),
                             (429, "rate_limited"), r)
            self.assertEqual(r.headers["Retry-After"], "1")
            # another credential is not held back by this one
            r = request("GET", self.cp.url + "/v1/tenants", token=other)
            self.assertEqual(r.status, 200, r)
            self.assertGreaterEqual(
                metric(self.cp, "claw_httpd_rate_limited_total"), 1)
        finally:
            for s in streams:
                s.close()
        wait_for(lambda: request("GET", self.cp.url + "/v1/tenants",
                                 token=admin).status == 200, 30,
                 what="the streams' slots given back")

    def test_trickled_head_is_cut(self):
        before = metric(self.cp, "claw_httpd_deadline_closed_total")
        port = int(self.cp.url.rsplit(":", 1)[1])
        s = socket.create_connection(("127.0.0.1", port))
        got, closed = b"", False
        try:
            # one byte at a time, never a whole head: each byte would
            # reset an idle timer, not the head's deadline; the whole
            # trickle (about 6 s) stays under the default deadline (10 s),
            # so the cut is --http-head-timeout-s's
            head = b"GET /v1/tenants HTTP/1.1\r\nHost: x\r\nX-Slow: " + \
                b"a" * 20
            for ch in head:
                s.sendall(bytes([ch]))
                time.sleep(0.1)
                if select.select([s], [], [], 0)[0]:
                    chunk = s.recv(4096)
                    if not chunk:
                        closed = True
                        break
                    got += chunk
        except (ConnectionResetError, BrokenPipeError):
            closed = True
        finally:
            s.close()
        self.assertTrue(closed, "the connection was cut")
        self.assertEqual(got, b"", "no reply to a head past its deadline")
        wait_for(lambda: metric(
            self.cp, "claw_httpd_deadline_closed_total") > before, 30,
            what="the cut counted")
        self.assertEqual(request("GET", self.cp.url + "/healthz").status,
                         200)

    def test_per_address_limit_in_force(self):
        # the behaviour is the lib's (tests/unit/lib test_per_ip_limit);
        # here: the option reaches the server
        self.assertEqual(metric(self.cp, "claw_httpd_per_ip_limit"), 40)
        self.assertEqual(metric(self.cp, "claw_httpd_connection_limit"),
                         200)


if __name__ == "__main__":
    unittest.main(verbosity=2)
