/*
 * edge_caddy.c - the edge thread: keeps Caddy's config equal to the one
 * the reconcile thread built (edge.h), through Caddy's admin API only.
 *
 * Level-triggered, like the reconciler: a new config is loaded at once
 * with POST /load (the whole config, one request); between changes the
 * thread reads GET /config/ every --edge-poll-ms and loads the config
 * again when Caddy's differs (it restarted with its boot config, or
 * someone changed it). Caddy down (no answer) and Caddy refusing the
 * config (4xx/5xx, its {"error"} text kept) are states of the edge in
 * the node's status and make /readyz fail; the thread keeps trying every
 * second (down) or poll interval (refused), so no route is lost for good.
 *
 * While Caddy serves the config, the thread also reads the certificate
 * of each host it holds one for (the subjects of its TLS policies) with a
 * bare TLS handshake to the HTTPS listener: a new host at once, a host
 * not read yet every minute, all of them every --edge-cert-check-ms.
 * Their validity goes into the node's status ("edge"."certs"), where the
 * control plane alerts before one runs out (Caddy renews by itself; an
 * alert means it has failed to for a while).
 *
 * Caddy binds a new listener at every load; the kernel resets the
 * connections queued at the old one unless net.ipv4.tcp_migrate_req is
 * set, which the thread checks once and warns about.
 *
 * The thread also sets the per-address connection limit (edge_limit.h)
 * when it starts and with each full certificate pass, and removes it
 * when the agent stops.
 *
 * Caddy restarts its admin endpoint after each load, so a transport error
 * is tried once more after 100 ms before the edge counts as down. On a
 * unix socket Caddy accepts only an empty Host header (its DNS-rebinding
 * check), which is what is sent.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "claw/file.h"
#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"
#include "edge_limit.h"

#define EDGE_CALL_MS 30000L
#define EDGE_RETRY_MS 1000L
#define EDGE_MAX_CONFIG (32u << 20)
#define MIGRATE_REQ "/proc/sys/net/ipv4/tcp_migrate_req"

static enum claw_rc admin_call(struct na_agent *a, const char *method,
			       const char *path, const char *body,
			       struct claw_httpc_resp *resp)
{
	char url[512];
	const char *headers[3] = {NULL, NULL, NULL};
	int h = 0;
	struct claw_httpc_req req = {0};
	snprintf(url, sizeof(url), "%s%s", a->edge_base, path);
	if (a->edge_sock[0])
		headers[h++] = "Host;"; /* an empty Host (see above) */
	if (body)
		headers[h++] = "Content-Type: application/json";
	req.method = method;
	req.url = url;
	req.unix_socket = a->edge_sock[0] ? a->edge_sock : NULL;
	req.headers = headers;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.timeout_ms = EDGE_CALL_MS;
	req.connect_timeout_ms = 2000;
	req.max_response = EDGE_MAX_CONFIG;
	memset(resp, 0, sizeof(*resp));
	return claw_httpc_do(&req, resp);
}

/* A call, once more after 100 ms when nothing answered. */
static enum claw_rc admin_call_retry(struct na_agent *a, const char *method,
				     const char *path, const char *body,
				     struct claw_httpc_resp *resp)
{
	enum claw_rc rc = admin_call(a, method, path, body, resp);
	if (rc == CLAW_OK)
		return rc;
	claw_httpc_resp_release(resp);
	usleep(100 * 1000);
	return admin_call(a, method, path, body, resp);
}

static void set_state(struct na_agent *a, const char *state, const char *error,
		      bool loaded, bool reload)
{
	bool changed;
	pthread_mutex_lock(&a->mu);
	changed = strcmp(a->edge.state, state) ||
		strcmp(a->edge.error, error ? error : "");
	if (changed) {
		if (!strcmp(state, "ok"))
			log_info("edge: Caddy serves this node's %u local and "
				 "%u remote routes",
				 a->edge.local, a->edge.remote);
		else if (strcmp(state, "pending"))
			log_warn("edge %s: %s", state, error ? error : "");
	}
	snprintf(a->edge.state, sizeof(a->edge.state), "%s", state);
	snprintf(a->edge.error, sizeof(a->edge.error), "%s",
		 error ? error : "");
	if (loaded)
		a->edge.loads++;
	if (reload)
		a->edge.reloads++;
	if (changed || loaded) {
		a->edge_dirty = true;
		na_agent_wake(a);
	}
	pthread_mutex_unlock(&a->mu);
}

static void transport_error(struct na_agent *a,
			    const struct claw_httpc_resp *resp)
{
	char err[512];
	snprintf(err, sizeof(err), "Caddy's admin API at %s did not answer: %s",
		 a->cfg.edge_admin, resp->error[0] ? resp->error : "no answer");
	set_state(a, "down", err, false, false);
}

