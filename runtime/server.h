/*
 * server.h - the runtime's HTTP API on the tenant network: POST
 * /v1/messages (plain or server-sent events), GET /v1/usage, /healthz,
 * /readyz and /metrics.
 */
#ifndef RT_SERVER_H
#define RT_SERVER_H

#include <stddef.h>
#include "agent.h"
#include "claw/httpd.h"

/* Start serving on listen ("0.0.0.0:8081"); a must outlive the server
 * (claw_httpd_shutdown stops it). claw_httpd_start's code, with err set
 * on failure. Every error reply uses a shared code (errors.h). */
enum claw_rc rt_server_start(struct rt_agent *a, const char *listen,
			     struct claw_httpd **out, char *err, size_t errlen);

#endif
