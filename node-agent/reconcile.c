/*
 * reconcile.c - the reconcile thread: make Docker match the desired state.
 *
 * Design: level-triggered. Each pass (on new desired state, a Docker event
 * or a timer) compares every tenant's desired spec with what runs and does
 * the next step: pull and pin images, create the tenant network, write
 * config and secret files, create/start containers, signal a reload,
 * replace containers of an older generation, stop a suspended runtime, and
 * remove what is no longer assigned. Its view of Docker is rebuilt from
 * labels at start and after any loss of the engine, so a restarted agent
 * adopts running containers without restarting them.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "claw/json.h"
#include "claw/log.h"
#include "gc.h"
#include "health.h"
#include "images.h"
#include "instances.h"
#include "spec.h"

#define NA_CALL_MS 30000L

double na_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

enum claw_rc na_agent_filter_path(const struct na_agent *a,
				  const char *prefix, bool events, char *out,
				  size_t outlen)
{
	char filter[512], q[1024];
	json_t *f = json_pack("{s:[s, s]}", "label", "claw.managed=1",
			      "claw.node");
	json_t *labels = json_object_get(f, "label");
	if (events) /* the container list refuses a "type" filter */
		json_object_set_new(f, "type", json_pack("[s]", "container"));
	snprintf(filter, sizeof(filter), "claw.node=%s", a->cfg.node_name);
	json_array_set_new(labels, 1, json_string(filter));
	char *text = claw_json_dumps(f);
	json_decref(f);
	enum claw_rc rc = text ? na_docker_qs(text, q, sizeof(q))
			       : CLAW_ERR_NOMEM;
	free(text);
	if (rc == CLAW_OK &&
	    snprintf(out, outlen, "%sfilters=%s", prefix, q) >= (int)outlen)
		rc = CLAW_ERR_TOO_LARGE;
	return rc;
}

void na_agent_wake(struct na_agent *a)
{
	pthread_cond_broadcast(&a->cond);
}

void na_agent_set_desired(struct na_agent *a, struct na_desired *d_steal)
{
	pthread_mutex_lock(&a->mu);
	if (a->next_desired) {
		na_desired_release(a->next_desired);
		free(a->next_desired);
	}
	a->next_desired = d_steal;
	na_agent_wake(a);
	pthread_mutex_unlock(&a->mu);
}

json_t *na_agent_snapshot(struct na_agent *a)
{
	pthread_mutex_lock(&a->mu);
	json_t *s = json_incref(a->snapshot);
	pthread_mutex_unlock(&a->mu);
	return s;
}

static struct na_tenant *tenant_get(struct na_agent *a, const char *name,
				    bool create)
{
	struct na_tenant *t;
	for (t = a->tenants; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	if (!create || !na_valid_tenant(name))
		return NULL;
	t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->phase, sizeof(t->phase), "pending");
	for (int r = 0; r < NA_ROLES; r++)
		t->inst[r].last_exit = -1;
	t->next = a->tenants;
	a->tenants = t;
	return t;
}

static int role_of(const char *s)
{
	for (int r = 0; r < NA_ROLES; r++)
		if (s && strcmp(s, na_role_name((enum na_role)r)) == 0)
			return r;
	return -1;
}

static void docker_lost(struct na_agent *a, const struct na_docker_err *err)
{
	if (err->status == 0 && a->docker_ok) {
		log_error("lost the Docker engine: %s", err->message);
		a->docker_ok = false;
	}
}

