"""test_oauth.py - the runtime's OAuth 2.1 client against a small local
authorization server + MCP server (one process, 127.0.0.1, stdlib only)
that can misbehave on request:

- a stored grant (the tenant's secret shape, docs/runtime.md) whose
  access token expired is refreshed before the first request, with the
  resource indicator; a token the server no longer accepts (401) is
  refreshed once and the request sent again;
- a refresh that fails is reported ("grant expired") and not retried in
  a loop: by `claw-runtime mcp` as an error, and by the runtime in
  /readyz's mcp_auth;
- with --oauth-auto (the headless code flow of the CLI): a state
  mismatch in the redirect, an oversized token response, an issuer or
  resource mismatch and http endpoints without the test-only loopback
  setting are all refused, and no token is used afterwards.
"""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
from rtharness import BINARY, Runtime, RuntimeCase  # noqa: E402

LSAN = "suppressions=" + os.path.join(os.path.dirname(
    os.path.abspath(__file__)), "lsan.supp")


class Server:
    """MCP endpoint /mcp (Bearer required) and an authorization server
    on one port. Knobs: good_tokens, refresh_ok, bad_state, big_token,
    wrong_issuer, wrong_resource. log: (method, path, form or query)."""

    def __init__(self):
        self.good_tokens = {"fresh-token"}
        self.refresh_ok = True
        self.bad_state = self.big_token = False
        self.wrong_issuer = self.wrong_resource = False
        self.log = []
        self.bearers = []
        srv = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def reply(self, code, body, headers=()):
                data = body if isinstance(body, bytes) else \
                    json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                u = urllib.parse.urlparse(self.path)
                q = dict(urllib.parse.parse_qsl(u.query))
                srv.log.append(("GET", u.path, q))
                base = srv.url
                if u.path == "/.well-known/oauth-protected-resource/mcp":
                    res = base + ("/other" if srv.wrong_resource else "/mcp")
                    return self.reply(200, {
                        "resource": res, "authorization_servers": [base]})
                if u.path == "/.well-known/oauth-authorization-server":
                    iss = "http://127.0.0.1:1" if srv.wrong_issuer else base
                    return self.reply(200, {
                        "issuer": iss,
                        "authorization_endpoint": base + "/authorize",
                        "token_endpoint": base + "/token",
                        "registration_endpoint": base + "/register",
                        "code_challenge_methods_supported": ["S256"],
                        "token_endpoint_auth_methods_supported": ["none"]})
                if u.path == "/authorize":
                    state = "forged" if srv.bad_state else q["state"]
                    loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                        {"code": "the-code", "state": state})
                    return self.reply(302, {}, [("Location", loc)])
                self.reply(404, {})

            def do_POST(self):
                u = urllib.parse.urlparse(self.path)
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n).decode()
                if u.path == "/mcp":
                    auth = self.headers.get("Authorization") or ""
                    srv.bearers.append(auth)
                    tok = auth[7:] if auth.startswith("Bearer ") else ""
                    if tok not in srv.good_tokens:
                        return self.reply(401, {"error": "invalid_token"}, [(
                            "WWW-Authenticate", 'Bearer resource_metadata="%s'
                            '/.well-known/oauth-protected-resource/mcp"'
                            % srv.url)])
                    msg = json.loads(body)
                    if "id" not in msg:
                        self.send_response(202)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    m = msg["method"]
                    res = {}
                    if m == "initialize":
                        res = {"protocolVersion": "2025-06-18",
                               "capabilities": {"tools": {}},
                               "serverInfo": {"name": "t", "version": "1"}}
                    elif m == "tools/list":
                        res = {"tools": [{"name": "hello", "inputSchema":
                                          {"type": "object"}}]}
                    elif m == "tools/call":
                        res = {"content": [{"type": "text", "text": "hi"}]}
                    return self.reply(200, {"jsonrpc": "2.0",
                                            "id": msg["id"], "result": res})
                form = dict(urllib.parse.parse_qsl(body))
                srv.log.append(("POST", u.path, form))
                if u.path == "/register":
                    return self.reply(201, {"client_id": "dyn-client"})
                if u.path == "/token":
                    if form.get("grant_type") == "refresh_token" and \
                            not srv.refresh_ok:
                        return self.reply(400, {"error": "invalid_grant"})
                    if srv.big_token:
                        return self.reply(200, {
                            "access_token": "fresh-token",
                            "token_type": "Bearer",
                            "padding": "x" * 20000})
                    return self.reply(200, {
                        "access_token": "fresh-token", "token_type": "Bearer",
                        "expires_in": 3600, "refresh_token": "rt-2"})
                self.reply(404, {})

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever,
                         daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def posts(self, path):
        return [e[2] for e in self.log if e[0] == "POST" and e[1] == path]