/* Load want (the config of seq); true when Caddy took it. */
static bool load(struct na_agent *a, const json_t *want, uint64_t seq,
		 bool reload)
{
	struct claw_httpc_resp resp;
	char *text = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
	enum claw_rc rc;
	bool ok = false;
	if (!text) {
		set_state(a, "down", "out of memory", false, false);
		return false;
	}
	rc = admin_call_retry(a, "POST", "/load", text, &resp);
	free(text);
	if (rc) {
		transport_error(a, &resp);
	} else if (resp.status == 200) {
		ok = true;
		pthread_mutex_lock(&a->mu);
		a->edge.applied_seq = seq;
		pthread_mutex_unlock(&a->mu);
		set_state(a, "ok", NULL, true, reload);
	} else {
		json_t *e = json_loadb(resp.body.data, resp.body.len, 0, NULL);
		const char *why =
			json_string_value(json_object_get(e, "error"));
		char err[512];
		snprintf(err, sizeof(err),
			 "Caddy refused the config (HTTP %ld): %.400s",
			 resp.status, why ? why : "no reason given");
		set_state(a, "refused", err, false, false);
		json_decref(e);
	}
	claw_httpc_resp_release(&resp);
	return ok;
}

/* Caddy still has want? 1 yes, 0 no (it restarted or drifted), -1 it
 * does not answer. */
static int check(struct na_agent *a, const json_t *want)
{
	struct claw_httpc_resp resp;
	enum claw_rc rc = admin_call_retry(a, "GET", "/config/", NULL, &resp);
	int same = -1;
	if (rc) {
		transport_error(a, &resp);
	} else {
		json_t *have = resp.status == 200
			? json_loadb(resp.body.data, resp.body.len,
				     JSON_DECODE_ANY, NULL)
			: NULL;
		same = have && json_equal(have, (json_t *)want) ? 1 : 0;
		json_decref(have);
	}
	claw_httpc_resp_release(&resp);
	return same;
}

#define CERT_READ_MS 5000L
#define CERT_RETRY_S 60.0

/* The hosts the edge holds certificates for: the subjects of the TLS
 * policies of the config (edge.c). New reference. */
static json_t *cert_hosts(const json_t *want)
{
	json_t *hosts = json_array(), *p, *h;
	size_t i, k;

	json_array_foreach(
		json_object_get(
			json_object_get(
				json_object_get(json_object_get(want, "apps"),
						"tls"),
				"automation"),
			"policies"),
		i, p)
		json_array_foreach(json_object_get(p, "subjects"), k, h)
			json_array_append(hosts, h);
	return hosts;
}

/* Where the HTTPS listener is reached from here: its address, or the
 * loopback one when it listens on every address. */
static void https_addr(const char *listen, char *out, size_t n)
{
	const char *colon = strrchr(listen, ':');
	size_t len = colon ? (size_t)(colon - listen) : 0;

	if (len >= 2 && listen[0] == '[') /* [v6]:port */
		snprintf(out, n, "%.*s", (int)(len - 2), listen + 1);
	else
		snprintf(out, n, "%.*s", (int)len, listen);
	if (!out[0] || !strcmp(out, "0.0.0.0"))
		snprintf(out, n, "127.0.0.1");
	else if (!strcmp(out, "::"))
		snprintf(out, n, "::1");
}

