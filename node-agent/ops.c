/*
 * ops.c - operations run by the worker pools; see ops.h.
 */
#include "ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpc.h"
#include "claw/json.h"
#include "claw/log.h"
#include "images.h"
#include "disk.h"
#include "instances.h"
#include "purge.h"
#include "spec.h"
#include "volumes.h"

#define NA_OPS_WORKERS 8
#define NA_PROBE_WORKERS 4
#define NA_PROBE_TIMEOUT_MS 1000L
#define NA_READY_TIMEOUT_MS 2500L /* the gateway waits 1 s on its runtime */
#define NA_CALL_MS 30000L
/* how long a container being replaced or retired may take to stop (its
 * SIGTERM, then Docker's SIGKILL) */
#define NA_STOP_GRACE_S 20
#define NA_PROGRESS_WAKE_S 0.25

/* After each pull line: publish the totals (roles done and this one),
 * wake the reconciler now and then to report them, and stop the pull when
 * the agent stops. */
static int on_progress(const struct na_progress *p, void *cls)
{
	struct na_op *op = cls;
	struct na_agent *a = op->a;
	struct na_pull_totals t = op->pull_base;
	na_progress_add_totals(p, &t);
	pthread_mutex_lock(&a->mu);
	op->pull = t;
	double now = na_now();
	if (now - a->progress_woken >= NA_PROGRESS_WAKE_S) {
		a->progress_woken = now;
		na_agent_wake(a);
	}
	bool stop = a->stop;
	pthread_mutex_unlock(&a->mu);
	return stop;
}

static void run_pull(struct na_op *op)
{
	for (int r = 0; r < NA_ROLES; r++) {
		/* Two roles on one image: the second finds it present. */
		op->rc = na_image_ensure(&op->docker, op->image[r], op->auth,
					 op->pinned[r], sizeof(op->pinned[r]),
					 &op->progress, on_progress, op,
					 &op->err);
		if (op->rc) {
			snprintf(op->text, sizeof(op->text), "%s",
				 na_role_name((enum na_role)r));
			return;
		}
		na_progress_add_totals(&op->progress, &op->pull_base);
	}
	pthread_mutex_lock(&op->a->mu);
	op->pull = op->pull_base;
	pthread_mutex_unlock(&op->a->mu);
}

static enum claw_rc ensure_network(const struct na_docker *d, const char *name,
				   const json_t *body,
				   struct na_docker_err *err)
{
	char path[160];
	json_t *out = NULL;
	snprintf(path, sizeof(path), "/networks/%s", name);
	enum claw_rc rc = na_docker_json(d, "GET", path, NULL, NULL, NA_CALL_MS,
					 &out, err);
	json_decref(out);
	if (rc == CLAW_ERR_NOT_FOUND) {
		rc = na_docker_json(d, "POST", "/networks/create", NULL, body,
				    NA_CALL_MS, NULL, err);
		if (rc && err->status == 409)
			rc = CLAW_OK;
	}
	return rc;
}

/* {"Container": id, "EndpointConfig": {"Aliases": aliases}} appended to
 * keep unless id is there already (aliases borrowed; NULL: none). */
static void keep_add(json_t *keep, const char *id, json_t *aliases)
{
	size_t i;
	json_t *k;
	json_array_foreach(keep, i, k) {
		if (!strcmp(json_string_value(json_object_get(k, "Container")),
			    id))
			return;
	}
	json_array_append_new(keep,
			      json_pack("{s:s, s:{s:O}}", "Container", id,
					"EndpointConfig", "Aliases",
					aliases ? aliases : json_null()));
}

