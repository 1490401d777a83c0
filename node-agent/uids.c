/*
 * uids.c - a host uid per tenant; see uids.h.
 */
#include "uids.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void na_uids_init(struct na_uids *u, long base, long count)
{
	u->base = base;
	u->count = count;
	u->by_tenant = json_object();
	u->used = json_object();
}

void na_uids_release(struct na_uids *u)
{
	json_decref(u->by_tenant);
	json_decref(u->used);
	u->by_tenant = u->used = NULL;
}

void na_uids_reset(struct na_uids *u)
{
	/* Keep this node's tenants' own uids taken: their containers may
	 * just be gone, their volumes not yet labelled. */
	json_t *keep = json_object();
	const char *t;
	json_t *v;
	char key[24];
	json_object_foreach(u->by_tenant, t, v) {
		snprintf(key, sizeof(key), "%lld",
			 (long long)json_integer_value(v));
		json_object_set_new(keep, key, json_string(t));
	}
	json_decref(u->used);
	u->used = keep;
}

unsigned long na_uids_parse(const struct na_uids *u, const char *label)
{
	char *end;
	if (!label || !*label || strspn(label, "0123456789") != strlen(label))
		return 0;
	errno = 0;
	unsigned long v = strtoul(label, &end, 10);
	if (errno || *end || v < (unsigned long)u->base ||
	    v >= (unsigned long)(u->base + u->count))
		return 0;
	return v;
}

static void take(struct na_uids *u, const char *tenant, unsigned long uid)
{
	char key[24];
	snprintf(key, sizeof(key), "%lu", uid);
	json_object_set_new(u->used, key, json_string(tenant));
	json_object_set_new(u->by_tenant, tenant,
			    json_integer((json_int_t)uid));
}

void na_uids_note(struct na_uids *u, const char *tenant, const char *label,
		  bool mine)
{
	unsigned long uid = na_uids_parse(u, label);
	char key[24];
	if (!uid || !tenant)
		return;
	snprintf(key, sizeof(key), "%lu", uid);
	const char *holder = json_string_value(json_object_get(u->used, key));
	if (holder && strcmp(holder, tenant))
		return; /* another tenant's: never shared */
	if (!mine) {
		json_object_set_new(u->used, key, json_string(tenant));
		return;
	}
	if (json_object_get(u->by_tenant, tenant))
		return; /* the first label read (the volume's) wins */
	take(u, tenant, uid);
}

void na_uids_forget(struct na_uids *u, const char *tenant)
{
	const char *key;
	json_t *v, *tmp;
	json_object_del(u->by_tenant, tenant);
	json_object_foreach_safe(u->used, tmp, key, v) {
		if (!strcmp(json_string_value(v), tenant))
			json_object_del(u->used, key);
	}
}

unsigned long na_uids_for(struct na_uids *u, const char *tenant)
{
	json_t *v = json_object_get(u->by_tenant, tenant);
	unsigned char h[8];
	uint64_t start = 0;
	char key[24];
	if (v)
		return (unsigned long)json_integer_value(v);
	crypto_generichash(h, sizeof(h), (const unsigned char *)tenant,
			   strlen(tenant), NULL, 0);
	for (size_t i = 0; i < sizeof(h); i++)
		start = start << 8 | h[i];
	for (long i = 0; i < u->count; i++) {
		unsigned long uid = (unsigned long)u->base +
			(unsigned long)((start + (uint64_t)i) %
					(uint64_t)u->count);
		snprintf(key, sizeof(key), "%lu", uid);
		const char *holder =
			json_string_value(json_object_get(u->used, key));
		if (holder && strcmp(holder, tenant))
			continue;
		take(u, tenant, uid);
		return uid;
	}
	return 0;
}
