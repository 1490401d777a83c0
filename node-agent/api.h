/*
 * api.h - the node agent's local HTTP API (see api.c for its routes), on a
 * unix socket only its owner (and one configured group) may open
 * (apisock.h).
 */
#ifndef NA_API_H
#define NA_API_H

#include "agent.h"
#include "apisock.h"
#include "claw/httpd.h"

struct na_api {
	struct claw_httpd *httpd;
	struct na_apisock sock;
};

/* Make the socket (--api-socket, --api-group) and serve it; logs why it
 * failed. */
enum claw_rc na_api_start(struct na_agent *a, struct na_api *api);
/* Stop serving (in-flight requests get grace_ms) and remove the socket.
 * A zeroed or failed api is fine. */
void na_api_stop(struct na_api *api, unsigned grace_ms);

#endif