class CliTest(unittest.TestCase):
    def setUp(self):
        self.srv = Server()
        self.tmp = tempfile.mkdtemp(prefix="rt-oauth-")

    def tearDown(self):
        self.srv.close()

    def cli(self, *opts, grant=None):
        args = [BINARY, "mcp", "call", "--timeout-ms", "5000"]
        if grant is not None:
            path = os.path.join(self.tmp, "grant.json")
            with open(path, "w") as f:
                json.dump(grant, f)
            args += ["--oauth-grant-file", path]
        args += list(opts) + ["--url", self.srv.url + "/mcp", "hello", "{}"]
        p = subprocess.run(args, capture_output=True, text=True,
                           timeout=60, env=dict(os.environ,
                                                LSAN_OPTIONS=LSAN))
        self.assertNotIn("Sanitizer", p.stderr)
        self.assertNotIn("runtime error:", p.stderr)
        self.assertNotIn("fresh-token", p.stderr)   # never logged
        self.assertNotIn("rt-1", p.stderr)
        return p

    def grant(self, **kw):
        g = {"access_token": "old-token", "refresh_token": "rt-1",
             "expires_at": int(time.time()) + 3600,
             "token_endpoint": self.srv.url + "/token",
             "client_id": "cid", "token_endpoint_auth_method": "none",
             "resource": self.srv.url + "/mcp"}
        g.update(kw)
        return g

    def test_expired_grant_refreshed_before_use(self):
        p = self.cli("--oauth-allow-http-loopback",
                     grant=self.grant(expires_at=int(time.time()) - 5))
        self.assertEqual(p.returncode, 0, p.stderr)
        ref = self.srv.posts("/token")
        self.assertEqual(len(ref), 1)
        self.assertEqual(ref[0]["grant_type"], "refresh_token")
        self.assertEqual(ref[0]["refresh_token"], "rt-1")
        self.assertEqual(ref[0]["resource"], self.srv.url + "/mcp")
        self.assertEqual(self.srv.bearers[0], "Bearer fresh-token")

    def test_401_refreshes_once_then_retries(self):
        p = self.cli("--oauth-allow-http-loopback", grant=self.grant())
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.srv.bearers[:2],
                         ["Bearer old-token", "Bearer fresh-token"])
        self.assertEqual(len(self.srv.posts("/token")), 1)

    def test_failed_refresh_is_reported_not_looped(self):
        self.srv.refresh_ok = False
        p = self.cli("--oauth-allow-http-loopback", grant=self.grant())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("grant expired", p.stderr)
        # one refresh per connection attempt at most, never a tight loop
        self.assertLessEqual(len(self.srv.posts("/token")), 3)

    def test_http_token_endpoint_refused_without_test_setting(self):
        p = self.cli(grant=self.grant())
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("grant", p.stderr)
        self.assertEqual(self.srv.posts("/token"), [])

    def test_auto_flow(self):
        p = self.cli("--oauth-auto", "--oauth-allow-http-loopback")
        self.assertEqual(p.returncode, 0, p.stderr)
        auth = [e[2] for e in self.srv.log if e[1] == "/authorize"][0]
        self.assertEqual(auth["code_challenge_method"], "S256")
        self.assertEqual(auth["resource"], self.srv.url + "/mcp")
        tok = self.srv.posts("/token")[0]
        self.assertEqual(tok["grant_type"], "authorization_code")
        self.assertEqual(tok["resource"], self.srv.url + "/mcp")
        self.assertEqual(len(tok["code_verifier"]), 43)

    def refused(self, *opts):
        p = self.cli("--oauth-auto", *opts)
        self.assertNotEqual(p.returncode, 0)
        self.assertNotIn("Bearer fresh-token", self.srv.bearers)
        return p

    def test_state_mismatch_refused(self):
        self.srv.bad_state = True
        p = self.refused("--oauth-allow-http-loopback")
        self.assertIn("state does not match", p.stderr)
        self.assertEqual(self.srv.posts("/token"), [])

    def test_oversized_token_response_refused(self):
        self.srv.big_token = True
        p = self.refused("--oauth-allow-http-loopback")
        self.assertIn("refused", p.stderr)

    def test_issuer_mismatch_refused(self):
        self.srv.wrong_issuer = True
        p = self.refused("--oauth-allow-http-loopback")
        self.assertIn('"issuer" does not match', p.stderr)
        self.assertEqual(self.srv.posts("/register"), [])

    def test_resource_mismatch_refused(self):
        self.srv.wrong_resource = True
        p = self.refused("--oauth-allow-http-loopback")
        self.assertIn('"resource" does not match', p.stderr)
        self.assertEqual(self.srv.posts("/register"), [])

    def test_http_refused_outside_tests(self):
        p = self.refused()
        self.assertIn("https", p.stderr)
        self.assertEqual(self.srv.posts("/register"), [])


