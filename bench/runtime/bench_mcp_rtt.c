/*
 * bench_mcp_rtt.c - MCP stdio tool-call round trip of the runtime's MCP
 * client (runtime/mcp*.c) against a server command, printed as a figure.
 * Built and run by bench_runtime.py: bench_mcp_rtt N PROG ARGS...
 */
#include <stdio.h>
#include <stdlib.h>

#include "claw/crypto.h"
#include "claw/log.h"
#include "llm.h"
#include "mcp.h"

int main(int argc, char **argv)
{
	char err[300] = "";
	if (argc < 3) {
		fprintf(stderr, "usage: %s N PROG [ARGS...]\n", argv[0]);
		return 2;
	}
	long n = strtol(argv[1], NULL, 10);
	claw_log_init("bench", CLAW_LOG_WARN, NULL);
	claw_crypto_init();
	char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	struct rt_mcp_server_cfg cfg = {.name = "bench",
					.argv = argv + 2,
					.env = env,
					.timeout_ms = 10000};
	struct rt_mcp_net net = {0};
	struct rt_mcp *m;
	if (rt_mcp_start(&cfg, &net, &m, err, sizeof(err)) ||
	    !rt_mcp_ready(m)) {
		fprintf(stderr, "bench: %s\n", err);
		return 1;
	}
	json_t *args = json_pack("{s:i}", "x", 1);
	long long t0 = rt_now_ms();
	for (long i = 0; i < n; i++) {
		json_t *res = NULL;
		if (rt_mcp_call_tool(m, "echo", args, 10000, &res, err,
				     sizeof(err))) {
			fprintf(stderr, "bench: %s\n", err);
			return 1;
		}
		json_decref(res);
	}
	long long t1 = rt_now_ms();
	printf("MCP stdio tool call round trip: %.3f ms (%ld calls)\n",
	       (double)(t1 - t0) / (double)n, n);
	json_decref(args);
	rt_mcp_stop(m);
	return 0;
}