/* Rebuild the view of our containers from their labels. */
static enum claw_rc sync_from_docker(struct na_agent *a, double now)
{
	struct na_docker_err err;
	json_t *list = NULL, *c;
	size_t i;
	struct na_tenant *t;
	char path[1024];
	enum claw_rc rc = na_agent_filter_path(a, "/containers/json?all=1&",
					       false, path, sizeof(path));
	if (rc == CLAW_OK)
		rc = na_docker_json(&a->docker, "GET", path, NULL, NULL,
				    NA_CALL_MS, &list, &err);
	if (rc) {
		log_error("unable to list containers: %s", err.message);
		return rc;
	}
	for (t = a->tenants; t; t = t->next) {
		t->net_ok = false;
		for (int r = 0; r < NA_ROLES; r++)
			t->inst[r].exists = false;
	}
	json_array_foreach(list, i, c)
	{
		json_t *labels = json_object_get(c, "Labels");
		const char *tenant = json_string_value(
			json_object_get(labels, "claw.tenant"));
		int r = role_of(json_string_value(
			json_object_get(labels, "claw.role")));
		const char *id = json_string_value(json_object_get(c, "Id"));
		const char *state = json_string_value(
			json_object_get(c, "State"));
		const char *status = json_string_value(
			json_object_get(c, "Status"));
		const char *gen = json_string_value(
			json_object_get(labels, "claw.generation"));
		const char *dep = json_string_value(
			json_object_get(labels, "claw.deployment"));
		const char *hash = json_string_value(
			json_object_get(labels, "claw.config-hash"));
		const char *image = json_string_value(
			json_object_get(c, "Image"));
		if (!tenant || r < 0 || !id ||
		    !(t = tenant_get(a, tenant, true)))
			continue;
		struct na_inst *in = &t->inst[r];
		bool was_running = in->exists && in->running &&
				   strcmp(in->id, id) == 0;
		if (strcmp(in->id, id) != 0) {
			unsigned restarts = in->restarts;
			memset(in, 0, sizeof(*in));
			in->restarts = restarts;
			in->last_exit = -1;
		}
		snprintf(in->id, sizeof(in->id), "%s", id);
		in->exists = true;
		in->generation = gen ? strtoll(gen, NULL, 10) : -1;
		snprintf(in->deployment, sizeof(in->deployment), "%s",
			 dep ? dep : "");
		snprintf(in->image, sizeof(in->image), "%s",
			 image ? image : "");
		snprintf(in->cfg_hash, sizeof(in->cfg_hash), "%s",
			 hash ? hash : "");
		in->running = state && strcmp(state, "running") == 0;
		if (in->running) {
			if (!was_running) {
				in->started_at = now;
				in->next_probe = now;
			}
			na_inst_inspect(a, t->name, in, &err);
		} else if (was_running || in->next_start == 0) {
			/* Exited while we did not watch (the engine or we
			 * restarted): a failure like any exit. */
			int code = -1;
			if (status)
				sscanf(status, "Exited (%d)", &code);
			if (in->stopped_by_us)
				in->stopped_by_us = false;
			else
				na_health_failed(a, t, (enum na_role)r, code,
						 now);
		}
	}
	json_decref(list);
	return CLAW_OK;
}

static void handle_event(struct na_agent *a, const struct na_event *ev,
			 double now)
{
	struct na_tenant *t = tenant_get(a, ev->tenant, false);
	int r = role_of(ev->role);
	if (!t || r < 0 || strcmp(ev->type, "container"))
		return;
	struct na_inst *in = &t->inst[r];
	if (strcmp(in->id, ev->id) != 0)
		return;
	if (strcmp(ev->action, "die") == 0 && in->running) {
		if (in->stopped_by_us) {
			in->stopped_by_us = false;
			in->running = false;
			in->healthy = false;
			return;
		}
		na_health_failed(a, t, (enum na_role)r, ev->exit_code, now);
	} else if (strcmp(ev->action, "destroy") == 0) {
		in->exists = false;
		in->running = false;
		in->healthy = false;
	}
}

static enum claw_rc ensure_network(struct na_agent *a, const char *name,
				   json_t *body_steal)
{
	struct na_docker_err err;
	char path[160];
	json_t *out = NULL;
	enum claw_rc rc;
	snprintf(path, sizeof(path), "/networks/%s", name);
	rc = na_docker_json(&a->docker, "GET", path, NULL, NULL, NA_CALL_MS,
			    &out, &err);
	json_decref(out);
	if (rc == CLAW_ERR_NOT_FOUND) {
		rc = na_docker_json(&a->docker, "POST", "/networks/create",
				    NULL, body_steal, NA_CALL_MS, NULL, &err);
		if (rc && err.status == 409)
			rc = CLAW_OK;
	}
	if (rc) {
		docker_lost(a, &err);
		log_error("unable to create network '%s': %s", name,
			  err.message);
	}
	json_decref(body_steal);
	return rc;
}

