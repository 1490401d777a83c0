"""A failing MCP server degrades only its own tools (issue 14, item 5):
the runtime's /readyz names the server that is down ("mcp_down"), keeps
answering 200, and a turn still calls the other server's tools. The
servers: the test MCP server over Streamable HTTP on 127.0.0.1 ("web")
and a URL on a 127.0.0.1 port where nothing listens ("missing", a tool
server that is down)."""

import json
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from clawtest.http import free_port  # noqa: E402
from clawtest.proc import wait_for  # noqa: E402
from mcp_http_server import MCPHTTPServer  # noqa: E402
from rtharness import Runtime, RuntimeCase, ScriptedLLM  # noqa: E402


class ReadyzNamesDownServers(RuntimeCase):
    def setUp(self):
        super().setUp()
        self.llm = ScriptedLLM()
        self.addCleanup(self.llm.close)
        self.web = MCPHTTPServer()
        self.addCleanup(self.web.close)

    def ready(self, rt):
        st, body = rt.get("/readyz")
        self.assertEqual(st, 200, body)
        return json.loads(body)

    def test_down_server_named_others_work(self):
        port = free_port()
        rt = Runtime({
            "providers": [{"name": "main", "kind": "openai",
                           "base_url": self.llm.url, "model": "scripted",
                           "timeout_ms": 20000}],
            "mcp_servers": [
                {"name": "web", "url": self.web.url, "timeout_ms": 5000},
                {"name": "missing",
                 "url": "http://127.0.0.1:%d/mcp" % port,
                 "timeout_ms": 2000}]}).start()
        self.rts.append(rt)
        r = wait_for(lambda: (lambda r: r if r["mcp_servers_up"] == 1
                              else None)(self.ready(rt)), 60,
                     what="web up")
        self.assertEqual(r["mcp_servers"], 2)
        self.assertEqual(r["mcp_down"], ["missing"])
        # Chat goes on with the other server's tools.
        st, body = rt.send('use tool web__echo {"text": "still works"}')
        self.assertEqual(st, 200, body)
        self.assertTrue(body["reply"].startswith("tool result:"), body)
        self.assertIn("still works", body["reply"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
