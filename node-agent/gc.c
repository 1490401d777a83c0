/*
 * gc.c - image garbage collection; see gc.h.
 */
#include "gc.h"

#include <stdio.h>
#include <string.h>

#include "claw/log.h"
#include "images.h"

#define NA_ORPHANS "_orphans" /* refs of tenants that left, to remove */

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
	if (n && strcmp(json_string_value(json_array_get(arr, n - 1)), ref) ==
			 0)
		return;
	remove_ref(arr, ref);
	json_array_append_new(arr, json_string(ref));
	save(a);
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
}

/* Is ref among the last `keep` of any tenant's list? */
static bool kept(const struct na_agent *a, const char *ref)
{
	const char *key;
	json_t *arr;
	json_object_foreach(a->history, key, arr)
	{
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

void na_gc_run(struct na_agent *a)
{
	struct na_docker_err err;
	const char *key;
	json_t *arr, *doomed = json_array();
	/* Collect: the orphans and every tenant's refs past its last few. */
	json_object_foreach(a->history, key, arr)
	{
		size_t n = json_array_size(arr);
		size_t upto = strcmp(key, NA_ORPHANS) == 0 ? n
			      : n > (size_t)a->cfg.image_keep
				      ? n - (size_t)a->cfg.image_keep
				      : 0;
		for (size_t i = 0; i < upto; i++)
			json_array_append(doomed, json_array_get(arr, i));
	}
	size_t i;
	json_t *v;
	json_array_foreach(doomed, i, v)
	{
		const char *ref = json_string_value(v);
		if (kept(a, ref))
			goto drop;
		enum claw_rc rc = na_image_remove(&a->docker, ref, &err);
		if (rc == CLAW_OK || rc == CLAW_ERR_NOT_FOUND)
			log_info("image %s removed (no longer kept)", ref);
		else
			continue; /* in use, or the engine is away: later */
drop:
		json_object_foreach(a->history, key, arr)
		{
			size_t n = json_array_size(arr);
			size_t upto = strcmp(key, NA_ORPHANS) == 0 ? n
				      : n > (size_t)a->cfg.image_keep
					      ? n - (size_t)a->cfg.image_keep
					      : 0;
			for (size_t j = upto; j-- > 0;)
				if (strcmp(json_string_value(
						   json_array_get(arr, j)),
					   ref) == 0)
					json_array_remove(arr, j);
		}
	}
	json_decref(doomed);
	save(a);
}