static void iso_time(long long t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static json_t *cert_read(struct na_agent *a, const char *host)
{
	char addr[128], err[300], nb[32], na[32];
	long long not_before, not_after;

	https_addr(a->cfg.edge_listen, addr, sizeof(addr));
	if (claw_httpc_cert_dates(host, addr, na_edge_port(a->cfg.edge_listen),
				  CERT_READ_MS, &not_before, &not_after, err,
				  sizeof(err)))
		return json_pack("{s:s, s:s}", "host", host, "error", err);
	iso_time(not_before, nb, sizeof(nb));
	iso_time(not_after, na, sizeof(na));
	return json_pack("{s:s, s:s, s:s}", "host", host, "not_before", nb,
			 "not_after", na);
}

static json_t *cert_of(const json_t *certs, const char *host)
{
	size_t i;
	json_t *c;

	json_array_foreach((json_t *)certs, i, c) {
		if (!strcmp(json_string_value(json_object_get(c, "host")),
			    host))
			return c;
	}
	return NULL;
}

/* Read the certificates of want's hosts: every one when all, else those
 * not read before (and, with retry, those that failed), keeping the
 * others' last reading. A change is reported with the node's status. */
static void certs_read(struct na_agent *a, const json_t *want, bool all,
		       bool retry)
{
	json_t *hosts = cert_hosts(want), *now = json_array(), *old, *h;
	size_t i;

	pthread_mutex_lock(&a->mu);
	old = json_incref(a->edge.certs);
	pthread_mutex_unlock(&a->mu);
	json_array_foreach(hosts, i, h) {
		const char *host = json_string_value(h);
		json_t *prev = cert_of(old, host);

		if (!host || na_agent_stopping(a))
			continue;
		if (prev && !all && (!retry || !json_object_get(prev, "error")))
			json_array_append(now, prev);
		else
			json_array_append_new(now, cert_read(a, host));
	}
	pthread_mutex_lock(&a->mu);
	if (old ? !json_equal(old, now) : json_array_size(now) > 0) {
		a->edge_dirty = true;
		na_agent_wake(a);
	}
	json_decref(a->edge.certs);
	a->edge.certs = now;
	pthread_mutex_unlock(&a->mu);
	json_decref(old);
	json_decref(hosts);
}

/* Set (max > 0) or remove the connection limit on the public listeners;
 * why it could not be set goes into the node's status. */
static void limit_apply(struct na_agent *a, long max)
{
	unsigned ports[2] = {na_edge_port(a->cfg.edge_listen), 0};
	size_t n = 1;
	char err[512] = "";

	if (a->cfg.edge_http_listen)
		ports[n++] = na_edge_port(a->cfg.edge_http_listen);
	if (na_edge_limit_apply(a->cfg.state_dir, ports, n, max, err,
				sizeof(err)))
		log_warn("edge: %s", err);
	pthread_mutex_lock(&a->mu);
	if (strcmp(a->edge.limit_error, err)) {
		snprintf(a->edge.limit_error, sizeof(a->edge.limit_error), "%s",
			 err);
		a->edge_dirty = true;
		na_agent_wake(a);
	}
	pthread_mutex_unlock(&a->mu);
}

static void wait_until(struct na_agent *a, double until, uint64_t seen)
{
	struct timespec ts;
	double wait = until - na_now(), abs;
	if (wait <= 0 || a->stop || a->edge.want_seq != seen)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	abs = ts.tv_sec + ts.tv_nsec / 1e9 + wait;
	ts.tv_sec = (time_t)abs;
	ts.tv_nsec = (long)((abs - floor(abs)) * 1e9);
	pthread_cond_timedwait(&a->edge.cond, &a->mu, &ts);
}

/* Caddy binds a new listener (SO_REUSEPORT) at every load and closes the
 * old one: unless the kernel moves the connections waiting in the old
 * one's queue (tcp_migrate_req, Linux 5.14), it resets them, about one a
 * route change under steady traffic. Said once, at start. */
static void migrate_check(void)
{
	char *v = NULL, err[256];
	size_t n;
	if (claw_file_load(MIGRATE_REQ, 16, &v, &n, err, sizeof(err)) ==
		    CLAW_OK &&
	    v[0] == '0')
		log_warn("edge: net.ipv4.tcp_migrate_req is 0, so each route "
			 "change resets the connections waiting at Caddy's "
			 "old listener: set it to 1 "
			 "(deploy/sysctl/90-claw-node.conf)");
	free(v);
}

void *na_edge_main(void *agent)
{
	struct na_agent *a = agent;
	json_t *applied = NULL; /* what Caddy took last (it may have lost it) */
	uint64_t seen = 0, loaded_seq = 0;
	double next = 0, certs_all = 0, certs_retry = 0;

	migrate_check();
	limit_apply(a, a->cfg.edge_max_conns_per_ip);
	for (;;) {
		json_t *want;
		uint64_t seq;
		bool ok = false;
		pthread_mutex_lock(&a->mu);
		while (!a->stop && a->edge.want_seq == seen && na_now() < next)
			wait_until(a, next, seen);
		if (a->stop) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		want = json_incref(a->edge.want);
		seq = a->edge.want_seq;
		pthread_mutex_unlock(&a->mu);
		seen = seq;
		if (!want) {
			next = na_now() + a->cfg.edge_poll_ms / 1000.0;
			continue;
		}
		if (applied != want) {
			/* the same config again: Caddy lost it while down */
			ok = load(a, want, seq, loaded_seq == seq);
		} else {
			int same = check(a, want);
			if (same == 1) {
				ok = true;
				set_state(a, "ok", NULL, false, false);
			} else if (same == 0) {
				log_warn("edge: Caddy's config is not the "
					 "node's (Caddy restarted or it was "
					 "changed): loading it again");
				ok = load(a, want, seq, true);
			}
		}
		if (ok) {
			double t = na_now();
			bool all = t >= certs_all, retry = t >= certs_retry;

			loaded_seq = seq;
			certs_read(a, want, all, retry);
			if (all && certs_all > 0 &&
			    a->cfg.edge_max_conns_per_ip)
				limit_apply(a, a->cfg.edge_max_conns_per_ip);
			if (all)
				certs_all =
					t + a->cfg.edge_cert_check_ms / 1000.0;
			if (retry)
				certs_retry = t + CERT_RETRY_S;
		}
		json_decref(applied);
		applied = ok ? json_incref(want) : NULL;
		json_decref(want);
		next = na_now() +
			(ok ? a->cfg.edge_poll_ms : EDGE_RETRY_MS) / 1000.0;
		if (!ok)
			/* refused: the poll interval, down: a second */
			next = na_now() +
				(strcmp(a->edge.state, "refused") == 0
					 ? a->cfg.edge_poll_ms
					 : EDGE_RETRY_MS) /
					1000.0;
	}
	json_decref(applied);
	limit_apply(a, 0);
	return NULL;
}
