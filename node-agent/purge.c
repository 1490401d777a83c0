/*
 * purge.c - forgetting a purged tenant; see purge.h.
 */
#include "purge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "disk.h"
#include "gc.h"
#include "spec.h"

#define NA_CALL_MS 30000L
#define NA_PURGE_RETRY_S 5.0 /* after a failed purge */

enum na_purge_step na_purge_step(bool assigned, bool here, bool busy, bool done)
{
	if (assigned)
		return NA_PURGE_ASSIGNED;
	if (done)
		return NA_PURGE_DONE;
	if (busy || here)
		return NA_PURGE_WAIT;
	return NA_PURGE_RUN;
}

static bool here(const struct na_agent *a, const char *slug)
{
	for (const struct na_tenant *t = a->tenants; t; t = t->next)
		if (!strcmp(t->name, slug))
			return true;
	return false;
}

/* Its purge runs (true), or failed and is tried again later (the time). */
static bool busy(const struct na_agent *a, const char *slug)
{
	const json_t *v = json_object_get(a->purge_busy, slug);

	return json_is_true(v) ||
		(json_is_real(v) && json_real_value(v) > na_now());
}

static bool ensure_sets(struct na_agent *a)
{
	if (!a->purge_done)
		a->purge_done = json_object();
	if (!a->purge_busy)
		a->purge_busy = json_object();
	return a->purge_done && a->purge_busy;
}

void na_purge_pass(struct na_agent *a)
{
	const json_t *v;
	size_t i;

	if (!json_array_size(a->desired.purged) || !ensure_sets(a))
		return;
	json_array_foreach(a->desired.purged, i, v) {
		const char *slug = json_string_value(v);
		struct na_op *op;

		switch (na_purge_step(na_desired_find(&a->desired, slug),
				      here(a, slug), busy(a, slug),
				      json_object_get(a->purge_done, slug))) {
		case NA_PURGE_ASSIGNED:
			if (!json_object_get(a->purge_done, slug))
				log_warn("tenant '%s' was purged, and a tenant "
					 "of that name is assigned here now: "
					 "nothing of it is removed",
					 slug);
			json_object_set_new(a->purge_done, slug, json_true());
			break;
		case NA_PURGE_DONE:
		case NA_PURGE_WAIT:
			break;
		case NA_PURGE_RUN:
			op = na_op_new(a, NA_OP_PURGE, slug, -1);
			if (!op)
				return;
			op->generation = a->desired.generation;
			json_object_set_new(a->purge_busy, slug, json_true());
			na_op_submit(a, op);
			break;
		}
	}
}

void na_purge_new_desired(struct na_agent *a)
{
	json_object_clear(a->purge_done);
}

void na_purge_apply(struct na_agent *a, struct na_op *op)
{
	if (op->rc) {
		log_warn("unable to remove what is left of purged tenant "
			 "'%s': %s; trying again in %.0f s",
			 op->tenant, op->err.message, NA_PURGE_RETRY_S);
		json_object_set_new(a->purge_busy, op->tenant,
				    json_real(na_now() + NA_PURGE_RETRY_S));
		return;
	}
	json_object_del(a->purge_busy, op->tenant);
	/* Assigned again meanwhile (a new tenant of that slug): its files
	 * and uid are the new tenant's. */
	if (na_desired_find(&a->desired, op->tenant))
		return;
	na_files_remove_tenant(&a->files, op->tenant);
	na_uids_forget(&a->uids, op->tenant);
	na_gc_forget(a, op->tenant);
	if (op->generation == a->desired.generation && a->purge_done) {
		log_info("purged tenant '%s': its volumes, networks, secret "
			 "files and uid are gone",
			 op->tenant);
		json_object_set_new(a->purge_done, op->tenant, json_true());
	}
}

json_t *na_purge_done_json(const struct na_agent *a)
{
	json_t *out = json_array();
	const json_t *v;
	size_t i;

	/* in the order of the desired state's list (sorted by the control
	 * plane), those done */
	json_array_foreach(a->desired.purged, i, v)
		if (json_object_get(a->purge_done, json_string_value(v)))
			json_array_append(out, (json_t *)v);
	return out;
}

void na_purge_release(struct na_agent *a)
{
	json_decref(a->purge_done);
	json_decref(a->purge_busy);
	a->purge_done = a->purge_busy = NULL;
}

/* ---- the engine side (an op worker) */

/* DELETE path: gone or never there is fine; false (op->rc set) else. */
static bool remove_one(struct na_op *op, const char *path)
{
	enum claw_rc rc = na_docker_json(&op->docker, "DELETE", path, NULL,
					 NULL, NA_CALL_MS, NULL, &op->err);

	if (rc == CLAW_OK || rc == CLAW_ERR_NOT_FOUND)
		return true;
	op->rc = rc;
	return false;
}

void na_purge_run(struct na_op *op)
{
	char filter[512], q[1024], path[1200];
	json_t *f, *out = NULL, *v;
	size_t i;

	op->rc = CLAW_OK;
	/* the tenant's volumes on this node, whatever their names */
	f = json_pack("{s:[s, s, s]}", "label", "claw.managed=1", "", "");
	snprintf(filter, sizeof(filter), "claw.tenant=%s", op->tenant);
	json_array_set_new(json_object_get(f, "label"), 1, json_string(filter));
	snprintf(filter, sizeof(filter), "claw.node=%s", op->a->cfg.node_name);
	json_array_set_new(json_object_get(f, "label"), 2, json_string(filter));
	char *text = f ? claw_json_dumps(f) : NULL;
	json_decref(f);
	op->rc = text ? na_docker_qs(text, q, sizeof(q)) : CLAW_ERR_NOMEM;
	free(text);
	if (op->rc)
		return;
	snprintf(path, sizeof(path), "/volumes?filters=%s", q);
	op->rc = na_docker_json(&op->docker, "GET", path, NULL, NULL,
				NA_CALL_MS, &out, &op->err);
	json_array_foreach(json_object_get(out, "Volumes"), i, v) {
		const char *name =
			json_string_value(json_object_get(v, "Name"));
		if (op->rc || !name || strchr(name, '/') || strchr(name, '?'))
			continue;
		snprintf(path, sizeof(path), "/volumes/%s", name);
		remove_one(op, path);
	}
	json_decref(out);
	for (int slot = 0; slot < 2 && !op->rc; slot++) {
		char net[64];

		na_network_name(op->tenant, slot, net, sizeof(net));
		snprintf(path, sizeof(path), "/networks/%s", net);
		remove_one(op, path);
	}
	if (!op->rc)
		na_disk_remove(op->a->files.state_dir, op->tenant);
}
