"""Integration: OAuth 2.1 "connect" of a tenant's remote MCP server, the
control plane being the redirect endpoint (controlplane/api/oauth.c;
docs/fleet.md, "Connecting an OAuth MCP server").

The authorization server + protected MCP resource is the runtime's OAuth
test server (tests/integration/runtime/test_oauth.py: RFC 9728 metadata,
RFC 8414 metadata, RFC 7591 registration, PKCE, resource indicators; its
/authorize redirects at once, without a user), with two more knobs here:
an error redirect and RFC 9207's iss. The "browser" is urllib following
the authorization URL's redirect to the control plane's callback.

1. connect -> authorization URL -> callback: the grant is the tenant's
   secret (secrets API metadata, and a node's assignment gets a JSON grant
   with access_token, refresh_token, token endpoint, client, resource);
   the token request carried the PKCE verifier of the URL's challenge and
   the resource; no token is in the audit log or the daemon's log; the
   flow reads connected with redeploy_required; the same callback again
   is 409 oauth_state_used.
2. Refused, nothing stored: a forged state, the AS's error, a wrong or
   missing iss (RFC 9207), an oversized token response, an expired flow
   (callback); a wrong resource or issuer in the metadata (connect); an
   http endpoint without --oauth-allow-http-loopback (connect).
3. clawctl mcp connect prints the URL, waits, says connected and to
   redeploy (exit 0), or why not (exit 1); --no-wait returns the flow.
4. A pre-registered client (oauth.client_id + client_secret_secret) is
   used instead of registration, its secret never in the log or a form.
5. A tenant's token cannot connect another tenant's server nor read its
   flow (404); an operator may connect, an auditor may not; an unknown
   server is 404, one without oauth 422.
"""

import base64
import hashlib
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.parse
import urllib.request

from clawtest.cp import ControlPlane, build_dir
from clawtest.http import free_port
from clawtest.pg import PgCluster
from clawtest.proc import wait_for
from common import CpTestCase

SRC = os.environ.get("CLAW_SOURCE_DIR", ".")
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "cli"))
sys.path.insert(0, os.path.join(SRC, "tests", "integration", "runtime"))
from fakenode import FakeNode  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "rt_oauth_fake", os.path.join(SRC, "tests", "integration", "runtime",
                                  "test_oauth.py"))
_rt = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rt)

CLAWCTL = os.path.join(build_dir(), "cli", "clawctl")
IMG = {"gateway_image": "registry.test/gw:1",
       "runtime_image": "registry.test/rt:1"}
_names = itertools.count(1)


def oauth_server():
    """The runtime tests' server with knobs auth_error (the redirect
    carries error=access_denied), iss (a value for the redirect's iss)
    and iss_supported (the metadata's
    authorization_response_iss_parameter_supported)."""
    srv = _rt.Server()
    srv.auth_error = False
    srv.iss = None
    srv.iss_supported = False
    base = srv.httpd.RequestHandlerClass

    class H(base):
        def reply(self, code, body, headers=()):
            if (srv.iss_supported and isinstance(body, dict) and
                    self.path.startswith(
                        "/.well-known/oauth-authorization-server")):
                body = dict(body,
                            authorization_response_iss_parameter_supported=(
                                True))
            return base.reply(self, code, body, headers)

        def do_GET(self):
            u = urllib.parse.urlparse(self.path)
            q = dict(urllib.parse.parse_qsl(u.query))
            if u.path == "/authorize" and (srv.auth_error or
                                           srv.iss is not None):
                srv.log.append(("GET", u.path, q))
                p = {"state": q["state"]}
                if srv.auth_error:
                    p["error"] = "access_denied"
                else:
                    p["code"] = "the-code"
                if srv.iss is not None:
                    p["iss"] = srv.iss
                loc = q["redirect_uri"] + "?" + urllib.parse.urlencode(p)
                return self.reply(302, {}, [("Location", loc)])
            return base.do_GET(self)

    srv.httpd.RequestHandlerClass = H
    return srv


