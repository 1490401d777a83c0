/*
 * templates.c - checking and applying resource templates; see
 * templates.h.
 */
#include "templates.h"

#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "store/resources.h"
#include "store/templates.h"

static const struct {
	const char *key;
	enum cp_res_kind kind;
} parts[] = {
	{"persona", CP_RES_PERSONA},
	{"model", CP_RES_MODEL},
	{"tools", CP_RES_TOOLS},
	{"policies", CP_RES_POLICIES},
};

static int fail(struct cp_res_problem *p, const char *field, const char *msg)
{
	snprintf(p->field, sizeof(p->field), "%s", field);
	snprintf(p->message, sizeof(p->message), "%s", msg);
	return -1;
}

/* A problem of part key, its field put under it ("model.base_url"). */
static int under(struct cp_res_problem *p, const char *key)
{
	char f[sizeof(p->field)];

	snprintf(f, sizeof(f), "%s.%s", key, p->field);
	snprintf(p->field, sizeof(p->field), "%s", f);
	return -1;
}

int cp_template_check(const json_t *body, json_t **out,
		      struct cp_res_problem *p)
{
	const char *key;
	json_t *v, *o, *persona = NULL;
	size_t pos = 0;

	*out = NULL;
	if (!json_is_object(body))
		return fail(p, "body", "must be an object");
	json_object_foreach((json_t *)body, key, v) {
		bool known = !strcmp(key, "channels");
		char f[32];

		pos++;
		for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
			known |= !strcmp(key, parts[i].key);
		snprintf(f, sizeof(f), "#%zu", pos);
		if (!known)
			return fail(p, f,
				    "unknown key (known: persona, "
				    "model, channels, tools, policies)");
	}
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		v = json_object_get(body, parts[i].key);
		if (v && cp_res_check(parts[i].kind, CP_RES_SINGLE, v, p))
			return under(p, parts[i].key);
	}
	v = json_object_get(body, "channels");
	if (v && !json_is_object(v))
		return fail(p, "channels",
			    "must be an object of channel "
			    "kinds to their settings");
	json_object_foreach(v, key, o) {
		if (!cp_channel_known(key))
			return fail(p, "channels",
				    "names an unknown channel kind");
		if (cp_channel_check(key, o, NULL, p))
			return under(p, "channels");
	}
	if (json_object_get(body, "persona") &&
	    cp_persona_check(json_object_get(body, "persona"), &persona, p))
		return under(p, "persona");
	*out = json_deep_copy(body);
	if (*out && persona &&
	    json_object_set_new(*out, "persona", persona) == 0)
		return 0;
	if (*out && !persona)
		return 0;
	json_decref(*out);
	*out = NULL;
	return fail(p, "body", "out of memory");
}

/* Write one part as the next version of (kind, name) and note it. */
static enum claw_rc put_one(PGconn *c, const char *tenant_id, const char *kind,
			    const char *name, const json_t *body,
			    const char *actor, json_t *at)
{
	long long v;
	enum claw_rc rc =
		cp_store_res_put(c, tenant_id, kind, name, body, actor, &v);

	if (!rc &&
	    json_object_set_new(at, !strcmp(kind, "channel") ? name : kind,
				json_integer(v)))
		rc = CLAW_ERR_NOMEM;
	return rc;
}

enum claw_rc cp_template_apply(PGconn *conn, const char *tenant_id,
			       const char *template_name, const char *actor,
			       struct cp_audit_entry *audit, json_t **applied)
{
	json_t *body = NULL, *vers = json_object(), *ch = json_object(), *v;
	const char *key;
	long long tv;
	enum claw_rc rc;

	if (applied)
		*applied = NULL;
	rc = !vers || !ch || json_object_set(vers, "channels", ch)
		? CLAW_ERR_NOMEM
		: cp_store_template_get(conn, template_name, &body, &tv);
	for (size_t i = 0; !rc && i < sizeof(parts) / sizeof(parts[0]); i++) {
		v = json_object_get(body, parts[i].key);
		if (v)
			rc = put_one(conn, tenant_id,
				     cp_res_kind_name(parts[i].kind),
				     CP_RES_SINGLE, v, actor, vers);
	}
	json_object_foreach(json_object_get(body, "channels"), key, v) {
		if (!rc)
			rc = put_one(conn, tenant_id, "channel", key, v, actor,
				     ch);
	}
	if (!rc && audit)
		rc = cp_audit_append_details(
			conn, audit, "template.apply",
			json_pack("{s:s, s:I, s:O}", "template", template_name,
				  "template_version", (json_int_t)tv,
				  "versions", vers));
	json_decref(body);
	json_decref(ch);
	if (!rc && applied)
		*applied = vers;
	else
		json_decref(vers);
	return rc;
}
