"""http - a small JSON HTTP client for tests (urllib, no exceptions on
HTTP errors).

    r = request("POST", base + "/v1/tenants", {"slug": "a"}, token=tok)
    r.status, r.headers["X-Request-Id"], r.json(), r.body (bytes)
    c = Client(base, token); c.get("/v1/tenants"); c.post(path, obj)

A dict/list body is sent as JSON with Content-Type application/json; bytes
or str are sent as they are (Content-Type only when given in headers).
"""

import json
import urllib.error
import urllib.request


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
