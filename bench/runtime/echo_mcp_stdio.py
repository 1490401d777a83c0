"""echo_mcp_stdio.py - a minimal MCP server over stdio (newline-delimited
JSON-RPC 2.0) with one tool, "echo", for the runtime benchmark."""
import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    m, res = msg.get("method"), None
    if m == "initialize":
        res = {"protocolVersion": msg["params"]["protocolVersion"],
               "capabilities": {"tools": {}},
               "serverInfo": {"name": "echo", "version": "1"}}
    elif m == "tools/list":
        res = {"tools": [{"name": "echo", "description": "echo",
                          "inputSchema": {"type": "object"}}]}
    elif m == "tools/call":
        res = {"content": [{"type": "text", "text": json.dumps(
            msg["params"].get("arguments"))}]}
    else:
        res = {}
    sys.stdout.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                                 "result": res}) + "\n")
    sys.stdout.flush()