static void set_phase(struct na_tenant *t, const char *phase,
		      const char *reason)
{
	if (strcmp(t->phase, phase) != 0)
		log_info("tenant '%s' phase %s%s%s", t->name, phase,
			 reason[0] ? ": " : "", reason);
	snprintf(t->phase, sizeof(t->phase), "%s", phase);
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

static bool pin_images(struct na_agent *a, struct na_tenant *t,
		       const struct na_tenant_spec *s, double now)
{
	struct na_progress prog;
	struct na_docker_err err;
	char reason[600];
	if (t->pinned_gen == s->generation && t->pinned[0][0] &&
	    strcmp(t->pinned_dep, s->deployment) == 0)
		return true;
	if (now < t->pull_retry_at)
		return false;
	set_phase(t, "pulling", "");
	for (int r = 0; r < NA_ROLES; r++) {
		enum claw_rc rc = na_image_ensure(
			&a->docker, s->role[r].image, s->registry_auth,
			t->pinned[r], sizeof(t->pinned[r]), &prog, &err);
		if (rc) {
			docker_lost(a, &err);
			t->pull_failures++;
			t->pull_retry_at =
				now + na_backoff_delay_ms(a->cfg.backoff_ms,
							  a->cfg.backoff_max_ms,
							  t->pull_failures) /
					      1000.0;
			snprintf(reason, sizeof(reason), "%s image: %.490s",
				 na_role_name((enum na_role)r), err.message);
			set_phase(t, "failed", reason);
			t->pinned[0][0] = 0;
			return false;
		}
	}
	t->pull_failures = 0;
	t->pinned_gen = s->generation;
	snprintf(t->pinned_dep, sizeof(t->pinned_dep), "%s", s->deployment);
	for (int r = 0; r < NA_ROLES; r++)
		na_gc_record(a, t->name, t->pinned[r]);
	return true;
}

static bool want_running(const struct na_tenant_spec *s, enum na_role r)
{
	return s->state == NA_RUNNING ||
	       (s->state == NA_SUSPENDED && r == NA_GATEWAY);
}

static void update_phase(struct na_tenant *t, const struct na_tenant_spec *s)
{
	char reason[512];
	bool all = true;
	for (int r = 0; r < NA_ROLES; r++) {
		const struct na_inst *in = &t->inst[r];
		if (in->crash_loop) {
			snprintf(reason, sizeof(reason),
				 "%s is crash looping: last exit code %d after "
				 "%u restarts",
				 na_role_name((enum na_role)r), in->last_exit,
				 in->restarts);
			set_phase(t, "crash_loop", reason);
			return;
		}
		if (want_running(s, (enum na_role)r) && !in->healthy)
			all = false;
	}
	if (!all) {
		if (strcmp(t->phase, "failed") != 0)
			set_phase(t, "starting", "");
		return;
	}
	set_phase(t,
		  s->state == NA_RUNNING	 ? "healthy"
		  : s->state == NA_SUSPENDED ? "suspended"
					     : "stopped",
		  "");
}

static void reconcile_tenant(struct na_agent *a, struct na_tenant *t,
			     const struct na_tenant_spec *s, double now)
{
	struct na_docker_err err;
	char msg[512], net[64];
	t->desired = true;
	if (!pin_images(a, t, s, now) || !a->docker_ok)
		return;
	if (!t->net_ok) {
		na_network_name(t->name, net, sizeof(net));
		if (ensure_network(a, net, na_spec_tenant_network(t->name)))
			return;
		t->net_ok = true;
	}
	for (int r = 0; r < NA_ROLES; r++) {
		char hash[65];
		na_files_hash(&a->files, &s->role[r], hash);
		if (strcmp(hash, t->files_hash[r]) == 0)
			continue;
		if (na_files_write(&a->files, t->name, (enum na_role)r,
				   &s->role[r], msg, sizeof(msg))) {
			set_phase(t, "failed", msg);
			return;
		}
		snprintf(t->files_hash[r], sizeof(t->files_hash[r]), "%s",
			 hash);
	}
	/* The runtime first: the gateway finds it when it starts. */
	for (int r = NA_RUNTIME; r >= 0; r--) {
		struct na_inst *in = &t->inst[r];
		enum claw_rc rc = CLAW_OK;
		if (in->exists &&
		    (in->generation != s->generation ||
		     strcmp(in->deployment, s->deployment) ||
		     strcmp(in->image, t->pinned[r]))) {
			log_info("tenant '%s' %s: replacing generation %lld "
				 "with %lld",
				 t->name, na_role_name((enum na_role)r),
				 (long long)in->generation,
				 (long long)s->generation);
			in->stopped_by_us = true;
			if (na_inst_remove(a, in, &err))
				goto fail;
			in->failures = 0;
			in->crash_loop = false;
			in->next_start = 0;
		}
		if (!want_running(s, (enum na_role)r)) {
			if (in->exists && in->running && !in->stopped_by_us) {
				in->stopped_by_us = true;
				in->healthy = false;
				rc = na_inst_signal(a, in, "KILL", &err);
				if (rc && err.status != 409)
					goto fail;
			}
			continue;
		}
		if (!in->exists) {
			if (now < in->next_start)
				continue;
			rc = na_inst_create(a, t, s, (enum na_role)r, &err);
		} else if (!in->running) {
			if (now < in->next_start)
				continue;
			rc = na_inst_start(a, t, (enum na_role)r, &err);
		} else if (strcmp(in->cfg_hash, t->files_hash[r]) != 0) {
			rc = na_inst_signal(a, in, "HUP", &err);
			if (rc == CLAW_OK)
				snprintf(in->cfg_hash, sizeof(in->cfg_hash),
					 "%s", t->files_hash[r]);
		}
		if (rc)
			goto fail;
		continue;
fail:
		docker_lost(a, &err);
		snprintf(msg, sizeof(msg), "%s: %.490s",
			 na_role_name((enum na_role)r), err.message);
		set_phase(t, "failed", msg);
		if (a->docker_ok)
			na_health_failed(a, t, (enum na_role)r, -1, now);
		return;
	}
	update_phase(t, s);
}

/* Remove containers, network and files of tenants no longer assigned. */
static void remove_unassigned(struct na_agent *a)
{
	struct na_docker_err err;
	struct na_tenant **pp = &a->tenants, *t;
	char path[160], net[64];
	while ((t = *pp)) {
		if (t->desired) {
			pp = &t->next;
			continue;
		}
		bool gone = true;
		for (int r = 0; r < NA_ROLES; r++) {
			if (!t->inst[r].exists)
				continue;
			log_info("tenant '%s' %s is not assigned here; removing",
				 t->name, na_role_name((enum na_role)r));
			t->inst[r].stopped_by_us = true;
			if (na_inst_remove(a, &t->inst[r], &err)) {
				docker_lost(a, &err);
				gone = false;
			}
		}
		if (!gone) {
			pp = &t->next;
			continue;
		}
		na_network_name(t->name, net, sizeof(net));
		snprintf(path, sizeof(path), "/networks/%s", net);
		na_docker_json(&a->docker, "DELETE", path, NULL, NULL,
			       NA_CALL_MS, NULL, &err);
		na_files_remove_tenant(&a->files, t->name);
		na_gc_forget(a, t->name);
		*pp = t->next;
		free(t);
	}
}

static json_t *inst_json(const struct na_inst *in)
{
	json_t *o = json_pack(
		"{s:s, s:b, s:b, s:b, s:I, s:s, s:I, s:i, s:b, s:s}", "container",
		in->id, "exists", in->exists, "running", in->running, "healthy",
		in->healthy, "generation", (json_int_t)in->generation, "image",
		in->image, "restarts", (json_int_t)in->restarts, "last_exit_code",
		in->last_exit, "crash_loop", in->crash_loop, "log_tail",
		in->log_tail);
	if (o && in->host_port)
		json_object_set_new(o, "port", json_integer(in->host_port));
	if (o && in->ip[0])
		json_object_set_new(o, "ip", json_string(in->ip));
	return o;
}

static void publish(struct na_agent *a)
{
	json_t *tenants = json_array();
	for (struct na_tenant *t = a->tenants; t; t = t->next) {
		const struct na_tenant_spec *s =
			na_desired_find(&a->desired, t->name);
		json_t *o = json_pack(
			"{s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s}, s:{s:o, s:o}}",
			"tenant", t->name, "deployment",
			s ? s->deployment : "", "generation",
			(json_int_t)(s ? s->generation : -1), "phase", t->phase,
			"reason", t->reason, "images", "gateway",
			t->pinned[NA_GATEWAY], "runtime", t->pinned[NA_RUNTIME],
			"roles", "gateway", inst_json(&t->inst[NA_GATEWAY]),
			"runtime", inst_json(&t->inst[NA_RUNTIME]));
		if (o)
			json_array_append_new(tenants, o);
	}
	json_t *snap = json_pack("{s:s, s:b, s:s, s:s, s:I, s:b, s:o}", "node",
				 a->cfg.node_name, "docker_up", a->docker_ok,
				 "docker_api", a->docker.api, "docker_engine",
				 a->docker.engine, "desired_generation",
				 (json_int_t)a->desired.generation,
				 "desired_known", a->desired_known, "tenants",
				 tenants);
	pthread_mutex_lock(&a->mu);
	json_decref(a->snapshot);
	a->snapshot = snap;
	a->snapshot_seq++;
	pthread_mutex_unlock(&a->mu);
}

static void connect_docker(struct na_agent *a, double now)
{
	struct na_docker_err err;
	if (na_docker_connect(&a->docker, a->cfg.docker_socket, &err)) {
		log_warn("Docker engine not available: %s", err.message);
		return;
	}
	log_info("connected to Docker engine %s, API %s", a->docker.engine,
		 a->docker.api);
	a->docker_ok = true;
	a->egress_ok = false;
	if (sync_from_docker(a, now))
		a->docker_ok = false;
}

static double pass(struct na_agent *a, double now)
{
	double next = now + 1.0;
	if (a->desired_known && a->docker_ok && !a->egress_ok)
		a->egress_ok = ensure_network(a, a->cfg.egress_network,
					      na_spec_egress_network(
						      a->cfg.egress_network)) ==
			       CLAW_OK;
	if (a->desired_known && a->docker_ok && a->egress_ok) {
		for (struct na_tenant *t = a->tenants; t; t = t->next)
			t->desired = false;
		for (size_t i = 0; i < a->desired.n && a->docker_ok; i++) {
			const struct na_tenant_spec *s = &a->desired.tenants[i];
			struct na_tenant *t = tenant_get(a, s->tenant, true);
			if (t)
				reconcile_tenant(a, t, s, now);
		}
		if (a->docker_ok)
			remove_unassigned(a);
		if (a->docker_ok && now >= a->next_gc) {
			na_gc_run(a);
			a->next_gc = now + 60;
		}
	}
	for (struct na_tenant *t = a->tenants; t && a->docker_ok; t = t->next) {
		double p = na_health_probe(a, t, na_now());
		next = p < next ? p : next;
		for (int r = 0; r < NA_ROLES; r++) {
			const struct na_inst *in = &t->inst[r];
			if (in->next_start > now && in->next_start < next)
				next = in->next_start;
		}
		if (t->pull_retry_at > now && t->pull_retry_at < next)
			next = t->pull_retry_at;
	}
	return next;
}

void *na_reconcile_main(void *agent)
{
	struct na_agent *a = agent;
	struct na_event evs[NA_EVENT_QUEUE];
	for (;;) {
		size_t nev;
		bool resync;
		double now = na_now();
		pthread_mutex_lock(&a->mu);
		if (a->stop) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		if (a->next_desired) {
			na_desired_release(&a->desired);
			a->desired = *a->next_desired;
			free(a->next_desired);
			a->next_desired = NULL;
			a->desired_known = true;
		}
		nev = a->nq;
		memcpy(evs, a->queue, nev * sizeof(evs[0]));
		a->nq = 0;
		resync = a->resync || a->queue_overflow;
		a->resync = a->queue_overflow = false;
		pthread_mutex_unlock(&a->mu);

		if (!a->docker_ok)
			connect_docker(a, now);
		else if (resync && sync_from_docker(a, now))
			a->docker_ok = false;
		for (size_t i = 0; i < nev && a->docker_ok; i++)
			handle_event(a, &evs[i], now);
		double next = a->docker_ok ? pass(a, now) : now + 1.0;
		publish(a);

		pthread_mutex_lock(&a->mu);
		if (!a->stop && !a->next_desired && a->nq == 0 && !a->resync) {
			struct timespec ts;
			double wait = next - na_now();
			if (wait < 0.005)
				wait = 0.005;
			clock_gettime(CLOCK_REALTIME, &ts);
			double until = ts.tv_sec + ts.tv_nsec / 1e9 + wait;
			ts.tv_sec = (time_t)until;
			ts.tv_nsec = (long)((until - floor(until)) * 1e9);
			pthread_cond_timedwait(&a->cond, &a->mu, &ts);
		}
		pthread_mutex_unlock(&a->mu);
	}
	return NULL;
}
