"""http - a small JSON HTTP client for tests (urllib, no exceptions on
HTTP errors), and the ports and probes every harness needs.

    r = request("POST", base + "/v1/tenants", {"slug": "a"}, token=tok)
    r.status, r.headers["X-Request-Id"], r.json(), r.body (bytes)
    c = Client(base, token); c.get("/v1/tenants"); c.post(path, obj)
    status, text = http_get(url)   # 0 when nothing answered
    status, text = unix_http_get(sock_path, "/v1/status")  # a unix socket
    conn = UnixHTTPConnection(sock_path)   # http.client over it (streams)
    port = free_port()             # free on 127.0.0.1 a moment ago
    head = read_head(sock)         # raw bytes up to a blank line

A dict/list body is sent as JSON with Content-Type application/json; bytes
or str are sent as they are (Content-Type only when given in headers).
"""

import http.client
import json
import socket
import threading
import urllib.error
import urllib.request


_given = set()
_given_lock = threading.Lock()


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago, and never one
    this process was given before: two calls in a row could otherwise
    get the same port back from the kernel (an edge test's HTTP and HTTPS
    ports once did, and Caddy refused the config)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        with _given_lock:
            if port not in _given:
                _given.add(port)
                return port


def read_head(sock, chunk=4096):
    """What sock sends until the end of an HTTP head (a blank line) or
    EOF; chunk=1 reads nothing past the head (a tunnel's first bytes)."""
    head = b""
    while b"\r\n\r\n" not in head:
        data = sock.recv(chunk)
        if not data:
            break
        head += data
    return head


def http_get(url, timeout=5):
    """(status, body text); status 0 when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client's connection to a server on a unix socket (the node
    agent's local API)."""

    def __init__(self, path, timeout=5):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        try:
            s.connect(self.unix_path)
        except OSError:
            s.close()
            raise
        self.sock = s


def unix_http_get(sock_path, path, timeout=5):
    """http_get over a unix socket: (status, body text); status 0 when
    nothing answered."""
    conn = UnixHTTPConnection(sock_path, timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    except OSError as e:
        return 0, str(e)
    finally:
        conn.close()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def error_code(self):
        """The error shape's code, or None."""
        try:
            return self.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return None

    def __repr__(self):
        return "<Response %d %s>" % (self.status, self.body[:200])


def request(method, url, body=None, token=None, headers=None, timeout=30.0):
    hdrs = dict(headers or {})
    data = None
    if isinstance(body, (dict, list)):
        data = json.dumps(body).encode("utf-8")
        hdrs.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        data = body.encode("utf-8")
    elif isinstance(body, bytes):
        data = body
    if token:
        hdrs["Authorization"] = "Bearer " + token
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return Response(resp.status, resp.headers, resp.read())
    except urllib.error.HTTPError as e:
        return Response(e.code, e.headers, e.read())


class Client:
    def __init__(self, base, token=None, timeout=30.0):
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method, path, body=None, headers=None):
        return request(method, self.base + path, body, self.token, headers,
                       self.timeout)

    def get(self, path, headers=None):
        return self.request("GET", path, None, headers)

    def post(self, path, body=None, headers=None):
        return self.request("POST", path, body, headers)

    def put(self, path, body=None, headers=None):
        return self.request("PUT", path, body, headers)

    def patch(self, path, body=None, headers=None):
        return self.request("PATCH", path, body, headers)

    def delete(self, path, headers=None):
        return self.request("DELETE", path, None, headers)
