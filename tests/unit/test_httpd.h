/*
 * test_httpd.h - an in-process claw_httpd for unit tests that need a peer
 * to call (a fake runtime, a fake control plane): routes served on a free
 * port of 127.0.0.1, after sodium_init and claw_httpc_global_init (the
 * test's own calls need both). Include by relative path:
 * #include "../test_httpd.h".
 */
#ifndef CLAW_TEST_HTTPD_H
#define CLAW_TEST_HTTPD_H

#include <sodium.h>

#include "claw/httpc.h"
#include "claw/httpd.h"

/* Serve n routes; 0 with *out the server (claw_httpd_shutdown it), or -1
 * (a cmocka group setup's failure). */
static inline int test_httpd_serve(const struct claw_route *routes, size_t n,
				   struct claw_httpd **out)
{
	static struct claw_httpd_config cfg;
	char err[256];

	if (sodium_init() < 0 || claw_httpc_global_init())
		return -1;
	cfg.listen = "127.0.0.1:0";
	cfg.routes = routes;
	cfg.n_routes = n;
	return claw_httpd_start(&cfg, out, err, sizeof(err)) ? -1 : 0;
}

#endif
