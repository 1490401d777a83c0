#!/usr/bin/env python3
"""oauth_conformance_client.py - the client command of the conformance
package's auth/* scenarios: `oauth_conformance_client.py BINARY ARGS...
URL` runs `BINARY ARGS... --oauth-auto --oauth-allow-http-loopback URL`
(ARGS ends in --url), adding the pre-registered client the scenario
hands over in MCP_CONFORMANCE_CONTEXT, and a client metadata URL (client_id as --oauth-client-id,
client_secret in CLAW_OAUTH_CLIENT_SECRET, never on the command line)."""
import json
import os
import sys


def main():
    binary, args = sys.argv[1], sys.argv[2:]
    env = dict(os.environ)
    # the client metadata document URL the auth/basic-cimd scenario
    # expects (used only where the server advertises SEP-991 support)
    extra = ["--oauth-auto", "--oauth-allow-http-loopback",
             "--oauth-client-metadata-url",
             "https://conformance-test.local/client-metadata.json"]
    ctx = json.loads(os.environ.get("MCP_CONFORMANCE_CONTEXT") or "{}")
    if ctx.get("client_id"):
        extra += ["--oauth-client-id", ctx["client_id"]]
        if ctx.get("client_secret"):
            env["CLAW_OAUTH_CLIENT_SECRET"] = ctx["client_secret"]
    # ARGS: "mcp", the subcommand, its arguments (the URL last)
    argv = [binary] + args[:2] + extra + args[2:]
    os.execve(binary, argv, env)


if __name__ == "__main__":
    main()
