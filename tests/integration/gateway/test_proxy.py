"""The egress allow-list proxy: CONNECT to an allowed host:port is
tunnelled byte for byte; any other host or port gets 403 (logged and
counted); a request that is not CONNECT gets 405; an allowed address
that cannot be reached gets 502, logged with the reason. A name on the list that
resolves to an internal address (here localhost: loopback) is refused too,
until the allow-list names the address itself; the fakes on 127.0.0.1 are
reached because the tests list 127.0.0.1 explicitly."""

import os
import socket
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import gwfakes as F  # noqa: E402
from clawtest.http import read_head  # noqa: E402


def echo_server():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)

    def serve():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            data = c.recv(4096)
            c.sendall(b"echo:" + data)
            c.close()
    threading.Thread(target=serve, daemon=True).start()
    return s


def connect(port, target):
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    c.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" %
               (target, target)).encode())
    return c, read_head(c, 1).decode()


class Proxy(unittest.TestCase):
    def test_allow_list(self):
        echo = echo_server()
        self.addCleanup(echo.close)
        port = echo.getsockname()[1]
        rt = F.FakeRuntime()
        self.addCleanup(rt.close)
        gw = F.Gateway(rt.url, {"tenant": "t1", "channels": {},
                                "egress_allow": ["127.0.0.1:%d" % port,
                                                 "*.example.test:443"]},
                       secrets={}).start()
        self.addCleanup(gw.stop)
        c, head = connect(gw.proxy_port, "127.0.0.1:%d" % port)
        self.assertTrue(head.startswith("HTTP/1.1 200"), head)
        c.sendall(b"ping")
        self.assertEqual(c.recv(100), b"echo:ping")
        c.close()
        for target in ("127.0.0.1:%d" % (port + 1), "example.test:443",
                       "evil.test:443", "localhost:%d" % port):
            c, head = connect(gw.proxy_port, target)
            self.assertTrue(head.startswith("HTTP/1.1 403"),
                            target + " " + head)
            c.close()
        s = socket.create_connection(("127.0.0.1", gw.proxy_port))
        s.sendall(b"GET http://127.0.0.1:%d/ HTTP/1.1\r\n\r\n" % port)
        self.assertTrue(s.recv(100).startswith(b"HTTP/1.1 405"))
        s.close()
        self.assertEqual(gw.metric(
            'claw_gateway_proxy_connections_total{decision="refused"}'),
            4)
        self.assertEqual(gw.metric(
            'claw_gateway_proxy_refused_total{reason="not_listed"}'), 4)
        self.assertIn("refused evil.test:443", gw.daemon.log_text())

    def test_unreachable_says_why(self):
        """An allowed address nothing listens on: 502, and the log says
        why the dial failed (docs/reliability.md, finding 19: without the
        reason a refused connection and a timeout look the same)."""
        s = socket.socket()
        s.bind(("127.0.0.1", 0))  # bound, never listening: refused
        self.addCleanup(s.close)
        port = s.getsockname()[1]
        rt = F.FakeRuntime()
        self.addCleanup(rt.close)
        gw = F.Gateway(rt.url, {"tenant": "t1", "channels": {},
                                "egress_allow": ["127.0.0.1:%d" % port]},
                       secrets={}).start()
        self.addCleanup(gw.stop)
        c, head = connect(gw.proxy_port, "127.0.0.1:%d" % port)
        self.assertTrue(head.startswith("HTTP/1.1 502"), head)
        c.close()
        self.assertIn("unable to reach 127.0.0.1:%d: Connection refused"
                      % port, gw.daemon.log_text())

    def test_internal_addresses_need_naming(self):
        echo = echo_server()
        self.addCleanup(echo.close)
        port = echo.getsockname()[1]
        rt = F.FakeRuntime()
        self.addCleanup(rt.close)
        cfg = {"tenant": "t1", "channels": {},
               "egress_allow": ["localhost:%d" % port]}
        gw = F.Gateway(rt.url, cfg, secrets={}).start()
        self.addCleanup(gw.stop)
        # listed by name, but the name resolves to loopback (rebinding
        # to an internal address looks the same): refused, logged, counted
        c, head = connect(gw.proxy_port, "localhost:%d" % port)
        self.assertTrue(head.startswith("HTTP/1.1 403"), head)
        c.close()
        self.assertEqual(gw.metric(
            'claw_gateway_proxy_refused_total{reason="internal_address"}'),
            1)
        self.assertEqual(gw.metric(
            'claw_gateway_proxy_connections_total{decision="refused"}'), 1)
        log = gw.daemon.log_text()
        self.assertIn("refused localhost:%d" % port, log)
        self.assertIn("is loopback", log)
        # unlisted internal literals, mapped or not, are refused as well
        for target in ("127.0.0.1:%d" % port,
                       "[::ffff:127.0.0.1]:%d" % port,
                       "169.254.169.254:80", "[::1]:%d" % port):
            c, head = connect(gw.proxy_port, target)
            self.assertTrue(head.startswith("HTTP/1.1 403"),
                            target + " " + head)
            c.close()
        # naming the addresses explicitly allows the name and the literals
        cfg["egress_allow"] += ["127.0.0.1:%d" % port, "[::1]:%d" % port]
        gw.reload(cfg)
        for target in ("localhost:%d" % port, "127.0.0.1:%d" % port,
                       "[::ffff:127.0.0.1]:%d" % port):
            c, head = connect(gw.proxy_port, target)
            self.assertTrue(head.startswith("HTTP/1.1 200"),
                            target + " " + head)
            c.sendall(b"ping")
            self.assertEqual(c.recv(100), b"echo:ping")
            c.close()
        self.assertEqual(gw.metric(
            'claw_gateway_proxy_refused_total{reason="internal_address"}'),
            1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
