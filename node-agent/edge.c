/*
 * edge.c - the Caddy config of the node's edge, built from the agent's
 * state; see edge.h. Pure: the same input gives the same JSON (the unit
 * test states it byte for byte), and the edge thread compares what Caddy
 * reports with it.
 *
 * Choices that hold for every mode:
 * - Every host the node routes (public hosts and custom domains) is in one
 *   automation policy with our issuer and on_demand: its certificate is
 *   obtained at its first TLS handshake (approved first by the control
 *   plane's `ask` URL when --edge-ask is given) and, after a config load,
 *   loaded from storage at the handshake that needs it. Caddy 2.6 starts
 *   each loaded config with an empty certificate cache and fills it
 *   asynchronously, so certificates managed ahead of time made the
 *   handshakes of the first milliseconds after every load fail; on demand
 *   they do not. A catch-all policy (not on demand) has our issuer too, so
 *   a name the node does not route never gets a certificate and Caddy
 *   never falls back to its default public CAs.
 * - No flush_interval on reverse_proxy: in Caddy 2.6 "-1" ties every
 *   proxied request to the config's lifetime, so a config load aborted
 *   the requests in flight (502) and could crash Caddy ("context: internal
 *   error: missing cancel error"). Streams (text/event-stream, unknown
 *   length) are flushed at once anyway.
 * - Caddy's local CA never installs its root into the system's trust
 *   store (pki install_trust false); the config is never persisted by
 *   Caddy (the agent is its source).
 * - HTTP/3 is off (no UDP listener); the Server header is removed.
 * - Limits: read_header_timeout, read_timeout, idle_timeout,
 *   max_header_bytes on every server; a request body over max_body_kb is
 *   answered 413 when its Content-Length says so, and cut by
 *   request_body when it is chunked. Caddy 2.6 has no per-client
 *   connection limit (no such listener wrapper in the standard modules).
 */
#include "edge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EDGE_HTTPS "claw-https"
#define EDGE_HTTP "claw-http"
#define EDGE_PEER "claw-peer"

unsigned na_edge_port(const char *listen)
{
	const char *c = listen ? strrchr(listen, ':') : NULL;
	char *end = NULL;
	long p;
	if (!c || !c[1])
		return 0;
	p = strtol(c + 1, &end, 10);
	return *end || p < 1 || p > 65535 ? 0 : (unsigned)p;
}

enum claw_rc na_edge_admin_parse(const char *url, char *base, size_t baselen,
				 char *sock, size_t socklen, char *listen,
				 size_t listenlen)
{
	const char *p;
	size_t n;
	if (!url)
		return CLAW_ERR_INVALID;
	if (strncmp(url, "unix:", 5) == 0) {
		p = url + 5;
		while (p[0] == '/' && p[1] == '/')
			p++;
		if (p[0] != '/' || strlen(p) < 2 || strlen(p) >= socklen ||
		    strlen(p) > 107)
			return CLAW_ERR_INVALID;
		snprintf(sock, socklen, "%s", p);
		snprintf(base, baselen, "http://localhost");
		snprintf(listen, listenlen, "unix/%s", p);
		return CLAW_OK;
	}
	if (strncmp(url, "http://", 7) != 0)
		return CLAW_ERR_INVALID;
	p = url + 7;
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	if (n < 3 || memchr(p, '/', n) || n + 8 > baselen || n >= listenlen)
		return CLAW_ERR_INVALID;
	{
		char hp[256];
		if (n >= sizeof(hp))
			return CLAW_ERR_INVALID;
		memcpy(hp, p, n);
		hp[n] = 0;
		if (!na_edge_port(hp))
			return CLAW_ERR_INVALID;
		snprintf(listen, listenlen, "%s", hp);
		snprintf(base, baselen, "http://%s", hp);
	}
	sock[0] = 0;
	return CLAW_OK;
}

static json_t *duration(long ms)
{
	char b[32];
	snprintf(b, sizeof(b), "%ldms", ms);
	return json_string(b);
}

/* The hosts of a site: public_host first, then its domains. */
static json_t *site_hosts(const struct na_edge_site *s, bool domains)
{
	json_t *a = json_array();
	size_t i;
	json_t *v;
	if (s->public_host)
		json_array_append_new(a, json_string(s->public_host));
	if (domains)
		json_array_foreach((json_t *)s->domains, i, v)
			json_array_append(a, v);
	return a;
}

