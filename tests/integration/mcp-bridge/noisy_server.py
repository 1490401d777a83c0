"""A stdio "MCP server" for the bridge's tests that misbehaves on stdout:
before each response it writes a line that is not JSON and a line longer
than the bridge's --max-line (1024 in the test). It answers every request
with {"echo": method} and exits at once on the request "exit"."""
import json
import sys

for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg or "method" not in msg:
        continue
    if msg["method"] == "exit":
        sys.exit(3)
    out = sys.stdout
    out.write("this is not json\n")
    out.write(json.dumps({"jsonrpc": "2.0", "method": "x",
                          "params": {"pad": "p" * 5000}}) + "\n")
    out.write(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                          "result": {"echo": msg["method"]}}) + "\n")
    out.flush()