/* A network after the engine was lost (op->fresh): a tenant's, or the
 * egress or edge network the node's gateways share (op->refs then lists
 * the gateways on it the reconciler knows). When none of the containers
 * on it runs, it is made anew and they are connected to the new one
 * under the aliases they had. A container that died with dockerd can
 * leave its veth on the bridge (its namespace held by a shim that
 * outlived the engine) with the address and MAC a new container of the
 * network gets, which then cannot be reached (docs/reliability.md,
 * findings 5 and 19); Docker itself no longer lists that endpoint, so nothing
 * short of a new bridge clears it. Stopped containers keep their
 * network settings, so they are disconnected first and connected again
 * after (docker start of a container on a network that was removed and
 * made again fails otherwise). The tenant's own pair (op->old_id[role],
 * alias the role), or a shared network's gateways (op->refs), are given
 * by the reconciler, so an attempt cut short after the disconnects (an
 * engine going away again) is completed by the next one; the others
 * (tool servers) are found by the engine's network filter. A network
 * any container runs on is only made sure of: nothing was lost there. */
static enum claw_rc renew_network(struct na_op *op)
{
	const struct na_docker *d = &op->docker;
	struct na_docker_err *err = &op->err;
	char q[256], path[512];
	json_t *list = NULL, *c, *keep, *k;
	size_t i;
	json_t *f = json_pack("{s:[s]}", "network", op->name);
	char *text = f ? claw_json_dumps(f) : NULL;
	enum claw_rc rc =
		text ? na_docker_qs(text, q, sizeof(q)) : CLAW_ERR_NOMEM;
	json_decref(f);
	free(text);
	snprintf(path, sizeof(path), "/containers/json?all=1&filters=%s", q);
	if (rc == CLAW_OK)
		rc = na_docker_json(d, "GET", path, NULL, NULL, NA_CALL_MS,
				    &list, err);
	json_array_foreach(list, i, c) {
		const char *state =
			json_string_value(json_object_get(c, "State"));
		if (state && !strcmp(state, "running")) {
			json_decref(list);
			return ensure_network(d, op->name, op->body, err);
		}
	}
	if (rc)
		return rc;
	/* A container a dockerd kill left half removed ("dead", or still
	 * "removing") cannot join a network again, and the connect below
	 * would fail on every retry: it goes now (best effort), and the
	 * reconciler makes its role anew. */
	json_t *dead = json_object();
	json_array_foreach(list, i, c) {
		const char *id = json_string_value(json_object_get(c, "Id"));
		const char *state =
			json_string_value(json_object_get(c, "State"));
		if (id && state &&
		    (!strcmp(state, "dead") || !strcmp(state, "removing"))) {
			struct na_docker_err ignored;
			if (na_inst_remove(d, id, &ignored))
				log_warn("network '%s': unable to remove the "
					 "dead container %.12s: %s",
					 op->name, id, ignored.message);
			json_object_set_new(dead, id, json_true());
		}
	}
	keep = json_array();
	for (int r = 0; r < NA_ROLES; r++) {
		json_t *alias = json_pack("[s]", na_role_name((enum na_role)r));
		if (op->old_id[r][0] && !json_object_get(dead, op->old_id[r]))
			keep_add(keep, op->old_id[r], alias);
		json_decref(alias);
	}
	json_array_foreach(list, i, c) {
		const char *id = json_string_value(json_object_get(c, "Id"));
		json_t *ins = NULL;
		if (rc || !id || json_object_get(dead, id))
			continue;
		snprintf(path, sizeof(path), "/containers/%s/json", id);
		rc = na_docker_json(d, "GET", path, NULL, NULL, NA_CALL_MS,
				    &ins, err);
		if (rc == CLAW_ERR_NOT_FOUND) { /* removed meanwhile */
			rc = CLAW_OK;
			continue;
		}
		json_t *aliases = json_object_get(
			json_object_get(
				json_object_get(
					json_object_get(ins, "NetworkSettings"),
					"Networks"),
				op->name),
			"Aliases");
		keep_add(keep, id, json_is_array(aliases) ? aliases : NULL);
		json_decref(ins);
	}
	/* a shared network's gateways, as the reconciler knows them: those
	 * an attempt cut short disconnected are no longer listed above */
	json_array_foreach(op->refs, i, k) {
		const char *id = json_string_value(k);
		if (id && !json_object_get(dead, id))
			keep_add(keep, id, NULL);
	}
	json_decref(list);
	json_decref(dead);
	snprintf(path, sizeof(path), "/networks/%s/disconnect", op->name);
	json_array_foreach(keep, i, k) {
		json_t *b =
			json_pack("{s:O, s:b}", "Container",
				  json_object_get(k, "Container"), "Force", 1);
		/* An error status: not connected (any more). */
		if (rc == CLAW_OK && b &&
		    na_docker_json(d, "POST", path, NULL, b, NA_CALL_MS, NULL,
				   err) &&
		    err->status == 0)
			rc = CLAW_ERR_IO;
		json_decref(b);
	}
	snprintf(path, sizeof(path), "/networks/%s", op->name);
	if (rc == CLAW_OK) {
		rc = na_docker_json(d, "DELETE", path, NULL, NULL, NA_CALL_MS,
				    NULL, err);
		if (rc == CLAW_ERR_NOT_FOUND)
			rc = CLAW_OK;
	}
	if (rc == CLAW_OK)
		rc = na_docker_json(d, "POST", "/networks/create", NULL,
				    op->body, NA_CALL_MS, NULL, err);
	op->fresh = rc == CLAW_OK;
	snprintf(path, sizeof(path), "/networks/%s/connect", op->name);
	json_array_foreach(keep, i, k) {
		if (rc == CLAW_OK) {
			rc = na_docker_json(d, "POST", path, NULL, k,
					    NA_CALL_MS, NULL, err);
			if (rc == CLAW_ERR_NOT_FOUND) /* removed meanwhile */
				rc = CLAW_OK;
		}
	}
	snprintf(op->text, sizeof(op->text), "%zu", json_array_size(keep));
	json_decref(keep);
	return rc;
}

