/*
 * reconcile.c - the reconcile thread: make Docker match the desired state.
 *
 * Design: level-triggered. Each pass (on new desired state, a Docker event,
 * a finished operation or a timer) compares every tenant's desired spec
 * with what runs and starts the next step of each tenant as an operation
 * in a worker pool (ops.h): pull and pin images, create the tenant
 * network, create/start a container, signal a reload, replace a container
 * of an older generation, stop a suspended runtime, remove what is no
 * longer assigned, remove what is left of a purged tenant (purge.h),
 * probe health. The thread itself never waits on Docker, so tenants, and
 * the two containers of a tenant, proceed concurrently,
 * and a crash is seen and restarted at once. At most one operation per
 * container (and one pull, one network step per tenant) is in flight; its
 * result is applied here, in order with the Docker events.
 *
 * The view of Docker is rebuilt from labels at start and after any loss of
 * the engine (once the operations in flight have come back), so a
 * restarted agent adopts running containers without restarting them.
 *
 * Cost on a dense node: tenants are found by name through a hash index,
 * and a probe result that changes nothing (the common case: an idle node
 * of 400 tenants gets about 80 a second) does not start a full pass:
 * only the probes that are due are sent, until the full pass's own
 * timers come, a second away at most.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "claw/daemon.h"
#include "claw/json.h"
#include "claw/log.h"
#include "disk.h"
#include "drain.h"
#include "edge.h"
#include "gc.h"
#include "health.h"
#include "images.h"
#include "instances.h"
#include "ops.h"
#include "purge.h"
#include "spec.h"
#include "toolsrv.h"

#define NA_CALL_MS 30000L
#define NA_CRASH_LOOP_SHOWN_S 10.0 /* healthy this long: phase healthy */
#define NA_DRAIN_JOURNAL_MAX_S 300 /* longest wait for an old journal */
#define NA_PUBLISH_S 0.2 /* a probe's result is published this late at most */

double na_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

