"""fakehttp - the bones of the fake HTTP services tests run in threads of
their own process (the channel APIs, runtimes, MCP servers, LLMs).

    class H(Handler):                    # a BaseHTTPRequestHandler
        protocol_version = "HTTP/1.1"    # where the fake keeps connections
        def do_POST(self):
            obj = json.loads(self.body())
            self.send_json(200, {"ok": True}, {"X-Extra": "1"})
    srv = serve(H)                       # 127.0.0.1:<free port>, a thread
    srv.server_address[1]; srv.shutdown(); srv.server_close()

Handler is quiet (no access log on stderr), reads the request body by its
Content-Length and answers JSON (no body and no Content-Type for obj None).
Server serves each request on a daemon thread and reuses its address.
"""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(handler_cls, addr=("127.0.0.1", 0), server_cls=Server):
    """A server_cls on addr with handler_cls, serving on a daemon thread."""
    srv = server_cls(addr, handler_cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


class Handler(BaseHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def body(self):
        """The request body (bytes; empty without Content-Length)."""
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_json(self, status, obj=None, headers=None):
        """status, headers, then obj as JSON (nothing when obj is None)."""
        data = json.dumps(obj).encode() if obj is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