static void run_network(struct na_op *op)
{
	if (op->fresh) {
		op->fresh = false;
		op->rc = renew_network(op);
	} else {
		op->rc = ensure_network(&op->docker, op->name, op->body,
					&op->err);
	}
}

/* Stop, then remove, the first n containers of op->old_id (in that
 * order: a pair's gateway before its runtime). A container is stopped
 * (SIGTERM, Docker's SIGKILL after the grace) before it is removed: a
 * gateway killed at once could lose the record of a reply it has just
 * sent, and its successor on the same journal would answer the message
 * again (docs/reliability.md, findings 9 and 14). A stop that fails (a
 * container Docker no longer lets stop) leaves it to the removal, which
 * kills. */
static enum claw_rc stop_then_remove(struct na_op *op, int n)
{
	struct na_docker_err e;
	for (int r = 0; r < n; r++) {
		double t0 = na_now();
		if (!op->old_id[r][0])
			continue;
		if (na_inst_stop(&op->docker, op->old_id[r], NA_STOP_GRACE_S,
				 &e))
			log_warn("tenant '%s': unable to stop container %.12s "
				 "(%s); removing it",
				 op->tenant, op->old_id[r], e.message);
		else if (na_now() - t0 >= NA_STOP_GRACE_S - 0.5)
			log_warn("tenant '%s': container %.12s did not stop "
				 "within %d s of SIGTERM; Docker killed it",
				 op->tenant, op->old_id[r], NA_STOP_GRACE_S);
	}
	for (int r = 0; r < n; r++) {
		enum claw_rc rc = op->old_id[r][0]
			? na_inst_remove(&op->docker, op->old_id[r], &op->err)
			: CLAW_OK;
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

static void run_start(struct na_op *op)
{
	/* the container it replaces, as a retired pair is */
	enum claw_rc rc = stop_then_remove(op, 1);
	if (rc == CLAW_OK && op->body && op->volume)
		rc = na_volume_ensure(&op->docker, op->volume, op->uid,
				      &op->err);
	if (rc == CLAW_OK && op->body && op->peer_volume)
		rc = na_volume_ensure(&op->docker, op->peer_volume, op->uid,
				      &op->err);
	if (rc == CLAW_OK && op->body) {
		rc = na_inst_create(&op->docker, op->name, op->body,
				    op->egress[0] ? op->egress : NULL,
				    op->edge[0] ? op->edge : NULL, op->id,
				    sizeof(op->id), &op->err);
		op->created = op->id[0] != 0;
	}
	if (rc == CLAW_OK && op->id[0])
		rc = na_inst_start(&op->docker, op->id, &op->err);
	if (rc == CLAW_OK && op->id[0])
		rc = na_inst_inspect(&op->docker, op->id, op->net, op->ip,
				     sizeof(op->ip),
				     op->edge[0] ? op->edge : NULL, op->edge_ip,
				     sizeof(op->edge_ip), &op->host_port,
				     &op->running, &op->err);
	op->rc = rc;
}

/* The tenant's disk; a new one gets what its plain volumes held. */
static void run_disk(struct na_op *op)
{
	const char *state = op->a->files.state_dir;
	int fresh = 0;
	op->rc = na_disk_ensure(state, op->tenant, (long)op->disk_mb, op->uid,
				&fresh, op->text, sizeof(op->text));
	for (int r = 0; r < NA_ROLES && op->rc == CLAW_OK && fresh; r++) {
		char name[96], path[160], dir[800];
		json_t *v = NULL;
		na_volume_name(op->tenant, (enum na_role)r, false, op->slot,
			       name, sizeof(name));
		snprintf(path, sizeof(path), "/volumes/%s", name);
		if (na_docker_json(&op->docker, "GET", path, NULL, NULL,
				   NA_CALL_MS, &v, &op->err) == CLAW_OK) {
			const char *mp = json_string_value(
				json_object_get(v, "Mountpoint"));
			na_disk_role_dir(state, op->tenant, (enum na_role)r,
					 dir, sizeof(dir));
			if (mp)
				op->rc = na_disk_import(mp, dir, op->uid,
							op->text,
							sizeof(op->text));
		}
		json_decref(v);
	}
}

static void run_signal(struct na_op *op)
{
	op->rc = na_inst_signal(&op->docker, op->id, op->sig, &op->err);
}

static void run_unassign(struct na_op *op)
{
	char path[160];
	op->rc = stop_then_remove(op, 2 * NA_ROLES);
	if (op->rc)
		return;
	/* Its containers are gone: its disk is no longer used (the image
	 * stays, as volumes do). */
	na_disk_release(op->a->files.state_dir, op->tenant);
	for (int k = 0; k < 2; k++) {
		const char *net = k ? op->net1 : op->net;
		if (!net[0])
			continue;
		snprintf(path, sizeof(path), "/networks/%s", net);
		if (na_docker_json(&op->docker, "DELETE", path, NULL, NULL,
				   NA_CALL_MS, NULL, &op->err) == CLAW_ERR_IO &&
		    op->err.status == 0)
			op->rc = CLAW_ERR_IO;
	}
}

/* The old gateway's journal depth from its /metrics. */
static void run_drain(struct na_op *op)
{
	struct claw_httpc_resp resp;
	struct claw_httpc_req req = {
		.url = op->url,
		.timeout_ms = 2000,
		.connect_timeout_ms = 1000,
		.max_response = 1u << 20,
	};
	const char *key = "\nclaw_gateway_journal_depth ";
	op->depth = -1; /* no answer */
	op->rc = claw_httpc_do(&req, &resp);
	op->ok = op->rc == CLAW_OK;
	if (op->ok) {
		const char *p = NULL;
		op->depth = -2; /* an answer without the gauge */
		if (resp.status == 200 &&
		    claw_buf_append(&resp.body, "", 1) == CLAW_OK)
			p = strstr(resp.body.data, key);
		if (p)
			op->depth = strtol(p + strlen(key), NULL, 10);
	}
	claw_httpc_resp_release(&resp);
}

/* Stop the old pair, gateway first (its HTTP server finishes what it
 * serves), then remove it. */
static void run_retire(struct na_op *op)
{
	op->rc = stop_then_remove(op, NA_ROLES);
}

/* Start the old pair (gateway first, so its runtime finds its proxy) and
 * read the gateway's address: it was found dead while its journal may
 * hold what it acknowledged, which it replays when it starts. */
static void run_revive(struct na_op *op)
{
	op->rc = CLAW_OK;
	for (int r = 0; r < NA_ROLES && op->rc == CLAW_OK; r++)
		if (op->old_id[r][0])
			op->rc = na_inst_start(&op->docker, op->old_id[r],
					       &op->err);
	if (op->rc == CLAW_OK)
		op->rc = na_inst_inspect(
			&op->docker, op->old_id[NA_GATEWAY], op->net, op->ip,
			sizeof(op->ip), op->edge[0] ? op->edge : NULL,
			op->edge_ip, sizeof(op->edge_ip), &op->host_port,
			&op->running, &op->err);
}

/* GET url: its HTTP status, or 0 when nothing answered. */
static long probe_status(const char *url, long timeout_ms, enum claw_rc *rc)
{
	struct claw_httpc_resp resp;
	struct claw_httpc_req req = {
		.url = url,
		.timeout_ms = timeout_ms,
		.connect_timeout_ms = NA_PROBE_TIMEOUT_MS,
		.max_response = 4096,
	};
	*rc = claw_httpc_do(&req, &resp);
	long status = *rc == CLAW_OK ? resp.status : 0;
	claw_httpc_resp_release(&resp);
	return status;
}

/* GET /readyz: 200 is ready; its "channels" (the gateway's connection
 * state of each channel, docs/gateway.md) kept for the node's status. */
static bool probe_ready(struct na_op *op)
{
	struct claw_httpc_resp resp;
	struct claw_httpc_req req = {
		.url = op->ready_url,
		.timeout_ms = NA_READY_TIMEOUT_MS,
		.connect_timeout_ms = NA_PROBE_TIMEOUT_MS,
		.max_response = 64 * 1024,
	};
	bool ready =
		claw_httpc_do(&req, &resp) == CLAW_OK && resp.status == 200;
	json_t *body = ready
		? json_loadb(resp.body.data, resp.body.len, 0, NULL)
		: NULL;
	json_t *ch = json_object_get(body, "channels");

	if (json_is_object(ch))
		op->channels = json_incref(ch);
	json_decref(body);
	claw_httpc_resp_release(&resp);
	return ready;
}

/* /healthz (alive), then /readyz (ready; the gateway's asks its runtime,
 * so it gets longer), and the gateway's proxy until it has answered:
 * any HTTP answer will do (it answers 405 to a plain GET). */
static void run_probe(struct na_op *op)
{
	enum claw_rc rc;
	op->ok = probe_status(op->url, NA_PROBE_TIMEOUT_MS, &op->rc) == 200;
	op->ready = op->ok && op->ready_url[0] && probe_ready(op);
	op->proxy = op->ok && op->proxy_url[0] &&
		probe_status(op->proxy_url, NA_PROBE_TIMEOUT_MS, &rc) > 0;
}

static void run_logtail(struct na_op *op)
{
	op->rc = na_inst_log_tail(&op->docker, op->id, 20, op->text,
				  sizeof(op->text));
}

static void run_gc(struct na_op *op)
{
	json_t *gone = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(op->refs, i, v) {
		enum claw_rc rc = na_image_remove(
			&op->docker, json_string_value(v), &op->err);
		/* In use, or the engine is away: a later pass tries again. */
		if (rc == CLAW_OK || rc == CLAW_ERR_NOT_FOUND)
			json_array_append(gone, v);
		if (na_agent_stopping(op->a))
			break;
	}
	json_decref(op->refs);
	op->refs = gone;
	op->rc = CLAW_OK;
}

static void run(struct na_job *j)
{
	struct na_op *op = (struct na_op *)j;
	switch (op->kind) {
	case NA_OP_PULL:
		run_pull(op);
		break;
	case NA_OP_NETWORK:
		run_network(op);
		break;
	case NA_OP_START:
		run_start(op);
		break;
	case NA_OP_SIGNAL:
		run_signal(op);
		break;
	case NA_OP_UNASSIGN:
		run_unassign(op);
		break;
	case NA_OP_PROBE:
		run_probe(op);
		break;
	case NA_OP_LOGTAIL:
		run_logtail(op);
		break;
	case NA_OP_GC:
		run_gc(op);
		break;
	case NA_OP_DISK:
		run_disk(op);
		break;
	case NA_OP_DRAIN:
		run_drain(op);
		break;
	case NA_OP_RETIRE:
		run_retire(op);
		break;
	case NA_OP_REVIVE:
		run_revive(op);
		break;
	case NA_OP_PURGE:
		na_purge_run(op);
		break;
	}
}

static void done(struct na_job *j, void *cls)
{
	struct na_agent *a = cls;
	struct na_op *op = (struct na_op *)j, **pp;
	pthread_mutex_lock(&a->mu);
	for (pp = &a->done; *pp; pp = &(*pp)->next_done)
		;
	*pp = op;
	na_agent_wake(a);
	pthread_mutex_unlock(&a->mu);
}

struct na_op *na_op_new(struct na_agent *a, enum na_op_kind kind,
			const char *tenant, int role)
{
	struct na_op *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->job.run = run;
	op->kind = kind;
	op->a = a;
	op->docker = a->docker;
	snprintf(op->tenant, sizeof(op->tenant), "%s", tenant ? tenant : "");
	op->role = role;
	return op;
}

void na_op_submit(struct na_agent *a, struct na_op *op)
{
	a->inflight++;
	na_pool_submit(op->kind == NA_OP_PROBE || op->kind == NA_OP_DRAIN
			       ? &a->probes
			       : &a->ops,
		       &op->job);
}

struct na_op *na_op_take_done(struct na_agent *a)
{
	struct na_op *d = a->done;
	a->done = NULL;
	return d;
}

void na_op_free(struct na_op *op)
{
	if (!op)
		return;
	json_decref(op->body);
	json_decref(op->volume);
	json_decref(op->peer_volume);
	/* It holds registry passwords. */
	na_registry_auth_wipe(op->auth);
	json_decref(op->auth);
	json_decref(op->refs);
	json_decref(op->channels);
	free(op);
}

enum claw_rc na_ops_start(struct na_agent *a)
{
	enum claw_rc rc = na_pool_start(&a->ops, NA_OPS_WORKERS, done, a);
	if (rc)
		return rc;
	rc = na_pool_start(&a->probes, NA_PROBE_WORKERS, done, a);
	if (rc) {
		na_ops_stop(a);
		return rc;
	}
	return CLAW_OK;
}

static void free_jobs(struct na_job *j)
{
	while (j) {
		struct na_job *next = j->next;
		na_op_free((struct na_op *)j);
		j = next;
	}
}

void na_ops_stop(struct na_agent *a)
{
	if (a->ops.n)
		free_jobs(na_pool_stop(&a->ops));
	if (a->probes.n)
		free_jobs(na_pool_stop(&a->probes));
	pthread_mutex_lock(&a->mu);
	struct na_op *d = na_op_take_done(a);
	pthread_mutex_unlock(&a->mu);
	while (d) {
		struct na_op *next = d->next_done;
		na_op_free(d);
		d = next;
	}
	a->inflight = 0;
}
