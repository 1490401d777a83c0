/*
 * anyaddr.h - forced into bench/gateway/gw_load.c (cc -include) when
 * bench_edge.py builds its sink as a tenant's runtime image: the sink
 * binds 127.0.0.1, and in a container the gateway reaches its runtime on
 * the tenant network, so every address that gw_load parses becomes
 * 0.0.0.0 (all of the container's addresses). Only the sink runs in that
 * image; gw_load itself is unchanged.
 */
#ifndef CLAW_BENCH_ANYADDR_H
#define CLAW_BENCH_ANYADDR_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>

static inline int claw_bench_any_pton(int af, const char *src, void *dst)
{
	(void)src;
	return inet_pton(af, "0.0.0.0", dst);
}
#define inet_pton claw_bench_any_pton
#endif