static json_t *text_reply(int status, const char *body)
{
	return json_pack("{s:s, s:i, s:{s:[s]}, s:s}", "handler",
			 "static_response", "status_code", status, "headers",
			 "Content-Type", "text/plain; charset=utf-8", "body",
			 body);
}

/* The route of one site (its hosts to its upstream). */
static json_t *site_route(const struct na_edge_opts *o,
			  const struct na_edge_site *s)
{
	json_t *handle;
	long max = o->max_body_kb * 1024;
	char expr[192];
	if (!s->upstream) {
		handle = json_pack("[o]", text_reply(503, "unavailable\n"));
		json_object_set_new(
			json_object_get(json_array_get(handle, 0), "headers"),
			"Retry-After", json_pack("[s]", "1"));
	} else {
		snprintf(expr, sizeof(expr),
			 "{http.request.header.Content-Length} != '' && "
			 "int({http.request.header.Content-Length}) > %ld",
			 max);
		json_t *too_large = text_reply(413, "request body too large\n");
		json_object_set_new(too_large, "close", json_true());
		handle = json_pack(
			"[{s:s, s:[{s:[{s:s}], s:[o]}]}, {s:s, s:I},"
			" {s:s, s:[{s:s}], s:{s:s, s:s}}]",
			"handler", "subroute", "routes", "match", "expression",
			expr, "handle", too_large, "handler", "request_body",
			"max_size", (json_int_t)max, "handler", "reverse_proxy",
			"upstreams", "dial", s->upstream, "transport",
			"protocol", "http", "dial_timeout", "3s");
	}
	return json_pack("{s:[{s:o}], s:o, s:b}", "match", "host",
			 site_hosts(s, true), "handle", handle, "terminal", 1);
}

static json_t *server(const struct na_edge_opts *o, const char *listen)
{
	return json_pack("{s:[s], s:[s, s], s:o, s:o, s:o, s:I, s:[]}",
			 "listen", listen, "protocols", "h1", "h2",
			 "read_header_timeout", duration(o->header_timeout_ms),
			 "read_timeout", duration(o->read_timeout_ms),
			 "idle_timeout", duration(o->idle_timeout_ms),
			 "max_header_bytes",
			 (json_int_t)o->max_header_kb * 1024, "routes");
}

static void add_common_first(json_t *routes)
{
	json_array_append_new(routes,
			      json_pack("{s:[{s:s, s:{s:[s]}}]}", "handle",
					"handler", "headers", "response",
					"delete", "Server"));
}

static void add_not_found(json_t *routes)
{
	json_array_append_new(
		routes,
		json_pack("{s:[o]}", "handle", text_reply(404, "not found\n")));
}

static json_t *issuer(const struct na_edge_opts *o)
{
	json_t *i;
	if (o->tls == NA_EDGE_TLS_INTERNAL ||
	    (o->tls == NA_EDGE_TLS_FILES && !o->acme_ca))
		return json_pack("{s:s}", "module", "internal");
	i = json_pack("{s:s}", "module", "acme");
	if (o->acme_ca)
		json_object_set_new(i, "ca", json_string(o->acme_ca));
	if (o->acme_ca_root)
		json_object_set_new(i, "trusted_roots_pem_files",
				    json_pack("[s]", o->acme_ca_root));
	if (o->acme_email)
		json_object_set_new(i, "email", json_string(o->acme_email));
	return i;
}

static json_t *tls_app(const struct na_edge_opts *o,
		       const struct na_edge_site *sites, size_t n)
{
	json_t *hosts = json_array(), *policies, *tls, *automation, *v;
	size_t i, k;
	for (i = 0; i < n; i++) {
		if (sites[i].public_host)
			json_array_append_new(
				hosts, json_string(sites[i].public_host));
		json_array_foreach((json_t *)sites[i].domains, k, v)
			json_array_append(hosts, v);
	}
	policies = json_array();
	if (json_array_size(hosts))
		json_array_append_new(policies,
				      json_pack("{s:O, s:b, s:[o]}", "subjects",
						hosts, "on_demand", 1,
						"issuers", issuer(o)));
	json_array_append_new(policies,
			      json_pack("{s:[o]}", "issuers", issuer(o)));
	automation = json_pack("{s:o}", "policies", policies);
	if (o->ask)
		json_object_set_new(automation, "on_demand",
				    json_pack("{s:s}", "ask", o->ask));
	tls = json_pack("{s:o}", "automation", automation);
	if (o->tls == NA_EDGE_TLS_FILES)
		json_object_set_new(tls, "certificates",
				    json_pack("{s:[{s:s, s:s, s:[s]}]}",
					      "load_files", "certificate",
					      o->cert_file, "key", o->key_file,
					      "tags", "claw-edge"));
	json_decref(hosts);
	return tls;
}