enum claw_rc na_agent_filter_path(const struct na_agent *a, const char *prefix,
				  bool events, char *out, size_t outlen)
{
	char filter[512], q[1024];
	json_t *f =
		json_pack("{s:[s, s]}", "label", "claw.managed=1", "claw.node");
	json_t *labels = json_object_get(f, "label");
	if (events) /* the container list refuses a "type" filter */
		json_object_set_new(f, "type", json_pack("[s]", "container"));
	snprintf(filter, sizeof(filter), "claw.node=%s", a->cfg.node_name);
	json_array_set_new(labels, 1, json_string(filter));
	char *text = claw_json_dumps(f);
	json_decref(f);
	enum claw_rc rc =
		text ? na_docker_qs(text, q, sizeof(q)) : CLAW_ERR_NOMEM;
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

bool na_agent_stopping(struct na_agent *a)
{
	pthread_mutex_lock(&a->mu);
	bool s = a->stop;
	pthread_mutex_unlock(&a->mu);
	return s;
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

/* The name index (agent.h): FNV-1a over the name, chains through hnext,
 * grown to a bucket a tenant. */
static size_t name_hash(const char *name)
{
	uint64_t h = 1469598103934665603ULL;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return (size_t)h;
}

/* True when the index was built anew (with every tenant in it). */
static bool index_grow(struct na_agent *a)
{
	size_t n = a->tindex_n ? a->tindex_n * 2 : 64;
	struct na_tenant **b = calloc(n, sizeof(*b));
	if (!b)
		return false; /* the old one still holds (the list, if none) */
	for (struct na_tenant *t = a->tenants; t; t = t->next) {
		size_t i = name_hash(t->name) & (n - 1);
		t->hnext = b[i];
		b[i] = t;
	}
	free(a->tindex);
	a->tindex = b;
	a->tindex_n = n;
	return true;
}

static struct na_tenant *tenant_get(struct na_agent *a, const char *name,
				    bool create)
{
	struct na_tenant *t;
	if (a->tindex) {
		for (t = a->tindex[name_hash(name) & (a->tindex_n - 1)]; t;
		     t = t->hnext)
			if (strcmp(t->name, name) == 0)
				return t;
	} else {
		for (t = a->tenants; t; t = t->next)
			if (strcmp(t->name, name) == 0)
				return t;
	}
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
	a->ntenants++;
	if (!(a->ntenants > a->tindex_n && index_grow(a)) && a->tindex) {
		size_t i = name_hash(name) & (a->tindex_n - 1);
		t->hnext = a->tindex[i];
		a->tindex[i] = t;
	}
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

/* Forget a container (it is gone); its restart count stays. */
static void inst_forget(struct na_inst *in)
{
	unsigned restarts = in->restarts;
	memset(in, 0, sizeof(*in));
	in->restarts = restarts;
	in->last_exit = -1;
}

/* o[key] when it is a string, else NULL (borrowed). */
static const char *str_at(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* The old pair starts its way out (drain_step): nothing read of its
 * journal yet, no switch of the edge yet. */
static void drain_begin(struct na_tenant *t)
{
	t->draining = true;
	t->drained = t->revived = t->rescued = false;
	t->switch_seq = 0;
	t->drain_next = t->drain_at = t->drain_since = 0;
	t->drain_depth = -1;
}

/* One container of the list: adopt it into its tenant's view (a
 * container without our labels is skipped). */
static void sync_container(struct na_agent *a, const json_t *c, double now)
{
	struct na_docker_err err;
	struct na_tenant *t;
	char net[64];
	json_t *labels = json_object_get(c, "Labels");
	const char *tenant = str_at(labels, "claw.tenant");
	int r = role_of(str_at(labels, "claw.role"));
	const char *id = str_at(c, "Id");
	const char *state = str_at(c, "State");
	const char *status = str_at(c, "Status");
	const char *gen = str_at(labels, "claw.generation");
	const char *dep = str_at(labels, "claw.deployment");
	const char *hash = str_at(labels, "claw.config-hash");
	const char *image = str_at(c, "Image");
	const char *uid = str_at(labels, "claw.uid");
	const char *seccomp = str_at(labels, "claw.seccomp");
	const char *volume = str_at(labels, "claw.volume");
	const char *edge = str_at(labels, "claw.edge");
	const char *slot_label = str_at(labels, "claw.slot");
	int slot = slot_label && !strcmp(slot_label, "1");
	if (na_toolsrv_adopt(a, c))
		return;
	if (!tenant || r < 0 || !id || !(t = tenant_get(a, tenant, true)))
		return;
	struct na_inst *in = &t->inst[r];
	long long g = gen ? strtoll(gen, NULL, 10) : -1;
	/* The other slot than the newest container's (sync_slots): the
	 * pair being retired, whole or in part. */
	if (slot != t->slot) {
		if (!t->draining) /* found so (an agent restart) */
			drain_begin(t);
		/* Its address, nothing more: it is not probed or restarted. */
		in = &t->old[r];
		if (strcmp(in->id, id))
			inst_forget(in);
		snprintf(in->id, sizeof(in->id), "%s", id);
		in->exists = true;
		in->generation = g;
		in->slot = slot;
		snprintf(in->edge_net, sizeof(in->edge_net), "%s",
			 edge ? edge : "");
		in->running = state && strcmp(state, "running") == 0;
		in->healthy = in->running;
		if (in->running) {
			bool running;
			na_network_name(t->name, slot, net, sizeof(net));
			na_inst_inspect(
				&a->docker, in->id, net, in->ip, sizeof(in->ip),
				r == NA_GATEWAY ? a->cfg.edge_network : NULL,
				in->edge_ip, sizeof(in->edge_ip),
				&in->host_port, &running, &err);
		}
		return;
	}
	bool same = strcmp(in->id, id) == 0;
	bool was_running = same && in->running;
	if (!same)
		inst_forget(in);
	snprintf(in->id, sizeof(in->id), "%s", id);
	in->exists = true;
	in->generation = g;
	snprintf(in->deployment, sizeof(in->deployment), "%s", dep ? dep : "");
	snprintf(in->image, sizeof(in->image), "%s", image ? image : "");
	in->uid = na_uids_parse(&a->uids, uid);
	snprintf(in->seccomp, sizeof(in->seccomp), "%s",
		 seccomp ? seccomp : "");
	snprintf(in->volume, sizeof(in->volume), "%s", volume ? volume : "");
	snprintf(in->edge_net, sizeof(in->edge_net), "%s", edge ? edge : "");
	in->slot = slot;
	if (!na_files_applied_load(&a->files, t->name, (enum na_role)r, id,
				   in->cfg_hash))
		snprintf(in->cfg_hash, sizeof(in->cfg_hash), "%s",
			 hash ? hash : "");
	in->running = state && strcmp(state, "running") == 0;
	if (in->running) {
		bool running;
		if (!was_running) {
			in->started_at = now;
			in->next_probe = now;
			/* Found running (an agent restart, a resync): taken
			 * as it was, proxy and window included, until its
			 * first probe (at once) says otherwise. */
			in->healthy = in->ready = in->proxy_ok = true;
			in->healthy_since = now;
			na_ready_adopt(&t->ready, now);
		}
		na_network_name(t->name, slot, net, sizeof(net));
		na_inst_inspect(&a->docker, in->id, net, in->ip, sizeof(in->ip),
				r == NA_GATEWAY ? a->cfg.edge_network : NULL,
				in->edge_ip, sizeof(in->edge_ip),
				&in->host_port, &running, &err);
	} else if (was_running || in->next_start == 0) {
		/* Exited while we did not watch (the engine or we restarted):
		 * a failure like any exit. */
		int code = -1;
		if (status)
			sscanf(status, "Exited (%d)", &code);
		if (in->stopped_by_us)
			in->stopped_by_us = false;
		else
			na_health_failed(a, t, (enum na_role)r, code, now);
	}
}

/* GET path (a list) with the filter {"label":["claw.managed=1"]}. */
static enum claw_rc list_managed(struct na_agent *a, const char *prefix,
				 json_t **out)
{
	struct na_docker_err err;
	char q[256], path[512];
	enum claw_rc rc =
		na_docker_qs("{\"label\":[\"claw.managed=1\"]}", q, sizeof(q));
	*out = NULL;
	snprintf(path, sizeof(path), "%sfilters=%s", prefix, q);
	if (rc == CLAW_OK)
		rc = na_docker_json(&a->docker, "GET", path, NULL, NULL,
				    NA_CALL_MS, out, &err);
	if (rc)
		log_error("unable to list %s: %s", prefix, err.message);
	return rc;
}

/* The tenants' uids from the labels of every volume and container on the
 * engine (any node's count as taken), volumes first: they outlive the
 * containers (uids.h). */
static enum claw_rc sync_uids(struct na_agent *a)
{
	json_t *vols = NULL, *ctrs = NULL, *v, *labels;
	size_t i;
	enum claw_rc rc = list_managed(a, "/volumes?", &vols);
	if (rc == CLAW_OK)
		rc = list_managed(a, "/containers/json?all=1&", &ctrs);
	if (rc == CLAW_OK) {
		na_uids_reset(&a->uids);
		json_t *lists[2] = {json_object_get(vols, "Volumes"), ctrs};
		for (int k = 0; k < 2; k++)
			json_array_foreach(lists[k], i, v) {
				labels = json_object_get(v, "Labels");
				const char *node = str_at(labels, "claw.node");
				na_uids_note(&a->uids,
					     str_at(labels, "claw.tenant"),
					     str_at(labels, "claw.uid"),
					     node &&
						     !strcmp(node,
							     a->cfg.node_name));
			}
	}
	json_decref(vols);
	json_decref(ctrs);
	return rc;
}

/* Each listed tenant's current slot: the slot of its newest container.
 * A blue/green redeploy brings the newer generation up in the other
 * slot, so whatever is in the other slot belongs to the pair being
 * retired, even a role whose new container is not made yet (an agent
 * killed between the new gateway and the new runtime: the serving
 * runtime is the old pair's, not one to replace in place). */
static void sync_slots(struct na_agent *a, const json_t *list)
{
	const json_t *c;
	size_t i;
	for (struct na_tenant *t = a->tenants; t; t = t->next)
		t->newest = INT64_MIN;
	json_array_foreach(list, i, c) {
		json_t *labels = json_object_get(c, "Labels");
		const char *tenant = str_at(labels, "claw.tenant");
		const char *gen = str_at(labels, "claw.generation");
		const char *slot = str_at(labels, "claw.slot");
		struct na_tenant *t;
		long long g = gen ? strtoll(gen, NULL, 10) : -1;
		if (role_of(str_at(labels, "claw.role")) < 0 || !tenant ||
		    !(t = tenant_get(a, tenant, true)) || g <= t->newest)
			continue;
		t->newest = g;
		t->slot = slot && !strcmp(slot, "1");
	}
}

/* Rebuild the view of our containers from their labels (no operation is
 * in flight when this runs): forget what exists, adopt every container
 * listed, then mark what is gone as neither running nor healthy. */
static enum claw_rc sync_from_docker(struct na_agent *a, double now)
{
	struct na_docker_err err;
	json_t *list = NULL, *c;
	size_t i;
	struct na_tenant *t;
	char path[1024];
	enum claw_rc rc = sync_uids(a);
	if (rc)
		return rc;
	rc = na_agent_filter_path(a, "/containers/json?all=1&", false, path,
				  sizeof(path));
	if (rc == CLAW_OK)
		rc = na_docker_json(&a->docker, "GET", path, NULL, NULL,
				    NA_CALL_MS, &list, &err);
	if (rc) {
		log_error("unable to list containers: %s", err.message);
		return rc;
	}
	for (t = a->tenants; t; t = t->next) {
		t->net_ok[0] = t->net_ok[1] = false;
		for (int r = 0; r < NA_ROLES; r++)
			t->inst[r].exists = t->old[r].exists = false;
	}
	sync_slots(a, list);
	json_array_foreach(list, i, c)
		sync_container(a, c, now);
	for (t = a->tenants; t; t = t->next) {
		for (int r = 0; r < NA_ROLES; r++)
			if (!t->inst[r].exists) {
				t->inst[r].running = false;
				t->inst[r].healthy = false;
			}
		if (t->draining && !t->old[0].exists && !t->old[1].exists) {
			t->draining = false;
			memset(t->old, 0, sizeof(t->old));
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
	if (t && !strcmp(ev->type, "container") && na_toolsrv_event(a, ev, now))
		return;
	if (!t || r < 0 || strcmp(ev->type, "container"))
		return;
	struct na_inst *in = &t->inst[r];
	if (t->draining && strcmp(t->old[r].id, ev->id) == 0) {
		/* the pair being retired: it is not restarted */
		if (!strcmp(ev->action, "die")) {
			t->old[r].running = t->old[r].healthy = false;
		} else if (!strcmp(ev->action, "destroy")) {
			t->old[r].exists = false;
			t->old[r].running = t->old[r].healthy = false;
		}
		return;
	}
	if (strcmp(in->id, ev->id) != 0) {
		/* The container being created: its id comes with the result
		 * of the operation, which looks at this. */
		if (in->busy && strcmp(ev->action, "die") == 0) {
			snprintf(in->stash_id, sizeof(in->stash_id), "%s",
				 ev->id);
			in->stash_exit = ev->exit_code;
		}
		return;
	}
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

static void set_phase(struct na_tenant *t, const char *phase,
		      const char *reason)
{
	if (strcmp(t->phase, phase) != 0)
		log_info("tenant '%s' phase %s%s%s", t->name, phase,
			 reason[0] ? ": " : "", reason);
	snprintf(t->phase, sizeof(t->phase), "%s", phase);
	snprintf(t->reason, sizeof(t->reason), "%s", reason);
}

static bool want_running(const struct na_tenant_spec *s, enum na_role r)
{
	return s->state == NA_RUNNING ||
		(s->state == NA_SUSPENDED && r == NA_GATEWAY);
}

/* Both roles alive and ready (/healthz and /readyz at the last probe). */
static bool inst_ready(const struct na_inst *in)
{
	return in->exists && in->running && in->healthy && in->ready &&
		!in->busy;
}

static void update_phase(struct na_tenant *t, const struct na_tenant_spec *s,
			 double now, double *next)
{
	char reason[512];
	bool all = true, stopping = false;
	bool window = false;
	t->min_ready_ms = s->min_ready_ms;
	if (s->state == NA_RUNNING)
		window = na_ready_step(&t->ready,
				       inst_ready(&t->inst[NA_GATEWAY]),
				       inst_ready(&t->inst[NA_RUNTIME]),
				       s->min_ready_ms, now, next);
	else
		na_ready_clear(&t->ready);
	for (int r = 0; r < NA_ROLES; r++) {
		const struct na_inst *in = &t->inst[r];
		/* Reported with its log tail, once that has come, and until
		 * it has stayed healthy a while (the backoff itself is reset
		 * only after healthy-reset-ms). */
		if (in->crash_loop && (in->log_tail[0] || !in->tail_pending) &&
		    !(in->healthy &&
		      now - in->healthy_since >= NA_CRASH_LOOP_SHOWN_S)) {
			snprintf(reason, sizeof(reason),
				 "%s is crash looping: last exit code %d after "
				 "%u restarts",
				 na_role_name((enum na_role)r), in->last_exit,
				 in->restarts);
			set_phase(t, "crash_loop", reason);
			return;
		}
		if (want_running(s, (enum na_role)r) ? !in->healthy
						     : in->running)
			all = false;
		if (!want_running(s, (enum na_role)r) && in->running)
			stopping = true;
	}
	if (!all || (s->state == NA_RUNNING && !window)) {
		if (!strcmp(t->phase, "failed"))
			return;
		if (t->gate_since)
			snprintf(reason, sizeof(reason),
				 "the runtime waits for the gateway's egress "
				 "proxy");
		else if (all)
			snprintf(reason, sizeof(reason),
				 "both roles must stay ready for %ld ms",
				 s->min_ready_ms);
		else
			reason[0] = 0;
		set_phase(t, stopping ? "stopping" : "starting", reason);
		return;
	}
	set_phase(t,
		  s->state == NA_RUNNING             ? "healthy"
			  : s->state == NA_SUSPENDED ? "suspended"
						     : "stopped",
		  "");
}

/* ---- decisions: start the next step as an operation ------------------ */

static struct na_op *new_op(struct na_agent *a, enum na_op_kind kind,
			    const char *tenant, int role)
{
	struct na_op *op = na_op_new(a, kind, tenant, role);
	if (!op)
		log_error("out of memory for a Docker operation");
	return op;
}

static void dispatch_pull(struct na_agent *a, struct na_tenant *t,
			  const struct na_tenant_spec *s)
{
	struct na_op *op = new_op(a, NA_OP_PULL, t->name, -1);
	if (!op)
		return;
	for (int r = 0; r < NA_ROLES; r++)
		snprintf(op->image[r], sizeof(op->image[r]), "%s",
			 s->role[r].image);
	op->auth = s->registry_auth ? json_deep_copy(s->registry_auth) : NULL;
	op->generation = s->generation;
	snprintf(op->deployment, sizeof(op->deployment), "%s", s->deployment);
	t->pull_busy = true;
	t->pull_op = op;
	memset(&t->pull, 0, sizeof(t->pull));
	set_phase(t, "pulling", "");
	na_op_submit(a, op);
}

/* A container of t on the network of that slot runs, or is being
 * started (inst[] is the pair of t->slot, old[] of the other). */
static bool slot_runs(const struct na_tenant *t, int slot)
{
	for (int r = 0; r < NA_ROLES; r++)
		if ((slot == t->slot &&
		     (t->inst[r].running || t->inst[r].busy)) ||
		    (slot != t->slot && t->draining && t->old[r].exists &&
		     t->old[r].running))
			return true;
	return false;
}

/* The network of tenant t, or (t NULL) the egress network, or (edge)
 * the edge network; a tenant's is that of its slot (dispatch_net). The
 * egress and edge networks are shared by the node's gateways; after a
 * connection to the engine or a loss of its event stream they are made
 * anew like a tenant's when none of their containers runs (ops.c,
 * renew_network): a gateway that died with dockerd can leave a dead
 * endpoint with the address and MAC a new gateway gets, which then
 * cannot reach out (docs/reliability.md, finding 19). */
static void dispatch_net(struct na_agent *a, struct na_tenant *t, int slot);

/* The ids of the gateways (both slots) on the egress network, or (edge)
 * on the edge network; NULL when out of memory (the renewal then finds
 * them by the engine's filter only). */
static json_t *network_gateways(const struct na_agent *a, bool edge)
{
	json_t *ids = json_array();
	for (const struct na_tenant *t = a->tenants; t && ids; t = t->next) {
		const struct na_inst *g[2] = {&t->inst[NA_GATEWAY],
					      &t->old[NA_GATEWAY]};
		for (int i = 0; i < 2; i++)
			if (g[i]->exists && g[i]->id[0] &&
			    (!edge ||
			     !strcmp(g[i]->edge_net, a->cfg.edge_network)))
				json_array_append_new(ids,
						      json_string(g[i]->id));
	}
	return ids;
}

static void dispatch_network(struct na_agent *a, struct na_tenant *t, bool edge)
{
	if (t) {
		dispatch_net(a, t, t->slot);
		return;
	}
	if (na_now() < a->net_retry_at)
		return;
	struct na_op *op = new_op(a, NA_OP_NETWORK, NULL, -1);
	if (!op)
		return;
	if (edge) {
		snprintf(op->name, sizeof(op->name), "%s", a->cfg.edge_network);
		op->body = na_spec_edge_network(a->cfg.edge_network,
						a->cfg.edge_subnet);
		op->fresh = a->edge_net_gen != a->engine_gen;
		a->edge_net_busy = true;
	} else {
		snprintf(op->name, sizeof(op->name), "%s",
			 a->cfg.egress_network);
		op->body = na_spec_egress_network(a->cfg.egress_network,
						  a->cfg.egress_subnet);
		op->fresh = a->egress_gen != a->engine_gen;
		a->egress_busy = true;
	}
	if (op->fresh)
		op->refs = network_gateways(a, edge);
	na_op_submit(a, op);
}

/* Count a network operation's failure (and its next try's time) or, on
 * success, clear the count. */
static void net_backoff(const struct na_agent *a, unsigned *failures,
			double *retry_at, bool failed, double now)
{
	if (!failed) {
		*failures = 0;
		return;
	}
	(*failures)++;
	/* +1: no immediate first retry (as pulls) */
	*retry_at = now +
		na_backoff_delay_ms(a->cfg.backoff_ms, a->cfg.backoff_max_ms,
				    *failures + 1) /
			1000.0;
}

/* The network of t's slot. The first time after each connection to the
 * engine (or loss of its event stream: dockerd may have restarted in
 * between), one none of t's containers runs on is made anew (ops.c,
 * renew_network: a container that died with dockerd may have left a
 * dead endpoint with a new container's address on it); otherwise, and
 * always while one runs, it is only made sure of. */
static void dispatch_net(struct na_agent *a, struct na_tenant *t, int slot)
{
	if (na_now() < t->net_retry_at[slot])
		return;
	struct na_op *op = new_op(a, NA_OP_NETWORK, t->name, -1);
	if (!op)
		return;
	op->slot = slot;
	na_network_name(t->name, slot, op->name, sizeof(op->name));
	op->body = na_spec_tenant_network(t->name, slot);
	op->fresh = t->net_gen[slot] != a->engine_gen && !slot_runs(t, slot);
	for (int r = 0; r < NA_ROLES && op->fresh; r++) {
		const struct na_inst *in =
			slot == t->slot ? &t->inst[r] : &t->old[r];
		if (in->exists && (slot == t->slot || t->draining))
			snprintf(op->old_id[r], sizeof(op->old_id[r]), "%s",
				 in->id);
	}
	t->net_busy[slot] = true;
	na_op_submit(a, op);
}

static void dispatch_disk(struct na_agent *a, struct na_tenant *t,
			  const struct na_tenant_spec *s)
{
	struct na_op *op = new_op(a, NA_OP_DISK, t->name, -1);
	if (!op)
		return;
	op->uid = t->uid;
	op->disk_mb = s->disk_mb;
	op->slot = t->slot;
	t->disk_busy = true;
	na_op_submit(a, op);
}

/* Replace (remove old first), create or restart a container of t. */
static void dispatch_start(struct na_agent *a, struct na_tenant *t,
			   const struct na_tenant_spec *s, enum na_role r,
			   bool replace, bool create, double now)
{
	struct na_inst *in = &t->inst[r];
	char cfg[1024], sec[1024], disk[1024];
	struct na_op *op = new_op(a, NA_OP_START, t->name, r);
	if (!op)
		return;
	if (replace) {
		snprintf(op->old_id[0], sizeof(op->old_id[0]), "%s", in->id);
		inst_forget(in);
	}
	if (create) {
		struct na_spec_paths paths = {
			.config_file = cfg,
			.secrets_dir = sec,
			.publish_ip =
				a->cfg.edge_admin ? NULL : a->cfg.publish_ip,
			.edge_net =
				a->cfg.edge_admin ? a->cfg.edge_network : "",
			.slot = t->slot,
			.config_hash = t->files_hash[r],
			.node = a->cfg.node_name,
			.uid = t->uid,
			.seccomp = a->seccomp_opt,
			.seccomp_hash = a->seccomp_hash,
			.volume = op->volname,
		};
		na_volume_name(t->name, r, s->disk_mb > 0, t->slot, op->volname,
			       sizeof(op->volname));
		/* a gateway that can switch slots (edge, no disk) reads the
		 * other slot's journal (bluegreen_begin) */
		if (r == NA_GATEWAY && a->cfg.edge_admin && !s->disk_mb) {
			na_volume_name(t->name, r, false, !t->slot, op->peervol,
				       sizeof(op->peervol));
			paths.peer_volume = op->peervol;
			op->peer_volume =
				na_spec_volume(t->name, r, !t->slot,
					       a->cfg.node_name, t->uid, NULL);
		}
		na_disk_role_dir(a->files.state_dir, t->name, r, disk,
				 sizeof(disk));
		na_files_config_path(&a->files, t->name, r, cfg, sizeof(cfg));
		na_files_secrets_path(&a->files, t->name, r, sec, sizeof(sec));
		na_container_name(t->name, r, t->slot, op->name,
				  sizeof(op->name));
		op->body = na_spec_container(s, r, t->pinned[r], &paths);
		op->volume =
			na_spec_volume(t->name, r, t->slot, a->cfg.node_name,
				       t->uid, s->disk_mb ? disk : NULL);
		if (!op->body || !op->volume ||
		    (paths.peer_volume && !op->peer_volume)) {
			log_error("out of memory for a container body");
			na_op_free(op);
			return;
		}
		if (r == NA_GATEWAY)
			snprintf(op->egress, sizeof(op->egress), "%s",
				 a->cfg.egress_network);
	} else {
		snprintf(op->id, sizeof(op->id), "%s", in->id);
	}
	if (r == NA_GATEWAY && a->cfg.edge_admin)
		snprintf(op->edge, sizeof(op->edge), "%s", a->cfg.edge_network);
	op->slot = t->slot;
	na_network_name(t->name, t->slot, op->net, sizeof(op->net));
	op->generation = s->generation;
	snprintf(op->deployment, sizeof(op->deployment), "%s", s->deployment);
	snprintf(op->image[0], sizeof(op->image[0]), "%s", t->pinned[r]);
	snprintf(op->cfg_hash, sizeof(op->cfg_hash), "%s", t->files_hash[r]);
	op->uid = create ? t->uid : in->uid;
	in->busy = true;
	/* Its die event from now on is a failure of this run. */
	in->running = create || !replace;
	in->healthy = in->ready = in->proxy_ok = false;
	in->probe_fail = 0;
	in->stopped_by_us = false;
	in->started_at = now;
	in->next_probe = now;
	in->ip[0] = 0;
	in->stash_id[0] = 0;
	na_op_submit(a, op);
}

static void dispatch_signal(struct na_agent *a, struct na_tenant *t,
			    enum na_role r, const char *sig)
{
	struct na_inst *in = &t->inst[r];
	struct na_op *op = new_op(a, NA_OP_SIGNAL, t->name, r);
	if (!op)
		return;
	snprintf(op->id, sizeof(op->id), "%s", in->id);
	snprintf(op->sig, sizeof(op->sig), "%s", sig);
	snprintf(op->cfg_hash, sizeof(op->cfg_hash), "%s", t->files_hash[r]);
	in->busy = true;
	na_op_submit(a, op);
}

static void dispatch_probe(struct na_agent *a, struct na_tenant *t,
			   enum na_role r)
{
	struct na_inst *in = &t->inst[r];
	struct na_op *op = new_op(a, NA_OP_PROBE, t->name, r);
	if (!op)
		return;
	snprintf(op->id, sizeof(op->id), "%s", in->id);
	snprintf(op->url, sizeof(op->url), "http://%s:%u/healthz", in->ip,
		 na_role_port(r));
	snprintf(op->ready_url, sizeof(op->ready_url), "http://%s:%u/readyz",
		 in->ip, na_role_port(r));
	if (r == NA_GATEWAY && !in->proxy_ok)
		snprintf(op->proxy_url, sizeof(op->proxy_url), "http://%s:%u/",
			 in->ip, NA_GATEWAY_PROXY_PORT);
	in->probing = true;
	na_op_submit(a, op);
}

/* A redeploy beside what serves (edge on, a running tenant without a
 * disk plan, not already mid-way): when the pair that serves is of
 * another generation and healthy, it becomes the old pair and the new
 * one starts in the other slot (its own names, network and gateway
 * volume, so its journal is its own). True when the pass waits: for the
 * new slot's network, or for an operation in flight on the pair (drain.h,
 * na_bluegreen_start). */
static bool bluegreen_begin(struct na_agent *a, struct na_tenant *t,
			    const struct na_tenant_spec *s)
{
	bool stale = false, busy = false;
	if (!a->cfg.edge_admin || s->state != NA_RUNNING || s->disk_mb ||
	    t->draining)
		return false;
	for (int r = 0; r < NA_ROLES; r++) {
		const struct na_inst *in = &t->inst[r];
		busy |= in->busy;
		stale |= in->exists &&
			(in->generation != s->generation ||
			 strcmp(in->deployment, s->deployment) ||
			 strcmp(in->image, t->pinned[r]));
	}
	/* A gateway without a runtime container (one removed for its own
	 * replacement, not yet made again) cannot answer: that pair does
	 * not serve, whatever its gateway's health (finding 18). */
	switch (na_bluegreen_start(stale, busy,
				   t->inst[NA_GATEWAY].running &&
					   t->inst[NA_GATEWAY].healthy &&
					   t->inst[NA_RUNTIME].exists)) {
	case NA_BG_NONE:
		return false; /* nothing to begin, or replaced in place */
	case NA_BG_WAIT:
		return true;
	case NA_BG_BEGIN:
		break;
	}
	log_info("tenant '%s': generation %lld starts beside generation %lld "
		 "(slot %d), which serves until the new pair is ready",
		 t->name, (long long)s->generation,
		 (long long)t->inst[NA_GATEWAY].generation, !t->slot);
	for (int r = 0; r < NA_ROLES; r++) {
		t->old[r] = t->inst[r];
		inst_forget(&t->inst[r]);
		t->inst[r].restarts = 0;
	}
	t->slot = !t->slot;
	drain_begin(t);
	na_ready_clear(&t->ready); /* the new pair earns its own */
	t->gate_since = 0;
	if (!t->net_ok[t->slot]) {
		if (!t->net_busy[t->slot])
			dispatch_network(a, t, false);
		return true;
	}
	return false;
}

/* Both roles of the pair of the current slot serve, and have stayed
 * ready for the whole readiness window (ready.h): the same rule as a
 * first deploy's "healthy". */
static bool pair_ready(const struct na_tenant *t)
{
	if (!t->ready.healthy)
		return false;
	for (int r = 0; r < NA_ROLES; r++) {
		const struct na_inst *in = &t->inst[r];
		if (!in->exists || !in->running || !in->healthy || in->busy)
			return false;
	}
	return t->inst[NA_GATEWAY].edge_ip[0] != 0;
}

/* What the old gateway's journal still holds stays in its slot's volume
 * (never removed by the agent; replayed when that slot's gateway starts
 * again): said at error level and in the node's status (journal_left)
 * until a gateway is made in that slot again. */
static void journal_left(struct na_tenant *t, const char *why)
{
	int os = !t->slot;
	char vol[96];
	na_volume_name(t->name, NA_GATEWAY, false, os, vol, sizeof(vol));
	t->journal_left[os] = t->drain_depth > 0 ? t->drain_depth : -1;
	log_error("tenant '%s': the old gateway (generation %lld) %s; its "
		  "journal holds %ld unanswered message(s) (-1: not known), "
		  "kept in volume '%s' until slot %d serves again",
		  t->name, (long long)t->old[NA_GATEWAY].generation, why,
		  t->journal_left[os], vol, os);
}

/* The old gateway was found dead (an engine restart, a kill) while its
 * journal may hold what it acknowledged: the old pair is started once,
 * on its own volume and network, so the gateway replays its journal
 * through its own runtime and is drained like a live one (its journal
 * is the only one that knows what it answered: another gateway replaying
 * it could answer twice). Its network first (made anew after an engine
 * loss, see dispatch_net). serving: found dead before the switch, while
 * the edge still routes to it, so it is started to serve again (once a
 * redeploy: a gateway that dies again waits for the switch and its
 * drain, as before). */
static void revive(struct na_agent *a, struct na_tenant *t, bool serving)
{
	int os = !t->slot;
	if (t->net_gen[os] != a->engine_gen || !t->net_ok[os]) {
		if (!t->net_busy[os])
			dispatch_net(a, t, os);
		return;
	}
	struct na_op *op = new_op(a, NA_OP_REVIVE, t->name, -1);
	if (!op)
		return;
	for (int r = 0; r < NA_ROLES; r++)
		if (t->old[r].exists)
			snprintf(op->old_id[r], sizeof(op->old_id[r]), "%s",
				 t->old[r].id);
	na_network_name(t->name, os, op->net, sizeof(op->net));
	if (a->cfg.edge_admin)
		snprintf(op->edge, sizeof(op->edge), "%s", a->cfg.edge_network);
	if (serving) {
		log_info(
			"tenant '%s': the old gateway (generation %lld), which "
			"serves until the new pair is ready, is not running; "
			"starting the old pair again",
			t->name, (long long)t->old[NA_GATEWAY].generation);
		t->rescued = true;
	} else {
		log_info("tenant '%s': the old gateway (generation %lld) is "
			 "not running; starting the old pair once to drain its "
			 "journal",
			 t->name, (long long)t->old[NA_GATEWAY].generation);
		t->revived = true;
	}
	t->drain_busy = true;
	na_op_submit(a, op);
}

/* The old pair's way out: once the edge routes to the new pair (Caddy
 * took that config), the old gateway's journal is read until it is empty
 * (what it acknowledged is answered, through its own runtime), then
 * after --edge-drain-ms (requests still in flight through it) the pair
 * is stopped (TERM, then KILL) and removed. Until the new pair is
 * ready the old one serves; a new pair that never gets ready leaves the
 * old one serving. */
static void drain_step(struct na_agent *a, struct na_tenant *t,
		       const struct na_tenant_spec *s, double now, double *next)
{
	uint64_t applied;
	const struct na_inst *og = &t->old[NA_GATEWAY];
	if (!t->draining || t->drain_busy || t->retire_busy)
		return;
	if (!t->old[0].exists && !t->old[1].exists) {
		t->draining = false;
		memset(t->old, 0, sizeof(t->old));
		return;
	}
	/* Suspended or stopped meanwhile: the old pair goes at once. */
	if (s->state != NA_RUNNING) {
		if (!t->drained && t->drain_depth > 0)
			journal_left(t,
				     "is retired with its tenant suspended "
				     "or stopped");
		t->drained = true;
		t->drain_at = now;
	} else if (!pair_ready(t)) {
		/* the edge still routes to the old pair (edge_update) */
		if (og->exists && !og->running && !t->rescued)
			revive(a, t, true);
		return;
	} else if (!t->switch_seq) {
		return;
	}
	pthread_mutex_lock(&a->mu);
	applied = a->edge.applied_seq;
	pthread_mutex_unlock(&a->mu);
	if (applied < t->switch_seq && s->state == NA_RUNNING)
		return;
	if (!t->drained) {
		enum na_drain_act act = na_drain_next(
			og->exists, og->running, og->ip[0] != 0, t->revived,
			s->state == NA_RUNNING, t->drain_depth);
		if (act == NA_DRAIN_REVIVE) {
			revive(a, t, false);
			return;
		}
		if (act == NA_DRAIN_LEFT)
			journal_left(t,
				     og->running
					     ? "runs without an address to "
					       "read its journal at"
					     : "stopped again after it was "
					       "started to drain its journal");
		if (act != NA_DRAIN_PROBE) {
			t->drained = true;
		} else if (now < t->drain_next) {
			*next = *next < t->drain_next ? *next : t->drain_next;
			return;
		} else {
			struct na_op *op = new_op(a, NA_OP_DRAIN, t->name, -1);
			if (!op)
				return;
			snprintf(op->id, sizeof(op->id), "%s", og->id);
			snprintf(op->url, sizeof(op->url),
				 "http://%s:%u/metrics", og->ip,
				 NA_GATEWAY_PORT);
			t->drain_busy = true;
			na_op_submit(a, op);
			return;
		}
	}
	if (!t->drain_at)
		t->drain_at = now + a->cfg.edge_drain_ms / 1000.0;
	if (now < t->drain_at) {
		*next = *next < t->drain_at ? *next : t->drain_at;
		return;
	}
	struct na_op *op = new_op(a, NA_OP_RETIRE, t->name, -1);
	if (!op)
		return;
	for (int r = 0; r < NA_ROLES; r++) {
		t->old[r].stopped_by_us = true;
		if (t->old[r].exists)
			snprintf(op->old_id[r], sizeof(op->old_id[r]), "%s",
				 t->old[r].id);
	}
	log_info("tenant '%s': the edge routes to generation %lld; retiring "
		 "generation %lld",
		 t->name, (long long)t->inst[NA_GATEWAY].generation,
		 (long long)og->generation);
	t->retire_busy = true;
	na_op_submit(a, op);
}

static bool pinned_for(const struct na_tenant *t,
		       const struct na_tenant_spec *s)
{
	return t->pinned_gen == s->generation && t->pinned[0][0] &&
		strcmp(t->pinned_dep, s->deployment) == 0;
}

/* The runtime's start gate (ready.h): its gateway runs, is healthy and
 * its egress proxy answered. Past --gateway-wait-ms the tenant fails with
 * that reason (and the runtime still starts once the proxy answers). */
static bool runtime_gate(struct na_agent *a, struct na_tenant *t,
			 enum na_role r, double now)
{
	const struct na_inst *gw = &t->inst[NA_GATEWAY];
	bool ok = gw->exists && gw->running && gw->healthy && gw->proxy_ok &&
		!gw->busy;
	char reason[256];
	if (r != NA_RUNTIME)
		return true;
	switch (na_gate_runtime(ok, &t->gate_since, a->cfg.gateway_wait_ms,
				now)) {
	case NA_GATE_OPEN:
		return true;
	case NA_GATE_TIMEOUT:
		/* a crash looping gateway is the cause, and says more */
		if (strcmp(t->phase, "crash_loop") == 0)
			return false;
		snprintf(reason, sizeof(reason),
			 "the gateway's egress proxy (port %u) did not answer "
			 "within %ld ms: the runtime is not started",
			 NA_GATEWAY_PROXY_PORT, a->cfg.gateway_wait_ms);
		set_phase(t, "failed", reason);
		return false;
	case NA_GATE_WAIT:
		break;
	}
	return false;
}

static void reconcile_tenant(struct na_agent *a, struct na_tenant *t,
			     const struct na_tenant_spec *s, double now,
			     double *next)
{
	char msg[512];
	t->desired = true;
	if (t->removing)
		return;
	/* The network and the images at once: neither needs the other. */
	if (!t->net_ok[t->slot] && !t->net_busy[t->slot])
		dispatch_network(a, t, false);
	if (t->pull_busy)
		return;
	if (!pinned_for(t, s)) {
		if (now >= t->pull_retry_at)
			dispatch_pull(a, t, s);
		return;
	}
	if (!t->net_ok[t->slot])
		return;
	if (!t->uid && !(t->uid = na_uids_for(&a->uids, t->name))) {
		set_phase(t, "failed",
			  "no free host uid left in the tenant uid range");
		return;
	}
	/* The plan's disk, mounted before any container uses it; a new
	 * size is applied while they run. */
	if (s->disk_mb) {
		/* Containers still on their plain volumes stop first, so
		 * the copy of their data onto the new disk is whole. */
		bool old = false;
		for (int r = 0; r < NA_ROLES && !t->disk_ok; r++) {
			struct na_inst *in = &t->inst[r];
			char vol[96];
			na_volume_name(t->name, (enum na_role)r, true, 0, vol,
				       sizeof(vol));
			if (in->busy) {
				old = true;
			} else if (in->exists && in->running &&
				   strcmp(in->volume, vol)) {
				/* TERM, then KILL when it is still up. */
				dispatch_signal(a, t, (enum na_role)r,
						in->stopped_by_us ? "KILL"
								  : "TERM");
				in->stopped_by_us = true;
				in->healthy = false;
				old = true;
			}
		}
		if (old)
			return;
		if (!t->disk_busy && now >= t->disk_retry_at &&
		    (!t->disk_ok || t->disk_mb != s->disk_mb ||
		     t->disk_uid != t->uid))
			dispatch_disk(a, t, s);
		if (!t->disk_ok)
			return;
	}
	if (t->want_hash_seq != a->desired_seq) {
		for (int r = 0; r < NA_ROLES; r++)
			na_files_hash(&a->files, &s->role[r], t->want_hash[r]);
		t->want_hash_seq = a->desired_seq;
	}
	for (int r = 0; r < NA_ROLES; r++) {
		const char *hash = t->want_hash[r];
		if (strcmp(hash, t->files_hash[r]) == 0 &&
		    t->files_uid[r] == t->uid)
			continue;
		if (na_files_write(&a->files, t->name, (enum na_role)r,
				   &s->role[r], t->uid, msg, sizeof(msg))) {
			set_phase(t, "failed", msg);
			return;
		}
		snprintf(t->files_hash[r], sizeof(t->files_hash[r]), "%s",
			 hash);
		t->files_uid[r] = t->uid;
	}
	if (bluegreen_begin(a, t, s))
		return; /* the new slot's network first */
	/* The gateway first; the runtime once the gateway's proxy answers
	 * (its only way out: its MCP servers then connect at once). An old
	 * runtime to replace goes at once; its successor waits. */
	for (int r = 0; r < NA_ROLES; r++) {
		struct na_inst *in = &t->inst[r];
		bool want = want_running(s, (enum na_role)r);
		if (in->busy)
			continue;
		if (r == NA_RUNTIME && !want)
			t->gate_since = 0;
		if (in->exists &&
		    (in->generation != s->generation ||
		     strcmp(in->deployment, s->deployment) ||
		     strcmp(in->image, t->pinned[r]))) {
			log_info("tenant '%s' %s: replacing generation %lld "
				 "with %lld",
				 t->name, na_role_name((enum na_role)r),
				 (long long)in->generation,
				 (long long)s->generation);
			dispatch_start(a, t, s, (enum na_role)r, true,
				       want && runtime_gate(a, t, r, now), now);
			continue;
		}
		/* Made under another sandbox (an earlier agent, another
		 * profile, uid or data volume): replaced, so the current one
		 * applies. */
		char vol[96];
		na_volume_name(t->name, (enum na_role)r, s->disk_mb > 0,
			       t->slot, vol, sizeof(vol));
		/* A gateway joins the edge network, or publishes its port,
		 * as the agent runs now (claw.edge). */
		const char *edge_net =
			a->cfg.edge_admin ? a->cfg.edge_network : "";
		if (in->exists &&
		    (in->uid != t->uid ||
		     strcmp(in->seccomp, a->seccomp_hash) ||
		     strcmp(in->volume, vol) ||
		     (r == NA_GATEWAY && strcmp(in->edge_net, edge_net)))) {
			log_info("tenant '%s' %s: replacing a container of "
				 "another sandbox (uid %lu, seccomp '%s', "
				 "volume '%s') with uid %lu, seccomp '%s', "
				 "volume '%s'",
				 t->name, na_role_name((enum na_role)r),
				 in->uid, in->seccomp, in->volume, t->uid,
				 a->seccomp_hash, vol);
			dispatch_start(a, t, s, (enum na_role)r, true,
				       want && runtime_gate(a, t, r, now), now);
			continue;
		}
		if (!want) {
			if (in->exists && in->running && !in->stopped_by_us) {
				in->stopped_by_us = true;
				in->healthy = false;
				dispatch_signal(a, t, (enum na_role)r, "KILL");
			}
			continue;
		}
		if (!in->exists || !in->running) {
			if (now >= in->next_start &&
			    runtime_gate(a, t, (enum na_role)r, now))
				dispatch_start(a, t, s, (enum na_role)r, false,
					       !in->exists, now);
		} else if (strcmp(in->cfg_hash, t->files_hash[r]) != 0) {
			dispatch_signal(a, t, (enum na_role)r, "HUP");
		}
	}
	update_phase(t, s, now, next);
}

static bool tenant_busy(const struct na_tenant *t)
{
	if (t->pull_busy || t->net_busy[0] || t->net_busy[1] || t->disk_busy ||
	    t->removing || t->drain_busy || t->retire_busy)
		return true;
	for (int r = 0; r < NA_ROLES; r++)
		if (t->inst[r].busy)
			return true;
	return false;
}

/* Remove containers, network and files of tenants no longer assigned. */
static void remove_unassigned(struct na_agent *a)
{
	for (struct na_tenant *t = a->tenants; t; t = t->next) {
		if (t->desired || tenant_busy(t) || na_toolsrv_remove(a, t))
			continue;
		struct na_op *op = new_op(a, NA_OP_UNASSIGN, t->name, -1);
		if (!op)
			return;
		for (int k = 0; k < 2 * NA_ROLES; k++) {
			struct na_inst *in = k < NA_ROLES
				? &t->inst[k]
				: &t->old[k - NA_ROLES];
			if (!in->exists)
				continue;
			log_info(
				"tenant '%s' %s is not assigned here; removing",
				t->name, na_role_name((enum na_role)(k % 2)));
			in->stopped_by_us = true;
			snprintf(op->old_id[k], sizeof(op->old_id[k]), "%s",
				 in->id);
		}
		na_network_name(t->name, 0, op->net, sizeof(op->net));
		na_network_name(t->name, 1, op->net1, sizeof(op->net1));
		t->removing = true;
		na_op_submit(a, op);
	}
}

/* ---- results of operations ------------------------------------------ */

static void apply_pull(struct na_agent *a, struct na_tenant *t,
		       struct na_op *op, double now)
{
	char reason[600];
	t->pull_busy = false;
	t->pull_op = NULL;
	t->pull = op->pull;
	if (op->rc) {
		docker_lost(a, &op->err);
		t->pull_failures++;
		/* Failed pulls are not retried at once: +1 skips the
		 * immediate first restart of the container backoff. */
		t->pull_retry_at = now +
			na_backoff_delay_ms(a->cfg.backoff_ms,
					    a->cfg.backoff_max_ms,
					    t->pull_failures + 1) /
				1000.0;
		snprintf(reason, sizeof(reason), "%s image: %.490s", op->text,
			 op->err.message);
		set_phase(t, "failed", reason);
		t->pinned[0][0] = 0;
		return;
	}
	t->pull_failures = 0;
	t->pinned_gen = op->generation;
	snprintf(t->pinned_dep, sizeof(t->pinned_dep), "%s", op->deployment);
	for (int r = 0; r < NA_ROLES; r++) {
		snprintf(t->pinned[r], sizeof(t->pinned[r]), "%s",
			 op->pinned[r]);
		na_gc_record(a, t->name, t->pinned[r]);
	}
}

static void apply_start(struct na_agent *a, struct na_tenant *t,
			struct na_op *op, double now)
{
	struct na_inst *in = &t->inst[op->role];
	char msg[600];
	in->busy = false;
	if (op->created || op->id[0]) {
		snprintf(in->id, sizeof(in->id), "%s", op->id);
		in->exists = true;
		in->generation = op->generation;
		snprintf(in->deployment, sizeof(in->deployment), "%s",
			 op->deployment);
		snprintf(in->image, sizeof(in->image), "%s", op->image[0]);
		snprintf(in->cfg_hash, sizeof(in->cfg_hash), "%s",
			 op->cfg_hash);
		if (op->created) {
			/* a new gateway replays its slot's journal */
			if (op->role == NA_GATEWAY)
				t->journal_left[op->slot] = 0;
			in->uid = op->uid;
			snprintf(in->seccomp, sizeof(in->seccomp), "%s",
				 a->seccomp_hash);
			snprintf(in->volume, sizeof(in->volume), "%s",
				 op->volname);
			if (op->role == NA_GATEWAY)
				snprintf(in->edge_net, sizeof(in->edge_net),
					 "%s", op->edge);
		}
	}
	bool died = in->stash_id[0] && strcmp(in->stash_id, in->id) == 0;
	in->stash_id[0] = 0;
	if (op->rc) {
		docker_lost(a, &op->err);
		snprintf(msg, sizeof(msg), "%s: %.500s",
			 na_role_name((enum na_role)op->role), op->err.message);
		/* once crash looping, each refused start is one line, not a
		 * phase flipped to failed and back */
		if (strcmp(t->phase, "crash_loop") == 0)
			log_warn("tenant '%s' could not start its %s", t->name,
				 msg);
		else
			set_phase(t, "failed", msg);
		if (a->docker_ok && in->running)
			na_health_failed(a, t, (enum na_role)op->role, -1, now);
		return;
	}
	snprintf(in->ip, sizeof(in->ip), "%s", op->ip);
	snprintf(in->edge_ip, sizeof(in->edge_ip), "%s", op->edge_ip);
	in->host_port = op->host_port;
	in->next_probe = now;
	if (died && in->running)
		na_health_failed(a, t, (enum na_role)op->role, in->stash_exit,
				 now);
}

static void apply_signal(struct na_agent *a, struct na_tenant *t,
			 struct na_op *op)
{
	struct na_inst *in = &t->inst[op->role];
	in->busy = false;
	if (op->rc == CLAW_OK) {
		if (strcmp(op->sig, "HUP") == 0 &&
		    strcmp(in->id, op->id) == 0) {
			snprintf(in->cfg_hash, sizeof(in->cfg_hash), "%s",
				 op->cfg_hash);
			na_files_applied_save(&a->files, t->name,
					      (enum na_role)op->role, in->id,
					      in->cfg_hash);
		}
		return;
	}
	docker_lost(a, &op->err);
	/* 409: it is not running (any more); its die event tells. */
	if (op->err.status != 409)
		log_warn("tenant '%s' %s: signal %s failed: %s", t->name,
			 na_role_name((enum na_role)op->role), op->sig,
			 op->err.message);
}

static void unlink_tenant(struct na_agent *a, struct na_tenant *t)
{
	if (a->tindex) {
		struct na_tenant **pp =
			&a->tindex[name_hash(t->name) & (a->tindex_n - 1)];
		for (; *pp; pp = &(*pp)->hnext)
			if (*pp == t) {
				*pp = t->hnext;
				break;
			}
	}
	for (struct na_tenant **pp = &a->tenants; *pp; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			a->ntenants--;
			json_decref(t->channels);
			free(t);
			return;
		}
}

static void apply_unassign(struct na_agent *a, struct na_tenant *t,
			   struct na_op *op)
{
	t->removing = false;
	if (op->rc) {
		docker_lost(a, &op->err);
		log_warn("unable to remove tenant '%s': %s", t->name,
			 op->err.message);
		return;
	}
	for (int r = 0; r < NA_ROLES; r++) {
		if (op->old_id[r][0] &&
		    strcmp(t->inst[r].id, op->old_id[r]) == 0)
			inst_forget(&t->inst[r]);
		if (op->old_id[NA_ROLES + r][0] &&
		    strcmp(t->old[r].id, op->old_id[NA_ROLES + r]) == 0)
			inst_forget(&t->old[r]);
	}
	if (!t->old[0].exists && !t->old[1].exists)
		t->draining = false;
	t->net_ok[0] = t->net_ok[1] = false;
	t->disk_ok = false; /* unmounted */
	if (t->desired)
		return; /* assigned again meanwhile: it starts afresh */
	na_files_remove_tenant(&a->files, t->name);
	na_gc_forget(a, t->name);
	a->next_gc = na_now() + 2;
	unlink_tenant(a, t);
}

static void apply_disk(struct na_agent *a, struct na_tenant *t,
		       struct na_op *op, double now)
{
	char reason[600];
	t->disk_busy = false;
	if (op->rc) {
		docker_lost(a, &op->err);
		t->disk_failures++;
		t->disk_retry_at = now +
			na_backoff_delay_ms(a->cfg.backoff_ms,
					    a->cfg.backoff_max_ms,
					    t->disk_failures + 1) /
				1000.0;
		snprintf(reason, sizeof(reason), "disk: %.500s", op->text);
		if (t->disk_ok)
			/* Mounted at its old size: what runs goes on. */
			log_warn("tenant '%s' %s", t->name, reason);
		else
			set_phase(t, "failed", reason);
		return;
	}
	if (op->text[0])
		log_warn("tenant '%s': %s", t->name, op->text);
	t->disk_failures = 0;
	t->disk_ok = true;
	t->disk_mb = op->disk_mb;
	t->disk_uid = op->uid;
}

static void apply_drain(struct na_tenant *t, struct na_op *op, double now)
{
	t->drain_busy = false;
	if (!t->draining || strcmp(op->id, t->old[NA_GATEWAY].id))
		return;
	if (!t->drain_since)
		t->drain_since = now;
	if (op->depth != -1) /* no answer says nothing: the last one stands */
		t->drain_depth = op->depth;
	switch (na_drain_depth(op->depth, now - t->drain_since,
			       NA_DRAIN_JOURNAL_MAX_S)) {
	case NA_DRAIN_DONE:
		/* Empty, or it answers without the gauge (not our gateway):
		 * nothing to wait for. */
		if (op->depth == -2)
			log_info("tenant '%s': the old gateway reports no "
				 "journal depth; not waiting for it",
				 t->name);
		t->drained = true;
		break;
	case NA_DRAIN_LEFT: {
		char why[96];
		snprintf(why, sizeof(why),
			 "did not empty its journal in %d s; retiring it",
			 NA_DRAIN_JOURNAL_MAX_S);
		journal_left(t, why);
		t->drained = true;
		break;
	}
	default:
		/* Not empty yet, or it did not answer (its die event, if it
		 * died, is seen by drain_step). */
		t->drain_next = now + 0.2;
	}
}

static void apply_revive(struct na_agent *a, struct na_tenant *t,
			 struct na_op *op, double now)
{
	struct na_inst *og = &t->old[NA_GATEWAY];
	t->drain_busy = false;
	if (!t->draining || strcmp(op->old_id[NA_GATEWAY], og->id))
		return;
	if (op->rc) {
		docker_lost(a, &op->err);
		log_warn("tenant '%s': unable to start the old pair: %s",
			 t->name, op->err.message);
		return; /* drain_step says what is left */
	}
	for (int r = 0; r < NA_ROLES; r++)
		if (op->old_id[r][0] && !strcmp(op->old_id[r], t->old[r].id))
			t->old[r].running = t->old[r].healthy = true;
	og->running = og->healthy = op->running;
	snprintf(og->ip, sizeof(og->ip), "%s", op->ip);
	if (op->edge_ip[0]) /* where the edge routes while it serves */
		snprintf(og->edge_ip, sizeof(og->edge_ip), "%s", op->edge_ip);
	t->drain_next = now;
}

static void apply_retire(struct na_agent *a, struct na_tenant *t,
			 struct na_op *op)
{
	t->retire_busy = false;
	if (op->rc) {
		docker_lost(a, &op->err);
		log_warn("tenant '%s': unable to retire the old pair: %s",
			 t->name, op->err.message);
		t->drain_at = na_now() + 1; /* tried again */
		return;
	}
	for (int r = 0; r < NA_ROLES; r++)
		if (!strcmp(t->old[r].id, op->old_id[r]))
			inst_forget(&t->old[r]);
	if (!t->old[0].exists && !t->old[1].exists) {
		t->draining = false;
		memset(t->old, 0, sizeof(t->old));
	}
}

/* True when the result changed what a full pass looks at. */
static bool apply_probe(struct na_agent *a, struct na_tenant *t,
			struct na_op *op, double now)
{
	struct na_inst *in = &t->inst[op->role];
	bool ready = in->ready, healthy = in->healthy, proxy = in->proxy_ok,
	     loop = in->crash_loop, changed = false;
	unsigned fails = in->probe_fail, failures = in->failures;
	in->probing = false;
	if (strcmp(in->id, op->id) || !in->running || in->busy)
		return false;
	if (in->ready && !op->ready && in->healthy)
		log_warn("tenant '%s' %s is no longer ready", t->name,
			 na_role_name((enum na_role)op->role));
	in->ready = op->ready;
	if (op->role == NA_GATEWAY && op->channels &&
	    !json_equal(op->channels, t->channels)) {
		json_decref(t->channels);
		t->channels = json_incref(op->channels);
		changed = true;
	}
	if (op->proxy && !in->proxy_ok)
		log_info("tenant '%s' gateway's egress proxy answers", t->name);
	in->proxy_ok |= op->proxy;
	if (na_health_probed(a, t, (enum na_role)op->role, op->ok, now)) {
		/* Its die event brings the restart and the backoff. */
		dispatch_signal(a, t, (enum na_role)op->role, "KILL");
		return true;
	}
	if (op->role == NA_GATEWAY && in->healthy && !in->proxy_ok)
		in->next_probe = now + 0.05; /* the runtime waits for it */
	return changed || ready != in->ready || healthy != in->healthy ||
		proxy != in->proxy_ok || fails != in->probe_fail ||
		failures != in->failures || loop != in->crash_loop;
}

/* Apply a result; false when it was a probe's that changed nothing (a
 * full pass need not follow it). */
static bool apply(struct na_agent *a, struct na_op *op, double now)
{
	struct na_tenant *t =
		op->tenant[0] ? tenant_get(a, op->tenant, false) : NULL;
	bool changed = true;
	a->inflight--;
	if (op->role >= NA_TOOLSRV_ROLE) {
		na_toolsrv_apply(a, t, op, now);
		na_op_free(op);
		return true;
	}
	switch (op->kind) {
	case NA_OP_PULL:
		if (t)
			apply_pull(a, t, op, now);
		break;
	case NA_OP_NETWORK:
		if (!op->tenant[0] && a->cfg.edge_admin &&
		    !strcmp(op->name, a->cfg.edge_network)) {
			a->edge_net_busy = false;
			if (op->rc == CLAW_OK)
				a->edge_net_gen = a->engine_gen;
		} else if (!op->tenant[0]) {
			a->egress_busy = false;
			if (op->rc == CLAW_OK)
				a->egress_gen = a->engine_gen;
		} else if (t) {
			t->net_busy[op->slot] = false;
			t->net_ok[op->slot] = op->rc == CLAW_OK;
			if (op->rc == CLAW_OK)
				t->net_gen[op->slot] = a->engine_gen;
		}
		if (op->fresh && (t || !op->tenant[0]))
			log_info("%s%s%snetwork '%s' made anew after a "
				 "connection to the engine (%s stopped "
				 "container(s) joined to it again)",
				 t ? "tenant '" : "", t ? t->name : "",
				 t ? "': " : "", op->name, op->text);
		if (op->rc) {
			docker_lost(a, &op->err);
			log_error("unable to create network '%s': %s", op->name,
				  op->err.message);
		}
		/* failed: tried again after a backoff, not on the next pass
		 * (each result wakes the loop: 70,000 lines in minutes) */
		if (!op->tenant[0])
			net_backoff(a, &a->net_failures, &a->net_retry_at,
				    op->rc != CLAW_OK, now);
		else if (t)
			net_backoff(a, &t->net_failures[op->slot],
				    &t->net_retry_at[op->slot],
				    op->rc != CLAW_OK, now);
		break;
	case NA_OP_START:
		if (t)
			apply_start(a, t, op, now);
		break;
	case NA_OP_SIGNAL:
		if (t)
			apply_signal(a, t, op);
		break;
	case NA_OP_UNASSIGN:
		if (t)
			apply_unassign(a, t, op);
		break;
	case NA_OP_PROBE:
		changed = t && apply_probe(a, t, op, now);
		break;
	case NA_OP_LOGTAIL:
		if (!t)
			break;
		t->inst[op->role].tail_pending = false;
		if (op->rc == CLAW_OK &&
		    strcmp(t->inst[op->role].id, op->id) == 0)
			snprintf(t->inst[op->role].log_tail,
				 sizeof(t->inst[op->role].log_tail), "%s",
				 op->text);
		break;
	case NA_OP_DISK:
		if (t)
			apply_disk(a, t, op, now);
		break;
	case NA_OP_DRAIN:
		if (t)
			apply_drain(t, op, now);
		break;
	case NA_OP_RETIRE:
		if (t)
			apply_retire(a, t, op);
		break;
	case NA_OP_REVIVE:
		if (t)
			apply_revive(a, t, op, now);
		break;
	case NA_OP_GC:
		a->gc_busy = false;
		a->next_gc = now + (na_gc_applied(a, op->refs) ? 10 : 60);
		break;
	case NA_OP_PURGE:
		if (op->rc == CLAW_ERR_IO)
			docker_lost(a, &op->err);
		na_purge_apply(a, op);
		break;
	}
	na_op_free(op);
	return changed;
}

/* ---- the observed state --------------------------------------------- */

static json_t *inst_json(const struct na_inst *in)
{
	json_t *o = json_pack(
		"{s:s, s:b, s:b, s:b, s:b, s:I, s:s, s:I, s:i, s:b, s:s}",
		"container", in->id, "exists", in->exists, "running",
		in->running, "healthy", in->healthy, "ready",
		in->healthy && in->ready, "generation",
		(json_int_t)in->generation, "image", in->image, "restarts",
		(json_int_t)in->restarts, "last_exit_code", in->last_exit,
		"crash_loop", in->crash_loop, "log_tail", in->log_tail);
	if (o && in->host_port)
		json_object_set_new(o, "port", json_integer(in->host_port));
	if (o && in->ip[0])
		json_object_set_new(o, "ip", json_string(in->ip));
	if (o && in->edge_ip[0])
		json_object_set_new(o, "edge_ip", json_string(in->edge_ip));
	return o;
}

/* The readiness window (ready.h): ready_ms is how long both roles have
 * been ready (0 when not), counted up to the window's end, so that an
 * idle tenant's status stays the same (and is not reported again);
 * resets how often a role dropped out. */
static json_t *ready_json(const struct na_tenant *t)
{
	const struct na_ready *w = &t->ready;
	double ms = w->ready ? (na_now() - w->since) * 1000 : 0;
	if (w->healthy || ms > (double)t->min_ready_ms)
		ms = (double)t->min_ready_ms;
	return json_pack("{s:I, s:b, s:I, s:b, s:I}", "min_ready_ms",
			 (json_int_t)t->min_ready_ms, "ready", w->ready,
			 "ready_ms", (json_int_t)ms, "healthy", w->healthy,
			 "resets", (json_int_t)w->resets);
}

static json_t *pull_json(struct na_agent *a, const struct na_tenant *t)
{
	struct na_pull_totals p = t->pull;
	if (t->pull_busy) {
		pthread_mutex_lock(&a->mu);
		p = t->pull_op->pull;
		pthread_mutex_unlock(&a->mu);
	}
	return json_pack("{s:b, s:i, s:i, s:I, s:I}", "active", t->pull_busy,
			 "layers_done", (int)p.layers_done, "layers_total",
			 (int)p.layers_total, "bytes_done",
			 (json_int_t)p.bytes_done, "bytes_total",
			 (json_int_t)p.bytes_total);
}

/* [{"slot", "volume", "depth"}] of what retirements left unanswered
 * (journal_left). */
static json_t *journal_left_json(const struct na_tenant *t)
{
	json_t *l = json_array();
	for (int k = 0; k < 2; k++) {
		char vol[96];
		if (!t->journal_left[k])
			continue;
		na_volume_name(t->name, NA_GATEWAY, false, k, vol, sizeof(vol));
		json_array_append_new(
			l,
			json_pack("{s:i, s:s, s:I}", "slot", k, "volume", vol,
				  "depth", (json_int_t)t->journal_left[k]));
	}
	return l;
}

static void publish(struct na_agent *a)
{
	json_t *tenants = json_array();
	uint64_t applied;
	pthread_mutex_lock(&a->mu);
	applied = a->edge.applied_seq;
	pthread_mutex_unlock(&a->mu);
	for (struct na_tenant *t = a->tenants; t; t = t->next) {
		const struct na_tenant_spec *s = t->spec;
		json_t *o = json_pack(
			"{s:s, s:s, s:I, s:s, s:s, s:{s:s, s:s}, s:o,"
			" s:{s:o, s:o}}",
			"tenant", t->name, "deployment", s ? s->deployment : "",
			"generation", (json_int_t)(s ? s->generation : -1),
			"phase", t->phase, "reason", t->reason, "images",
			"gateway", t->pinned[NA_GATEWAY], "runtime",
			t->pinned[NA_RUNTIME], "pull", pull_json(a, t), "roles",
			"gateway", inst_json(&t->inst[NA_GATEWAY]), "runtime",
			inst_json(&t->inst[NA_RUNTIME]));
		if (o && t->uid)
			json_object_set_new(o, "uid",
					    json_integer((json_int_t)t->uid));
		if (o)
			json_object_set_new(o, "readiness", ready_json(t));
		if (o && t->channels)
			json_object_set(o, "channels", t->channels);
		if (o && s && s->public_host)
			json_object_set_new(o, "public_host",
					    json_string(s->public_host));
		if (o && t->draining)
			json_object_set_new(
				o, "draining",
				json_pack("{s:I, s:i, s:b, s:s, s:s, s:i}",
					  "generation",
					  (json_int_t)t->old[NA_GATEWAY]
						  .generation,
					  "slot", !t->slot, "routed",
					  !pair_ready(t) || !t->switch_seq ||
						  applied < t->switch_seq,
					  "gateway", t->old[NA_GATEWAY].id,
					  "ip", t->old[NA_GATEWAY].ip,
					  "journal_depth",
					  (int)t->drain_depth));
		if (o && t->draining)
			json_object_set_new(json_object_get(o, "draining"),
					    "revived",
					    json_boolean(t->revived));
		if (o && (t->journal_left[0] || t->journal_left[1]))
			json_object_set_new(o, "journal_left",
					    journal_left_json(t));
		if (o)
			json_object_set_new(o, "slot", json_integer(t->slot));
		if (o)
			json_object_set_new(o, "tool_servers",
					    na_toolsrv_status(t->name));
		if (o && t->disk_ok)
			json_object_set_new(
				o, "disk_mb",
				json_integer((json_int_t)t->disk_mb));
		if (o)
			json_array_append_new(tenants, o);
	}
	json_t *snap = json_pack(
		"{s:s, s:b, s:s, s:s, s:b, s:I, s:b, s:o}", "node",
		a->cfg.node_name, "docker_up", a->docker_ok, "docker_api",
		a->docker.api, "docker_engine", a->docker.engine,
		"docker_live_restore", a->live_restore, "desired_generation",
		(json_int_t)a->desired.generation, "desired_known",
		a->desired_known, "tenants", tenants);
	if (snap && a->desired.purged)
		json_object_set_new(snap, "purged_done", na_purge_done_json(a));
	if (snap && a->cfg.edge_admin && a->cfg.edge_advertise)
		json_object_set_new(snap, "edge_address",
				    json_string(a->cfg.edge_advertise));
	pthread_mutex_lock(&a->mu);
	/* the per-address connection limit in force (edge_limit.h) */
	json_int_t limit = a->cfg.edge_admin && !a->edge.limit_error[0]
		? a->cfg.edge_max_conns_per_ip
		: 0;
	if (snap)
		json_object_set_new(
			snap, "edge",
			json_pack("{s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:O*, "
				  "s:I, s:s}",
				  "state", a->edge.state, "error",
				  a->edge.error, "routes",
				  (int)(a->edge.local + a->edge.remote),
				  "local_routes", (int)a->edge.local,
				  "remote_routes", (int)a->edge.remote, "loads",
				  (json_int_t)a->edge.loads, "reloads",
				  (json_int_t)a->edge.reloads, "certs",
				  a->edge.certs, "conn_limit", limit,
				  "conn_limit_error", a->edge.limit_error));
	if (snap && a->snapshot && json_equal(snap, a->snapshot)) {
		json_decref(snap); /* the same: nothing to report */
	} else {
		json_decref(a->snapshot);
		a->snapshot = snap;
		a->snapshot_seq++;
	}
	pthread_mutex_unlock(&a->mu);
}

/* ---- the loop -------------------------------------------------------- */

static void connect_docker(struct na_agent *a, double now)
{
	struct na_docker_err err;
	if (na_docker_connect(&a->docker, a->cfg.docker_socket, &err)) {
		log_warn("Docker engine not available: %s", err.message);
		return;
	}
	/* Without live-restore a restart of dockerd stops every tenant. Read
	 * here only: the other clients (logs, events) connect often. */
	json_t *info;
	if (na_docker_json(&a->docker, "GET", "/info", NULL, NULL, 10000, &info,
			   &err)) {
		log_warn("Docker engine not available: %s", err.message);
		return;
	}
	a->live_restore =
		json_is_true(json_object_get(info, "LiveRestoreEnabled"));
	json_decref(info);
	log_info("connected to Docker engine %s, API %s, live-restore %s",
		 a->docker.engine, a->docker.api,
		 a->live_restore ? "on" : "off");
	a->docker_ok = true;
	a->engine_gen++;
	if (sync_from_docker(a, now))
		a->docker_ok = false;
	else
		a->docker_synced = true;
}

static int site_cmp(const void *x, const void *y)
{
	const struct na_tenant_spec *const *a = x, *const *b = y;
	return strcmp((*a)->tenant, (*b)->tenant);
}

/* Build the edge's config from the desired state and what runs, and hand
 * it to the edge thread when it changed. Local routes need the view of
 * Docker: nothing is handed over before it was built once (Caddy keeps
 * what it had meanwhile), unless no tenant is local. */
static void edge_update(struct na_agent *a)
{
	const struct na_desired *d = &a->desired;
	const struct na_tenant_spec **local;
	struct na_edge_site *sites;
	char(*up)[64];
	size_t n = 0, nl, nlocal = 0;
	json_t *cfg;
	if (!a->cfg.edge_admin || !a->desired_known ||
	    (!a->docker_synced && d->n))
		return;
	local = calloc(d->n + 1, sizeof(*local));
	sites = calloc(d->n + d->n_routes + 1, sizeof(*sites));
	up = calloc(d->n + 1, sizeof(*up));
	if (!local || !sites || !up) {
		free(local);
		free(sites);
		free(up);
		return;
	}
	for (size_t i = 0; i < d->n; i++)
		if (d->tenants[i].public_host ||
		    json_array_size(d->tenants[i].domains))
			local[nlocal++] = &d->tenants[i];
	qsort(local, nlocal, sizeof(*local), site_cmp);
	for (size_t i = 0; i < nlocal; i++) {
		struct na_tenant *t = tenant_get(a, local[i]->tenant, false);
		const struct na_inst *in = t ? &t->inst[NA_GATEWAY] : NULL;
		const char *upstream = NULL;
		/* Mid-way through a redeploy, the old pair serves until the
		 * new one is ready. */
		if (t && t->draining && !pair_ready(t) &&
		    local[i]->state == NA_RUNNING)
			in = &t->old[NA_GATEWAY];
		if (in && in->exists && in->running && in->healthy &&
		    in->edge_ip[0] &&
		    !strcmp(in->edge_net, a->cfg.edge_network)) {
			snprintf(up[i], sizeof(up[i]), "%s:%u", in->edge_ip,
				 NA_GATEWAY_PORT);
			upstream = up[i];
		}
		sites[n++] = (struct na_edge_site){
			.tenant = local[i]->tenant,
			.public_host = local[i]->public_host,
			.domains = local[i]->domains,
			.upstream = upstream,
		};
	}
	nl = n;
	for (size_t i = 0; i < d->n_routes; i++)
		sites[n++] = (struct na_edge_site){
			.tenant = d->routes[i].tenant,
			.domains = d->routes[i].hosts,
			.upstream = d->routes[i].upstream,
			.remote = true,
		};
	/* The inputs' signature: the desired document and each local
	 * tenant's upstream. Passes come with every probe result; the config
	 * is built again only when one of these changed. */
	{
		uint64_t sig = 1469598103934665603ULL;
		const unsigned char *p;
		uintptr_t doc = (uintptr_t)d->doc;
		for (size_t k = 0; k < sizeof(doc); k++)
			sig = (sig ^ ((doc >> (8 * k)) & 0xff)) *
				1099511628211ULL;
		for (size_t k = 0; k < nl; k++) {
			p = (const unsigned char *)(sites[k].upstream
							    ? sites[k].upstream
							    : "-");
			for (; *p; p++)
				sig = (sig ^ *p) * 1099511628211ULL;
			sig = (sig ^ 0xff) * 1099511628211ULL;
		}
		if (a->edge_built && sig == a->edge_sig) {
			free(local);
			free(sites);
			free(up);
			goto switched;
		}
		a->edge_sig = sig;
	}
	cfg = na_edge_config(&a->edge_opts, sites, n);
	if (cfg && !json_equal(cfg, a->edge_built)) {
		json_decref(a->edge_built);
		a->edge_built = json_incref(cfg);
		pthread_mutex_lock(&a->mu);
		json_decref(a->edge.want);
		a->edge.want = json_incref(cfg);
		a->edge.want_seq++;
		a->edge.local = (unsigned)nl;
		a->edge.remote = (unsigned)(n - nl);
		pthread_cond_broadcast(&a->edge.cond);
		pthread_mutex_unlock(&a->mu);
	}
	json_decref(cfg);
	free(local);
	free(sites);
	free(up);
switched:
	/* Tenants whose new pair is routed from the current config on. */
	for (struct na_tenant *t = a->tenants; t; t = t->next)
		if (t->draining && !t->switch_seq && pair_ready(t)) {
			pthread_mutex_lock(&a->mu);
			t->switch_seq = a->edge.want_seq;
			pthread_mutex_unlock(&a->mu);
		}
}

/* Each tenant's assignment in a new desired state (NULL: none). */
static void respec(struct na_agent *a)
{
	for (struct na_tenant *t = a->tenants; t; t = t->next)
		t->spec = NULL;
	for (size_t i = 0; i < a->desired.n; i++) {
		struct na_tenant *t =
			tenant_get(a, a->desired.tenants[i].tenant, false);
		if (t)
			t->spec = &a->desired.tenants[i];
	}
}

static double min_time(double a, double b)
{
	return b < a ? b : a;
}

/* A full pass: every tenant reconciled, then the probes. Its own timers
 * (not the probes') go into a->next_full: at most a second away. */
static double pass(struct na_agent *a, double now)
{
	double next = now + 1.0;
	a->probes_due = false;
	if (!a->desired_known)
		return next;
	if (a->egress_gen != a->engine_gen) {
		if (!a->egress_busy)
			dispatch_network(a, NULL, false);
		return next;
	}
	if (a->cfg.edge_admin && a->edge_net_gen != a->engine_gen) {
		if (!a->edge_net_busy)
			dispatch_network(a, NULL, true);
		return next;
	}
	for (struct na_tenant *t = a->tenants; t; t = t->next)
		t->desired = false;
	for (size_t i = 0; i < a->desired.n; i++) {
		const struct na_tenant_spec *s = &a->desired.tenants[i];
		struct na_tenant *t = tenant_get(a, s->tenant, true);
		if (!t)
			continue;
		t->spec = s;
		reconcile_tenant(a, t, s, now, &next);
		na_toolsrv_reconcile(a, t, s, now, &next);
	}
	for (struct na_tenant *t = a->tenants; t; t = t->next)
		if (t->desired && t->spec)
			drain_step(a, t, t->spec, now, &next);
	remove_unassigned(a);
	na_purge_pass(a);
	if (now >= a->next_gc && !a->gc_busy) {
		json_t *refs = na_gc_plan(a);
		struct na_op *op = json_array_size(refs)
			? new_op(a, NA_OP_GC, NULL, -1)
			: NULL;
		if (op) {
			op->refs = refs;
			a->gc_busy = true;
			na_op_submit(a, op);
		} else {
			json_decref(refs);
			a->next_gc = now + 60;
		}
	}
	if (!a->gc_busy)
		next = min_time(next, a->next_gc);
	for (struct na_tenant *t = a->tenants; t; t = t->next) {
		for (int r = 0; r < NA_ROLES; r++) {
			struct na_inst *in = &t->inst[r];
			if (!in->busy && !in->running && in->next_start > now)
				next = min_time(next, in->next_start);
		}
		if (!t->pull_busy && t->pull_retry_at > now)
			next = min_time(next, t->pull_retry_at);
		if (!t->disk_busy && t->disk_retry_at > now)
			next = min_time(next, t->disk_retry_at);
	}
	a->probes_due = true;
	return next;
}

/* Send the probes that are due; the time of the next one, or next when
 * that is sooner. A pass of its own when nothing but unchanged probe
 * results came (agent.h next_full), and the end of every full one. */
static double probe_sweep(struct na_agent *a, double now, double next)
{
	for (struct na_tenant *t = a->tenants; t; t = t->next)
		for (int r = 0; r < NA_ROLES; r++) {
			struct na_inst *in = &t->inst[r];
			if (in->busy || !in->exists || !in->running ||
			    !in->ip[0] || in->probing)
				continue;
			if (in->next_probe <= now)
				dispatch_probe(a, t, (enum na_role)r);
			else
				next = min_time(next, in->next_probe);
		}
	return next;
}

/* Publish the snapshot after a pass that may have changed it: at once
 * when urgent, else at most every NA_PUBLISH_S. Returns next, or the
 * time of the publish held back when sooner. */
static double publish_due(struct na_agent *a, double now, bool urgent,
			  double next)
{
	if (urgent ||
	    (a->publish_pending && now - a->published_at >= NA_PUBLISH_S)) {
		publish(a);
		a->published_at = now;
		a->publish_pending = false;
	} else if (a->publish_pending) {
		next = min_time(next, a->published_at + NA_PUBLISH_S);
	}
	return next;
}

void *na_reconcile_main(void *agent)
{
	struct na_agent *a = agent;
	struct na_event evs[NA_EVENT_QUEUE];
	bool resync_due = false;
	if (na_ops_start(a)) {
		/* Nothing would ever run: stop the agent (its supervisor
		 * restarts it) rather than answer /healthz idle. */
		log_error("unable to start the worker threads; stopping");
		claw_daemon_stop(CLAW_ERR_NOMEM);
		return NULL;
	}
	for (;;) {
		size_t nev;
		double now = na_now();
		uint64_t seen_seq = a->desired_seq;
		pthread_mutex_lock(&a->mu);
		if (a->stop) {
			pthread_mutex_unlock(&a->mu);
			break;
		}
		if (a->next_desired) {
			na_desired_release(&a->desired);
			a->desired = *a->next_desired;
			free(a->next_desired);
			if (na_toolsrv_prepare(&a->desired, a->files.hash_key))
				log_error("out of memory laying tool servers "
					  "into the tenants' configs");
			a->next_desired = NULL;
			a->desired_known = true;
			a->desired_seq++;
			respec(a);
			na_purge_new_desired(a);
		}
		nev = a->nq;
		memcpy(evs, a->queue, nev * sizeof(evs[0]));
		a->nq = 0;
		/* A lost event stream may be a restarted engine, whose
		 * networks are then looked at again (dispatch_net). */
		if (a->resync)
			a->engine_gen++;
		resync_due |= a->resync || a->queue_overflow;
		a->resync = a->queue_overflow = false;
		struct na_op *done = na_op_take_done(a);
		bool edge_dirty = a->edge_dirty;
		pthread_mutex_unlock(&a->mu);

		/* Results first, then the events that came meanwhile (a die
		 * event of a container just created finds its id). */
		/* An event, a new desired state or any result but a probe's
		 * is urgent: a full pass, published at once. A probe result
		 * that changed something: a full pass, published at most
		 * every NA_PUBLISH_S. Probe results that changed nothing (tens
		 * a second on a node of hundreds of tenants) only send the
		 * probes that are due, until the full pass's own timers come
		 * (agent.h next_full, a second away at most). */
		bool urgent = nev > 0 || a->desired_seq != seen_seq;
		bool changed = false;
		while (done) {
			struct na_op *next = done->next_done;
			urgent |= done->kind != NA_OP_PROBE;
			changed |= apply(a, done, now);
			done = next;
		}
		/* The view is rebuilt once no operation is in flight. */
		if (!a->docker_ok) {
			if (a->inflight == 0) {
				connect_docker(a, now);
				resync_due = false;
			}
		} else if (resync_due && a->inflight == 0) {
			resync_due = false;
			if (sync_from_docker(a, now))
				a->docker_ok = false;
		}
		for (size_t i = 0; i < nev && a->docker_ok; i++)
			handle_event(a, &evs[i], now);
		double next;
		if (!urgent && !changed && !edge_dirty && a->docker_ok &&
		    !resync_due && a->probes_due && now < a->next_full) {
			/* Only probe results that changed nothing. */
			next = publish_due(a, now, false,
					   probe_sweep(a, now, a->next_full));
		} else {
			if (a->docker_ok && !resync_due) {
				a->next_full = pass(a, now);
				next = a->probes_due
					? probe_sweep(a, now, a->next_full)
					: a->next_full;
			} else {
				a->probes_due = false;
				next = now + 1.0;
			}
			edge_update(a);
			pthread_mutex_lock(&a->mu);
			a->edge_dirty = false;
			pthread_mutex_unlock(&a->mu);
			a->publish_pending = true;
			next = publish_due(a, now, urgent, next);
		}

		pthread_mutex_lock(&a->mu);
		if (!a->stop && !a->next_desired && a->nq == 0 && !a->resync &&
		    !a->done && !a->edge_dirty) {
			struct timespec ts;
			double wait = next - na_now();
			if (wait < 0.002)
				wait = 0.002;
			clock_gettime(CLOCK_REALTIME, &ts);
			double until = ts.tv_sec + ts.tv_nsec / 1e9 + wait;
			ts.tv_sec = (time_t)until;
			ts.tv_nsec = (long)((until - floor(until)) * 1e9);
			pthread_cond_timedwait(&a->cond, &a->mu, &ts);
		}
		pthread_mutex_unlock(&a->mu);
	}
	na_ops_stop(a);
	na_purge_release(a);
	return NULL;
}
