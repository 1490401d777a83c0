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
#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"

#define EDGE_CALL_MS 30000L
#define EDGE_RETRY_MS 1000L
#define EDGE_MAX_CONFIG (32u << 20)

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

void *na_edge_main(void *agent)
{
	struct na_agent *a = agent;
	json_t *applied = NULL; /* what Caddy took last (it may have lost it) */
	uint64_t seen = 0, loaded_seq = 0;
	double next = 0;
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
		if (ok)
			loaded_seq = seq;
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
	return NULL;
}
