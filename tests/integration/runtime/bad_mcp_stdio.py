"""bad_mcp_stdio.py - an MCP stdio server that misbehaves on request, for
the runtime's bad-input tests. Tools: echo (fine), die (exits in the middle
of the call), garbage (writes non-JSON lines, then a valid answer), big
(a 200 KB text result), hang (never answers). Every start is counted in
the file named by $STARTS_FILE."""
import json
import os
import sys

with open(os.environ["STARTS_FILE"], "a") as f:
    f.write("start\n")
sys.stderr.write("bad server starting\n")
sys.stderr.flush()


def send(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


TOOLS = [{"name": n, "description": n, "inputSchema": {"type": "object"}}
         for n in ("echo", "die", "garbage", "big", "hang")]

for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg:
        continue
    m, rid = msg.get("method"), msg["id"]
    if m == "initialize":
        send({"jsonrpc": "2.0", "id": rid, "result": {
            "protocolVersion": "2025-06-18", "capabilities": {"tools": {}},
            "serverInfo": {"name": "bad", "version": "1"}}})
    elif m == "tools/list":
        send({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
    elif m == "tools/call":
        name = msg["params"]["name"]
        if name == "die":
            sys.exit(3)
        if name == "hang":
            continue
        if name == "garbage":
            sys.stdout.write("this is not json\n{\"jsonrpc\": \"1.0\"}\n")
        text = "x" * 200000 if name == "big" else "echo ok"
        send({"jsonrpc": "2.0", "id": rid,
              "result": {"content": [{"type": "text", "text": text}]}})
    else:
        send({"jsonrpc": "2.0", "id": rid, "result": {}})
