/*
 * gc.c - image garbage collection; see gc.h.
 */
#include "gc.h"

#include <stdio.h>
#include <string.h>

#include "claw/log.h"

#define NA_ORPHANS "_orphans" /* refs of tenants that left, to remove */
#define NA_GC_SOON_S 2.0      /* a pass this soon after the history changed */

static void path_of(const struct na_agent *a, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/images.json", a->files.state_dir);
}

void na_gc_load(struct na_agent *a)
{
	char path[600];
	path_of(a, path, sizeof(path));
	a->history = json_load_file(path, 0, NULL);
	if (!json_is_object(a->history)) {
		json_decref(a->history);
		a->history = json_object();
	}
}

static void save(const struct na_agent *a)
{
	char path[600], tmp[640];
	path_of(a, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	if (json_dump_file(a->history, tmp, JSON_INDENT(1)) ||
	    rename(tmp, path))
		log_warn("unable to save the image history to '%s'", path);
}

static void remove_ref(json_t *arr, const char *ref)
{
	for (size_t i = json_array_size(arr); i-- > 0;)
		if (strcmp(json_string_value(json_array_get(arr, i)), ref) == 0)
			json_array_remove(arr, i);
}

static json_t *list_of(struct na_agent *a, const char *key)
{
	json_t *arr = json_object_get(a->history, key);
	if (!json_is_array(arr)) {
		arr = json_array();
		json_object_set_new(a->history, key, arr);
	}
	return arr;
}

void na_gc_record(struct na_agent *a, const char *tenant, const char *ref)
{
	json_t *arr = list_of(a, tenant);
	size_t n = json_array_size(arr);
	if (n &&
	    strcmp(json_string_value(json_array_get(arr, n - 1)), ref) == 0)
		return;
	remove_ref(arr, ref);
	json_array_append_new(arr, json_string(ref));
	save(a);
	if (a->next_gc > na_now() + NA_GC_SOON_S)
		a->next_gc = na_now() + NA_GC_SOON_S;
}

void na_gc_forget(struct na_agent *a, const char *tenant)
{
	json_t *arr = json_object_get(a->history, tenant);
	json_t *orphans = list_of(a, NA_ORPHANS);
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
		json_array_append(orphans, v);
	json_object_del(a->history, tenant);
	save(a);
	if (a->next_gc > na_now() + NA_GC_SOON_S)
		a->next_gc = na_now() + NA_GC_SOON_S;
}

/* Is ref among the last `keep` of any tenant's list? */
static bool kept(const struct na_agent *a, const char *ref)
{
	const char *key;
	json_t *arr;
	json_object_foreach(a->history, key, arr) {
		size_t n = json_array_size(arr);
		if (strcmp(key, NA_ORPHANS) == 0)
			continue;
		for (size_t i = n > (size_t)a->cfg.image_keep
			     ? n - (size_t)a->cfg.image_keep
			     : 0;
		     i < n; i++)
			if (strcmp(json_string_value(json_array_get(arr, i)),
				   ref) == 0)
				return true;
	}
	return false;
}

/* How many of the oldest refs of list `key` are past what it keeps. */
static size_t past_keep(const struct na_agent *a, const char *key,
			const json_t *arr)
{
	size_t n = json_array_size(arr);
	if (strcmp(key, NA_ORPHANS) == 0)
		return n;
	return n > (size_t)a->cfg.image_keep ? n - (size_t)a->cfg.image_keep
					     : 0;
}

json_t *na_gc_plan(struct na_agent *a)
{
	const char *key;
	json_t *arr, *doomed = json_array();
	/* The orphans and every tenant's refs past its last few, unless
	 * another tenant still keeps the same ref. */
	json_object_foreach(a->history, key, arr) {
		for (size_t i = 0; i < past_keep(a, key, arr); i++) {
			json_t *v = json_array_get(arr, i);
			if (!kept(a, json_string_value(v)))
				json_array_append(doomed, v);
		}
	}
	return doomed;
}

bool na_gc_applied(struct na_agent *a, const json_t *gone)
{
	const char *key;
	json_t *arr, *v;
	size_t i;
	bool left = false;
	json_array_foreach(gone, i, v) {
		const char *ref = json_string_value(v);
		log_info("image %s removed (no longer kept)", ref);
		json_object_foreach(a->history, key, arr) {
			for (size_t j = past_keep(a, key, arr); j-- > 0;)
				if (strcmp(json_string_value(
						   json_array_get(arr, j)),
					   ref) == 0)
					json_array_remove(arr, j);
		}
	}
	/* Refs still past their keep: kept by another tenant, in use, or the
	 * engine was away. */
	json_object_foreach(a->history, key, arr) {
		for (size_t j = 0; j < past_keep(a, key, arr); j++)
			if (!kept(a, json_string_value(json_array_get(arr, j))))
				left = true;
	}
	save(a);
	return left;
}
