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
 * (rt_server_stop stops it). claw_httpd_start's code, with err set on
 * failure (CLAW_ERR_NOMEM). Every error reply uses a shared code
 * (errors.h). */
enum claw_rc rt_server_start(struct rt_agent *a, const char *listen,
			     struct claw_httpd **out, char *err, size_t errlen);
/* Stop: questions still waiting are cancelled, the server stops within
 * grace_ms (in-flight requests finish), then every turn still running
 * (on its own thread) is waited for. */
void rt_server_stop(struct rt_agent *a, struct claw_httpd *h,
		    unsigned grace_ms);

#endif
