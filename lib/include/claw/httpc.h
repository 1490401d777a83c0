/*
 * httpc.h - HTTP client over libcurl, for every outbound call: to a peer
 * over TCP or a unix socket (the Docker Engine API), plain or TLS.
 *
 * The response body is collected up to max_response bytes (a ceiling, as
 * everything fed from the network), or handed chunk by chunk to on_data for
 * streams (SSE, Docker logs and events) that have no end.
 */
#ifndef CLAW_HTTPC_H
#define CLAW_HTTPC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include "claw/buf.h"
#include "claw/err.h"

/* Return 0 to go on, non-zero to abort the transfer (CLAW_ERR_IO). */
typedef int (*claw_httpc_data_fn)(const char *data, size_t len, void *cls);

struct claw_httpc_req {
	const char *method;      /* NULL means GET, or POST with a body */
	const char *url;         /* for unix sockets: "http://localhost/..." */
	const char *unix_socket; /* path, or NULL for TCP */
	const char *const
		*headers; /* "Name: value", NULL-terminated, or NULL */
	const char *body;
	size_t body_len;
	long timeout_ms;         /* whole transfer; 0 means none */
	long connect_timeout_ms; /* 0 means 10 s */
	size_t max_response;     /* ceiling on the collected body; 0: 8 MiB */
	claw_httpc_data_fn on_data; /* stream the body here instead */
	void *cls;
	const char *proxy;   /* "http://host:port", or NULL for none (the
			      environment's proxy settings are ignored) */
	const char *ca_file; /* extra CA bundle, or NULL */
	/* A URL someone else gave (a tenant's): connect only to public
	 * addresses, never to loopback, private (RFC 1918, fc00::/7),
	 * link-local, shared (100.64/10), unspecified or multicast ones,
	 * checked on the address each connection is opened to (after DNS,
	 * so a name cannot point inside); refused as CLAW_ERR_IO before any
	 * packet is sent; a fresh connection each time, none reused. Not
	 * with a proxy (the proxy decides). allow_loopback: tests only. */
	bool public_only, allow_loopback;
	/* Non-NULL: the transfer stops (CLAW_ERR_IO, "cancelled") within
	 * about a second of this turning true, whatever it was waiting for
	 * (a peer that accepted and never answers, say). */
	const atomic_bool *cancel;
};

struct claw_httpc_resp {
	long status;             /* 0 when no response arrived */
	struct claw_buf body;    /* empty when on_data was used */
	struct claw_buf headers; /* raw header lines of the last response */
	char error[256];         /* transport error text when status is 0 */
};

/* Call once at start, before threads (curl_global_init). */
enum claw_rc claw_httpc_global_init(void);
void claw_httpc_global_cleanup(void);

/* Perform the request. Returns CLAW_OK when a response arrived (whatever
 * its status), CLAW_ERR_TIMEOUT, CLAW_ERR_TOO_LARGE or CLAW_ERR_IO with
 * resp->error set. The caller releases resp in every case. */
enum claw_rc claw_httpc_do(const struct claw_httpc_req *req,
			   struct claw_httpc_resp *resp);
/* Value of a response header (case-insensitive), copied into out. Returns
 * false when absent. */
bool claw_httpc_resp_header(const struct claw_httpc_resp *resp,
			    const char *name, char *out, size_t outlen);
void claw_httpc_resp_release(struct claw_httpc_resp *resp);

/* The validity of the certificate a TLS server at addr:port presents for
 * host (sent as SNI): a TLS handshake and nothing more, no request. It
 * reads dates only, so the chain is not verified (a server's expiring or
 * self-signed certificate is exactly what a caller asks about); it is
 * meant for watching one's own server (the edge's certificates) and
 * never carries data. CLAW_OK with *not_before / *not_after (UTC), or
 * CLAW_ERR_IO / CLAW_ERR_TIMEOUT with err set. */
enum claw_rc claw_httpc_cert_dates(const char *host, const char *addr,
				   unsigned port, long timeout_ms,
				   long long *not_before, long long *not_after,
				   char *err, size_t errlen);

#endif
