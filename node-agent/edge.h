/*
 * edge.h - the node's edge: Caddy (Debian's caddy 2.6) running as its own
 * process next to the agent, configured only through its admin API.
 *
 * The agent owns Caddy's whole configuration: na_edge_config builds it
 * (a pure function, unit tested for its exact JSON) from the options and
 * the sites of this node's state: each local tenant's hosts routed to its
 * gateway's address on the edge network (or a 503 while it has no healthy
 * gateway), each tenant placed on another node (the desired state's
 * edge_routes) routed to that node's advertised edge, every other host a
 * 404 that names nothing. The edge thread (na_edge_main, edge_caddy.c)
 * applies it with one POST /load when it changes and reads it back with
 * GET /config/ every poll interval, loading it again when Caddy restarted
 * (it comes up with its boot config) or drifted; its state goes into the
 * node's status and /readyz.
 *
 * Caddy's servers: "claw-https" on --edge-listen (TLS: internal CA, ACME
 * or the operator's files), "claw-http" on --edge-http-listen (ACME
 * HTTP-01 answers and 308 redirects of known hosts to https), "claw-peer"
 * on --edge-peer-listen (plain HTTP for other nodes' edges: local tenants
 * only, so a forwarded request never loops).
 */
#ifndef NA_EDGE_H
#define NA_EDGE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "claw/err.h"

enum na_edge_tls {
	NA_EDGE_TLS_INTERNAL = 0, /* Caddy's local CA */
	NA_EDGE_TLS_ACME,         /* an ACME CA (default: Caddy's) */
	NA_EDGE_TLS_FILES,        /* the operator's certificate and key */
};

struct na_edge_opts {
	const char *admin_listen; /* Caddy's admin.listen, as it was started
				   * ("127.0.0.1:2019", "unix//run/x.sock") */
	const char *listen;       /* HTTPS, "ADDR:PORT" or ":PORT" */
	const char *http_listen;  /* HTTP or NULL */
	const char *peer_listen;  /* plain HTTP for other nodes, or NULL */
	enum na_edge_tls tls;
	const char *cert_file, *key_file; /* files */
	const char *acme_ca;      /* directory URL or NULL (Caddy's default) */
	const char *acme_ca_root; /* PEM file trusted for the CA, or NULL */
	const char *acme_email;   /* or NULL */
	const char *ask;        /* on-demand TLS for custom domains, or NULL */
	long max_body_kb;       /* request bodies */
	long max_header_kb;     /* request headers */
	long header_timeout_ms; /* reading the request headers */
	long read_timeout_ms;   /* reading the whole request */
	long idle_timeout_ms;   /* a keep-alive connection between requests */
};

/* One tenant's route. */
struct na_edge_site {
	const char *tenant;      /* or NULL (an edge route without one) */
	const char *public_host; /* or NULL */
	const json_t *domains;   /* array of host strings, or NULL */
	const char *upstream;    /* "HOST:PORT", NULL: answer 503 */
	bool remote;             /* upstream is another node's edge */
};

/* The whole Caddy config for sites[0..n) (local ones first, then remote
 * ones, in that order). New reference; NULL when out of memory. */
json_t *na_edge_config(const struct na_edge_opts *o,
		       const struct na_edge_site *sites, size_t n);

/* The admin endpoint: url "http://HOST:PORT" or "unix:/PATH" (also
 * "unix:///PATH") into the URL prefix to call (base), the unix socket
 * (sock, "" for TCP) and Caddy's own spelling of it (listen, for the
 * config). CLAW_ERR_INVALID for anything else. */
enum claw_rc na_edge_admin_parse(const char *url, char *base, size_t baselen,
				 char *sock, size_t socklen, char *listen,
				 size_t listenlen);

/* The port of "ADDR:PORT" / ":PORT", 0 when there is none. */
unsigned na_edge_port(const char *listen);

/* The edge thread (edge_caddy.c): applies what the reconcile thread
 * hands over with na_edge_want, until the agent stops. */
void *na_edge_main(void *agent);

#endif