/* Caddy's error log (http.log.error) writes each failed request with its
 * headers and URI, e.g. every webhook that gets a 502 while a gateway
 * restarts. Authorization and Cookie it redacts itself; the bare secrets
 * a channel sends otherwise are removed from the log here: Telegram's
 * webhook secret header, WhatsApp's verify token and Matrix's access_token
 * query parameters (found by tests/chaos, docs/reliability.md). */
static json_t *logging(void)
{
	return json_pack(
		"{s:{s:{s:{s:s, s:{s:s}, s:{s:{s:s}, s:{s:s, s:[{s:s, s:s}, "
		"{s:s, s:s}]}}}}}}",
		"logs", "default", "encoder", "format", "filter", "wrap",
		"format", "json", "fields",
		"request>headers>X-Telegram-Bot-Api-Secret-Token", "filter",
		"delete", "request>uri", "filter", "query", "actions", "type",
		"delete", "parameter", "hub.verify_token", "type", "delete",
		"parameter", "access_token");
}

json_t *na_edge_config(const struct na_edge_opts *o,
		       const struct na_edge_site *sites, size_t n)
{
	json_t *servers = json_object(), *https, *all = json_array();
	unsigned https_port = na_edge_port(o->listen);
	char location[96];
	size_t i;

	https = server(o, o->listen);
	json_object_set_new(https, "automatic_https",
			    json_pack("{s:b}", "disable_redirects", 1));
	json_object_set_new(https, "tls_connection_policies",
			    json_pack("[{}]"));
	add_common_first(json_object_get(https, "routes"));
	for (i = 0; i < n; i++) {
		json_array_append_new(json_object_get(https, "routes"),
				      site_route(o, &sites[i]));
		json_t *h = site_hosts(&sites[i], true);
		json_array_extend(all, h);
		json_decref(h);
	}
	add_not_found(json_object_get(https, "routes"));
	json_object_set_new(servers, EDGE_HTTPS, https);

	if (o->http_listen) {
		json_t *http = server(o, o->http_listen);
		json_t *routes = json_object_get(http, "routes");
		add_common_first(routes);
		if (https_port == 443)
			snprintf(location, sizeof(location),
				 "https://{http.request.host}"
				 "{http.request.uri}");
		else
			snprintf(location, sizeof(location),
				 "https://{http.request.host}:%u"
				 "{http.request.uri}",
				 https_port);
		if (json_array_size(all))
			json_array_append_new(
				routes,
				json_pack(
					"{s:[{s:O}], s:[{s:s, s:i, s:{s:[s]}}],"
					" s:b}",
					"match", "host", all, "handle",
					"handler", "static_response",
					"status_code", 308, "headers",
					"Location", location, "terminal", 1));
		add_not_found(routes);
		json_object_set_new(servers, EDGE_HTTP, http);
	}

	if (o->peer_listen) {
		json_t *peer = server(o, o->peer_listen);
		json_t *routes = json_object_get(peer, "routes");
		json_object_set_new(peer, "automatic_https",
				    json_pack("{s:b}", "disable", 1));
		add_common_first(routes);
		for (i = 0; i < n; i++)
			if (!sites[i].remote)
				json_array_append_new(routes,
						      site_route(o, &sites[i]));
		add_not_found(routes);
		json_object_set_new(servers, EDGE_PEER, peer);
	}

	json_t *http_app = json_pack("{s:i, s:o}", "https_port",
				     (int)https_port, "servers", servers);
	if (o->http_listen)
		json_object_set_new(
			http_app, "http_port",
			json_integer((json_int_t)na_edge_port(o->http_listen)));
	json_decref(all);
	return json_pack(
		"{s:{s:s, s:{s:b}}, s:{s:{s:{s:{s:b}}}, s:o, s:o}, s:o}",
		"admin", "listen", o->admin_listen, "config", "persist", 0,
		"apps", "pki", "certificate_authorities", "local",
		"install_trust", 0, "tls", tls_app(o, sites, n), "http",
		http_app, "logging", logging());
}
