/*
 * bench_mcp_rtt.c - MCP tool-call round trip of the runtime's MCP client
 * (runtime/mcp*.c), printed as figures (mean and p50/p99): against a
 * stdio server command, or against a Streamable HTTP URL with a bearer
 * token (the sandbox's MCP bridge in front of the same command: issue
 * 14's "round trip through the bridge against direct stdio").
 * Built and run by bench_runtime.py:
 *   bench_mcp_rtt N stdio PROG [ARGS...]
 *   bench_mcp_rtt N url URL TOKEN
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "claw/crypto.h"
#include "claw/log.h"
#include "llm.h"
#include "mcp.h"

static long long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	char err[300] = "", auth[512];
	char *env[] = {"PATH=/usr/local/bin:/usr/bin:/bin", NULL};
	char *headers[2] = {auth, NULL};
	struct rt_mcp_server_cfg cfg = {.name = "bench", .timeout_ms = 10000};
	struct rt_mcp_net net = {0};
	struct rt_mcp *m;
	bool url = argc == 5 && !strcmp(argv[2], "url");
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
	long long *us;

	if (n < 1 || argc < 4 || (!url && strcmp(argv[2], "stdio"))) {
		fprintf(stderr,
			"usage: %s N stdio PROG [ARGS...] | N url URL TOKEN\n",
			argv[0]);
		return 2;
	}
	claw_log_init("bench", CLAW_LOG_WARN, NULL);
	claw_crypto_init();
	if (url) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 argv[4]);
		cfg.url = argv[3];
		cfg.headers = headers;
	} else {
		cfg.argv = argv + 3;
		cfg.env = env;
	}
	us = calloc((size_t)n, sizeof(*us));
	if (!us || rt_mcp_start(&cfg, &net, &m, err, sizeof(err)) ||
	    !rt_mcp_ready(m)) {
		fprintf(stderr, "bench: %s\n", us ? err : "out of memory");
		free(us);
		return 1;
	}
	json_t *args = json_pack("{s:i}", "x", 1);
	for (long i = 0; i < n; i++) {
		json_t *res = NULL;
		long long t = now_us();

		if (rt_mcp_call_tool(m, "echo", args, 10000, &res, err,
				     sizeof(err))) {
			fprintf(stderr, "bench: %s\n", err);
			return 1;
		}
		us[i] = now_us() - t;
		json_decref(res);
	}
	long long sum = 0;
	for (long i = 0; i < n; i++)
		sum += us[i];
	qsort(us, (size_t)n, sizeof(*us), cmp_ll);
	printf("MCP %s tool call round trip: mean %.3f ms, p50 %.3f ms, p99 "
	       "%.3f ms (%ld calls)\n",
	       url ? "Streamable HTTP (the bridge)" : "stdio",
	       (double)sum / (double)n / 1000.0, (double)us[n / 2] / 1000.0,
	       (double)us[n * 99 / 100] / 1000.0, n);
	json_decref(args);
	rt_mcp_stop(m);
	free(us);
	return 0;
}