def browse(url):
    """Open url as a browser would (redirects followed): (status, body)."""
    try:
        with urllib.request.urlopen(url, timeout=30) as f:
            return f.status, f.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class McpConnectTest(CpTestCase):

    @classmethod
    def setUpClass(cls):
        # CpTestCase's set-up, with the test-only loopback leave
        cls.pg = PgCluster().start()
        cls.db = "cpmc"
        cls.db_url = cls.pg.create_database(cls.db)
        # a known port: the redirect URI is --public-url's
        port = free_port()
        cls.cp = ControlPlane(database_url=cls.db_url, extra_args=[
            "--listen", "127.0.0.1:%d" % port,
            "--public-url", "http://127.0.0.1:%d/" % port,
            "--oauth-allow-http-loopback", "true"]).start()
        cls.admin = cls.cp.client()
        cls.srv = oauth_server()

    @classmethod
    def tearDownClass(cls):
        cls.srv.close()
        super().tearDownClass()

    def setUp(self):
        s = self.srv
        s.bad_state = s.big_token = s.wrong_issuer = False
        s.wrong_resource = s.auth_error = s.iss_supported = False
        s.iss = None

    def tenant(self, oauth=True, cp=None, client=None):
        """A tenant deployed with the MCP server "remote" (OAuth, grant
        secret "remote_grant"; with client, the pre-registered client id
        and the secret "remote_client" holding client's value): (slug,
        its tenant token)."""
        cp = cp or self.cp
        admin = cp.client()
        slug = "mc%d" % next(_names)
        r = admin.post("/v1/tenants", {"slug": slug, "name": slug})
        self.assertEqual(r.status, 201, r)
        server = {"name": "remote", "url": self.srv.url + "/mcp"}
        if oauth:
            server["oauth"] = {"token_secret": "remote_grant"}
            server["oauth_allow_http_loopback"] = True
        if client:
            server["oauth"].update(client_id=client[0],
                                   client_secret_secret="remote_client")
            r = admin.put("/v1/tenants/%s/secrets/remote_client" % slug,
                          {"value": client[1]})
            self.assertEqual(r.status, 201, r)
        r = admin.post("/v1/tenants/%s/deploy" % slug, dict(
            IMG, runtime_config={"tenant": slug, "mcp_servers": [server]}))
        self.assertEqual(r.status, 202, r)
        _, tok = cp.new_token("tenant", tenant=slug)
        return slug, cp.client(tok)

    def connect(self, slug, client):
        r = client.post("/v1/tenants/%s/mcp/remote/connect" % slug)
        self.assertEqual(r.status, 201, r)
        j = r.json()
        self.assertTrue(j["redeploy_required"])
        self.assertTrue(j["flow"].startswith("oaf_"))
        return j

    def flow(self, slug, flow, client=None):
        r = (client or self.admin).get(
            "/v1/tenants/%s/mcp/remote/connect/%s" % (slug, flow))
        self.assertEqual(r.status, 200, r)
        return r.json()

    def secret_names(self, slug):
        r = self.admin.get("/v1/tenants/%s/secrets" % slug)
        self.assertEqual(r.status, 200, r)
        return [s["name"] for s in r.json()["items"]]

    def assertRefused(self, status, body, code, slug, flow):
        self.assertEqual(status, int(code[0]), body)
        self.assertIn(code[1], body)
        self.assertNotIn("remote_grant", self.secret_names(slug))
        if flow:
            self.assertEqual(self.flow(slug, flow)["state"], "failed")

    def test_connect_stores_the_grant(self):
        r = self.admin.post("/v1/nodes/join-tokens", {})
        node = FakeNode(self.cp.url, r.json()["token"], "mcn1")
        slug, client = self.tenant()
        j = self.connect(slug, client)
        self.assertEqual(self.flow(slug, j["flow"], client)["state"],
                         "pending")
        status, body = browse(j["authorization_url"])
        self.assertEqual(status, 200, body)
        self.assertIn("Connected", body)
        f = self.flow(slug, j["flow"], client)
        self.assertEqual(f["state"], "connected", f)
        self.assertTrue(f["redeploy_required"])
        # the authorization request: PKCE S256, state, resource; the token
        # request: the verifier of that challenge, and the resource
        az = [e[2] for e in self.srv.log if e[1] == "/authorize"][-1]
        self.assertEqual(az["code_challenge_method"], "S256")
        self.assertEqual(az["resource"], self.srv.url + "/mcp")
        self.assertEqual(az["redirect_uri"],
                         self.cp.url + "/v1/oauth/callback")
        tok = self.srv.posts("/token")[-1]
        self.assertEqual(tok["grant_type"], "authorization_code")
        self.assertEqual(tok["resource"], self.srv.url + "/mcp")
        ch = base64.urlsafe_b64encode(hashlib.sha256(
            tok["code_verifier"].encode()).digest()).rstrip(b"=").decode()
        self.assertEqual(ch, az["code_challenge"])
        self.assertEqual(az["client_id"], "dyn-client")  # registered
        # the secret, as the secrets API and a node see it
        self.assertIn("remote_grant", self.secret_names(slug))

        def grant():
            node.heartbeat()
            t = node.tenant(slug)
            v = t and t["runtime"].get("secrets", {}).get("remote_grant")
            return v
        g = json.loads(wait_for(grant, 60, what="the grant on the node"))
        self.assertEqual(g["access_token"], "fresh-token")
        self.assertEqual(g["refresh_token"], "rt-2")
        self.assertEqual(g["token_endpoint"], self.srv.url + "/token")
        self.assertEqual(g["client_id"], "dyn-client")
        self.assertEqual(g["token_endpoint_auth_method"], "none")
        self.assertEqual(g["resource"], self.srv.url + "/mcp")
        self.assertIsInstance(g["expires_at"], int)
        # a replay of the callback
        status, body = browse(j["authorization_url"])
        self.assertEqual(status, 409, body)
        self.assertIn("oauth_state_used", body)
        # never a token, code or verifier in the audit log or the log
        audit = json.dumps(self.admin.get("/v1/audit?limit=500").json())
        self.assertIn("mcp.connect", audit)
        self.assertIn("secret.put", audit)
        log = self.cp.daemon.log_text()
        for s in ("fresh-token", "rt-2", "the-code", tok["code_verifier"]):
            self.assertNotIn(s, audit)
            self.assertNotIn(s, log)

    def test_pre_registered_client(self):
        registered = len(self.srv.posts("/register"))
        slug, client = self.tenant(client=("pre-client", "s3cret"))
        j = self.connect(slug, client)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlparse(
            j["authorization_url"]).query))
        self.assertEqual(q["client_id"], "pre-client")
        status, body = browse(j["authorization_url"])
        self.assertEqual(status, 200, body)
        self.assertEqual(len(self.srv.posts("/register")), registered)
        # the secret went to the token endpoint (Basic: not in the form)
        self.assertNotIn("s3cret", json.dumps(self.srv.posts("/token")[-1]))
        self.assertNotIn("s3cret", self.cp.daemon.log_text())
        self.assertEqual(self.flow(slug, j["flow"])["state"], "connected")

    def test_operator_may_connect(self):
        slug, _ = self.tenant()
        _, tok = self.cp.new_token("operator")
        self.connect(slug, self.cp.client(tok))

    def clawctl(self, *args, token):
        e = {k: v for k, v in os.environ.items()
             if not k.startswith("CLAW_TOKEN")}
        e.update(CLAW_URL=self.cp.url, CLAW_TOKEN=token)
        return subprocess.Popen([CLAWCTL] + list(args), env=e, text=True,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)

    def clawctl_connect(self, slug, client):
        """clawctl mcp connect, its URL opened: (exit, URL, page status,
        page, stderr)."""
        p = self.clawctl("mcp", "connect", slug, "remote",
                         token=client.token)
        try:
            url = p.stdout.readline().strip()
            status, body = browse(url)
            _, err = p.communicate(timeout=60)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
        return p.returncode, url, status, body, err

    def test_clawctl_connect_waits(self):
        slug, client = self.tenant()
        rc, url, status, body, err = self.clawctl_connect(slug, client)
        self.assertTrue(url.startswith(self.srv.url + "/authorize?"), url)
        self.assertEqual(status, 200, body)
        self.assertEqual(rc, 0, err)
        self.assertIn("connected", err)
        self.assertIn("Redeploy", err)
        self.assertIn("remote_grant", self.secret_names(slug))
        # a failure ends it with exit 1; --no-wait returns at once
        self.srv.auth_error = True
        rc, url, status, body, err = self.clawctl_connect(slug, client)
        self.assertEqual(rc, 1, err)
        self.assertIn("access_denied", err)
        p = self.clawctl("mcp", "connect", slug, "remote", "--no-wait",
                         "-o", "json", token=client.token)
        out, err = p.communicate(timeout=60)
        self.assertEqual(p.returncode, 0, err)
        self.assertTrue(json.loads(out)["redeploy_required"])

    def refused_at_callback(self, knobs, code):
        """A tenant's flow, the server's knobs set, the URL opened: the
        callback refuses with code (status, code) and stores nothing.
        Returns (slug, flow)."""
        slug, client = self.tenant()
        j = self.connect(slug, client)
        for k, v in knobs.items():
            setattr(self.srv, k, v)
        status, body = browse(j["authorization_url"])
        forged = knobs.get("bad_state")
        self.assertRefused(status, body, code, slug,
                           None if forged else j["flow"])
        return slug, j["flow"]

    def test_forged_state_is_refused(self):
        slug, flow = self.refused_at_callback(
            {"bad_state": True}, (400, "oauth_state_invalid"))
        self.assertEqual(self.flow(slug, flow)["state"], "pending")

    def test_authorization_error_is_refused(self):
        slug, flow = self.refused_at_callback(
            {"auth_error": True}, (400, "oauth_denied"))
        self.assertIn("access_denied", self.flow(slug, flow)["reason"])

    def test_wrong_iss_is_refused(self):
        for iss, supported in (("http://127.0.0.1:1", False),
                               (None, True)):
            with self.subTest(iss=iss, supported=supported):
                self.srv.iss_supported = supported
                # iss None: the redirect has none
                self.refused_at_callback(
                    {"iss": iss}, (502, "oauth_issuer_mismatch"))
        # the right iss where the server sends it: connected
        self.srv.iss_supported = True
        slug, client = self.tenant()
        j = self.connect(slug, client)
        self.srv.iss = self.srv.url
        status, body = browse(j["authorization_url"])
        self.assertEqual(status, 200, body)
        self.assertIn("remote_grant", self.secret_names(slug))

    def test_oversized_token_response_is_refused(self):
        self.refused_at_callback({"big_token": True},
                                 (502, "oauth_server_refused"))

    def test_expired_flow_is_refused(self):
        slug, client = self.tenant()
        j = self.connect(slug, client)
        self.sql("UPDATE oauth_flows SET expires_at = now() - "
                 "interval '1 second' WHERE id = '%s'" % j["flow"])
        f = self.flow(slug, j["flow"])
        self.assertEqual((f["state"], f["reason"]), ("failed", "expired"))
        status, body = browse(j["authorization_url"])
        self.assertRefused(status, body, (410, "oauth_flow_expired"), slug,
                           j["flow"])

    def test_bad_metadata_is_refused_at_connect(self):
        for knob in ("wrong_resource", "wrong_issuer"):
            with self.subTest(knob=knob):
                self.setUp()
                setattr(self.srv, knob, True)
                slug, client = self.tenant()
                r = client.post("/v1/tenants/%s/mcp/remote/connect" % slug)
                self.assertError(r, 502, "oauth_server_refused")
                self.assertIn("refused", r.json()["error"]["message"])
                self.assertEqual(self.sql(
                    "SELECT count(*) FROM oauth_flows f JOIN tenants t ON "
                    "t.id = f.tenant_id WHERE t.slug = '%s'" % slug).strip(),
                    "0")

    def test_http_endpoints_need_the_test_flag(self):
        cp = ControlPlane(database_url=self.pg.create_database(
            "cpmc_https")).start()
        try:
            slug, client = self.tenant(cp=cp)
            r = client.post("/v1/tenants/%s/mcp/remote/connect" % slug)
            self.assertError(r, 502, "oauth_server_refused")
            self.assertIn("https", r.json()["error"]["message"])
            self.assertEqual(cp.client().get(
                "/v1/tenants/%s/secrets" % slug).json()["items"], [])
        finally:
            cp.stop_clean()

    def test_internal_addresses_are_never_called(self):
        # a tenant's server URL inside the control plane's network (a
        # private address, the cloud metadata one, a name of one): the
        # control plane opens no connection there (SSRF); only the test
        # flag lets loopback through
        for url in ("https://10.255.255.1:9/mcp",
                    "https://169.254.169.254/latest/meta-data",
                    "https://[fd00::1]:9/mcp"):
            with self.subTest(url=url):
                slug = "mc%d" % next(_names)
                r = self.admin.post("/v1/tenants",
                                    {"slug": slug, "name": slug})
                self.assertEqual(r.status, 201, r)
                r = self.admin.post("/v1/tenants/%s/deploy" % slug, dict(
                    IMG, runtime_config={"tenant": slug, "mcp_servers": [
                        {"name": "remote", "url": url, "oauth": {
                            "token_secret": "remote_grant"}}]}))
                self.assertEqual(r.status, 202, r)
                r = self.admin.post(
                    "/v1/tenants/%s/mcp/remote/connect" % slug)
                self.assertError(r, 502, "oauth_server_refused")
                self.assertIn("internal address",
                              r.json()["error"]["message"])
                self.assertNotIn("remote_grant", self.secret_names(slug))

    def test_tenants_do_not_see_each_other(self):
        a, ca = self.tenant()
        b, cb = self.tenant()
        j = self.connect(a, ca)
        r = cb.post("/v1/tenants/%s/mcp/remote/connect" % a)
        self.assertEqual(r.status, 404, r)
        r = cb.get("/v1/tenants/%s/mcp/remote/connect/%s" % (a, j["flow"]))
        self.assertEqual(r.status, 404, r)
        # B's own path with A's flow id: no such flow of B's
        r = cb.get("/v1/tenants/%s/mcp/remote/connect/%s" % (b, j["flow"]))
        self.assertEqual(r.status, 404, r)

    def test_unknown_or_unconfigured_server(self):
        slug, client = self.tenant(oauth=False)
        r = client.post("/v1/tenants/%s/mcp/other/connect" % slug)
        self.assertError(r, 404, "mcp_server_not_found")
        r = client.post("/v1/tenants/%s/mcp/remote/connect" % slug)
        self.assertError(r, 422, "oauth_not_configured")
        # an auditor may not
        _, tok = self.cp.new_token("auditor")
        r = self.cp.client(tok).post(
            "/v1/tenants/%s/mcp/remote/connect" % slug)
        self.assertEqual(r.status, 403, r)


if __name__ == "__main__":
    unittest.main(verbosity=2)
