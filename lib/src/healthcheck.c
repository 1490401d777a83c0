/*
 * healthcheck.c - one readiness probe for a container health check (see
 * claw/healthcheck.h): the daemon's own HTTP client, a bounded answer, one
 * line out. A non-200 answer's body is quoted, cut to one short line (the
 * daemons' 503 bodies say why they are not ready and hold no secret).
 */
#include "claw/healthcheck.h"

#include <string.h>

#include "claw/httpc.h"

/* The body's first line, at most outlen - 1 bytes, control bytes dropped. */
static void one_line(const struct claw_buf *body, char *out, size_t outlen)
{
	size_t n = 0;
	for (size_t i = 0; i < body->len && n + 1 < outlen; i++) {
		unsigned char c = (unsigned char)body->data[i];
		if (c == '\n' || c == '\r')
			break;
		if (c >= 0x20 && c != 0x7f)
			out[n++] = (char)c;
	}
	out[n] = '\0';
}

int claw_healthcheck(const char *prog, const char *url, const char *unix_socket,
		     FILE *out)
{
	struct claw_httpc_resp resp;
	struct claw_httpc_req req = {
		.url = url,
		.unix_socket = unix_socket,
		.timeout_ms = 5000,
		.connect_timeout_ms = 3000,
		.max_response = 4096,
	};
	const char *via = unix_socket ? unix_socket : url;
	char why[200];
	enum claw_rc rc;
	int status = 1;

	if (claw_httpc_global_init()) {
		fprintf(out, "%s: not ready: unable to initialise libcurl\n",
			prog);
		return 1;
	}
	rc = claw_httpc_do(&req, &resp);
	if (rc == CLAW_ERR_TOO_LARGE && resp.status == 200)
		rc = CLAW_OK; /* ready; the answer was only long */
	if (rc != CLAW_OK) {
		fprintf(out, "%s: not ready: no answer from %s: %s\n", prog,
			via, resp.error[0] ? resp.error : "transport error");
	} else if (resp.status == 200) {
		fprintf(out, "%s: ready (%s)\n", prog, via);
		status = 0;
	} else {
		one_line(&resp.body, why, sizeof(why));
		fprintf(out, "%s: not ready: HTTP %ld from %s: %s\n", prog,
			resp.status, via, why);
	}
	claw_httpc_resp_release(&resp);
	claw_httpc_global_cleanup();
	return status;
}