class RuntimeStatusTest(RuntimeCase):
    def start(self, srv, secrets):
        """A runtime with srv's MCP server "remote" behind OAuth (its
        grant the secret remote_grant, when secrets hold it)."""
        rt = Runtime({"providers": [{
            "kind": "openai", "base_url": srv.url + "/llm",
            "model": "m", "api_key_secret": "key"}],
            "mcp_servers": [{
                "name": "remote", "url": srv.url + "/mcp",
                "oauth": {"token_secret": "remote_grant"},
                "oauth_allow_http_loopback": True, "timeout_ms": 3000}]},
            secrets=secrets)
        self.rts.append(rt)
        return rt.start()

    def test_not_connected_yet(self):
        # the grant's secret is not stored yet (clawctl mcp connect has
        # not run): the runtime starts and serves, the server waits
        srv = Server()
        try:
            rt = self.start(srv, {"key": "k"})
            st, body = rt.get("/readyz")
            self.assertEqual(st, 200, body)
            ready = json.loads(body)
            self.assertEqual(ready["mcp_servers_up"], 0)
            self.assertIn("remote", ready["mcp_down"])
        finally:
            srv.close()

    def test_expired_grant_in_readyz(self):
        srv = Server()
        srv.refresh_ok = False
        try:
            grant = {"access_token": "old-token", "refresh_token": "rt-1",
                     "token_endpoint": srv.url + "/token",
                     "client_id": "cid",
                     "token_endpoint_auth_method": "none"}
            rt = self.start(srv, {"remote_grant": json.dumps(grant),
                                  "key": "k"})
            st, body = rt.get("/readyz")
            self.assertEqual(st, 200, body)
            ready = json.loads(body)
            self.assertEqual(ready["mcp_servers_up"], 0)
            self.assertIn("grant expired",
                          ready["mcp_auth"].get("remote", ""))
            self.assertNotIn("rt-1", rt.log_text())
            self.assertNotIn("old-token", rt.log_text())
        finally:
            srv.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
