/*
 * requests.c - field specs and validation of the core API's request
 * bodies (see requests.h).
 */
#include "requests.h"

#include <stdio.h>
#include <string.h>
#include <libpq-fe.h>

#include "bounds.h"
#include "cp.h"
#include "validate.h"

#define EXPIRES_MIN 60
#define EXPIRES_MAX (10LL * 366 * 24 * 3600)

/* plan, egress_allow, self_pause, node_labels, api_base_allow: five
 * fields at f. */
static void bounds_fields(struct cp_tenant_input *t, struct claw_json_field *f)
{
	f[0] = (struct claw_json_field){"plan", CLAW_JSON_STRING, false,
					&t->plan, CP_PLAN_NAME_MAX + 1};
	f[1] = (struct claw_json_field){"egress_allow", CLAW_JSON_ARRAY, false,
					&t->egress_allow, 0};
	f[2] = (struct claw_json_field){"self_pause", CLAW_JSON_ANY, false,
					&t->self_pause, 0};
	f[3] = (struct claw_json_field){"node_labels", CLAW_JSON_OBJECT, false,
					&t->node_labels, 0};
	f[4] = (struct claw_json_field){"api_base_allow", CLAW_JSON_ARRAY,
					false, &t->api_base_allow, 0};
}

void cp_body_fields(enum cp_body k, void *in, struct claw_json_field *f)
{
	struct cp_tenant_input *t = in;
	struct cp_token_input *k_in = in;

	memset(f, 0, CP_FIELDS_MAX * sizeof(*f));
	switch (k) {
	case CP_BODY_TENANT_CREATE:
		f[0] = (struct claw_json_field){"slug", CLAW_JSON_STRING, true,
						&t->slug, CP_SLUG_MAX + 1};
		f[1] = (struct claw_json_field){"name", CLAW_JSON_STRING, true,
						&t->name, CP_NAME_MAX + 1};
		bounds_fields(t, f + 2);
		break;
	case CP_BODY_TENANT_UPDATE:
		f[0] = (struct claw_json_field){"name", CLAW_JSON_STRING, false,
						&t->name, CP_NAME_MAX + 1};
		f[1] = (struct claw_json_field){"version", CLAW_JSON_INT, false,
						&t->version, 0};
		bounds_fields(t, f + 2);
		break;
	case CP_BODY_TOKEN_CREATE:
		f[0] = (struct claw_json_field){"role", CLAW_JSON_STRING, true,
						&k_in->role, 16};
		f[1] = (struct claw_json_field){"tenant", CLAW_JSON_STRING,
						false, &k_in->tenant,
						CP_SLUG_MAX + 1};
		f[2] = (struct claw_json_field){"name", CLAW_JSON_STRING, false,
						&k_in->name, CP_NAME_MAX + 1};
		f[3] = (struct claw_json_field){"expires_in", CLAW_JSON_INT,
						false, &k_in->expires_in, 0};
		break;
	}
}

static int problem(struct claw_json_problem *p, enum claw_http_error e,
		   const char *field, const char *msg)
{
	p->error = e;
	snprintf(p->field, sizeof(p->field), "%s", field);
	snprintf(p->message, sizeof(p->message), "%s", msg);
	return -1;
}

static int check_name(const char *name, struct claw_json_problem *p)
{
	if (name && !cp_name_valid(name))
		return problem(p, CLAW_HE_INVALID_FIELD, "name",
			       "name must be 1 to 200 bytes without control "
			       "characters");
	return 0;
}

/* One check of a body: refused with e on field when bad. */
struct rule {
	bool bad;
	enum claw_http_error e;
	const char *field;
	const char *msg;
};

/* The first bad rule of r (n of them) as the problem; 0 when none. */
static int first_bad(const struct rule *r, size_t n,
		     struct claw_json_problem *p)
{
	for (size_t i = 0; i < n; i++)
		if (r[i].bad)
			return problem(p, r[i].e, r[i].field, r[i].msg);
	return 0;
}

static bool egress_entries_valid(const json_t *a)
{
	size_t i;
	json_t *v;

	json_array_foreach(a, i, v) {
		if (!cp_egress_entry_valid(json_string_value(v), true))
			return false;
	}
	return true;
}

static int check_bounds(const struct cp_tenant_input *t,
			struct claw_json_problem *p)
{
	const struct rule r[] = {
		{t->plan && !cp_plan_name_valid(t->plan), CLAW_HE_INVALID_FIELD,
		 "plan",
		 "plan must be a plan name (a DNS label) or \"default\""},
		{t->self_pause && !json_is_boolean(t->self_pause),
		 CLAW_HE_INVALID_FIELD, "self_pause",
		 "self_pause must be true or false"},
		{t->egress_allow && json_array_size(t->egress_allow) > 256,
		 CLAW_HE_INVALID_FIELD, "egress_allow",
		 "egress_allow holds at most 256 entries"},
		{!egress_entries_valid(t->egress_allow), CLAW_HE_INVALID_FIELD,
		 "egress_allow",
		 "egress_allow entries are \"host:port\", \"*.domain:port\" "
		 "or \"*\""},
		{t->node_labels && !cp_labels_bound_valid(t->node_labels),
		 CLAW_HE_INVALID_FIELD, "node_labels",
		 "node_labels: up to 32 label names (1 to 63 bytes), each to "
		 "an allowed value or an array of allowed values (strings of "
		 "up to 63 bytes)"},
		{t->api_base_allow &&
			 !cp_api_base_bound_valid(t->api_base_allow),
		 CLAW_HE_INVALID_FIELD, "api_base_allow",
		 "api_base_allow: up to 64 http(s)://, imap(s)://, smtp(s):// "
		 "or ircs:// URLs (up to 512 bytes), or \"*\""},
	};

	return first_bad(r, sizeof(r) / sizeof(r[0]), p);
}

static int validate_tenant(bool create, const struct cp_tenant_input *t,
			   struct claw_json_problem *p)
{
	const struct rule r[] = {
		{create && !cp_slug_valid(t->slug), CLAW_HE_INVALID_FIELD,
		 "slug",
		 "slug must be a DNS label: 1 to 63 of a-z, 0-9 and '-', not "
		 "starting or ending with '-'"},
		{!create && t->version < 0, CLAW_HE_INVALID_FIELD, "version",
		 "version must be a positive number"},
		{!create && !t->name && !t->plan && !t->egress_allow &&
			 !t->self_pause && !t->node_labels &&
			 !t->api_base_allow,
		 CLAW_HE_MISSING_FIELD, "name",
		 "nothing to change: give name, plan, egress_allow, "
		 "self_pause, node_labels or api_base_allow"},
	};

	if (first_bad(r, sizeof(r) / sizeof(r[0]), p) || check_name(t->name, p))
		return -1;
	return check_bounds(t, p);
}

static int validate_token(const struct cp_token_input *t,
			  struct claw_json_problem *p)
{
	int role = cp_role_parse(t->role);
	const struct rule r[] = {
		{role < 0, CLAW_HE_INVALID_FIELD, "role",
		 "role must be admin, operator, auditor, tenant or node"},
		{role == CP_ROLE_TENANT && !t->tenant, CLAW_HE_MISSING_FIELD,
		 "tenant", "role tenant needs tenant (its id or slug)"},
		{role != CP_ROLE_TENANT && t->tenant, CLAW_HE_INVALID_FIELD,
		 "tenant", "tenant is only for role tenant"},
		{t->tenant && !cp_slug_valid(t->tenant) &&
			 !cp_id_valid(t->tenant, "tnt_"),
		 CLAW_HE_INVALID_FIELD, "tenant",
		 "tenant must be a tenant id or slug"},
		{t->expires_in &&
			 (t->expires_in < EXPIRES_MIN ||
			  t->expires_in > EXPIRES_MAX),
		 CLAW_HE_INVALID_FIELD, "expires_in",
		 "expires_in must be 60 seconds to 10 years"},
	};

	return first_bad(r, sizeof(r) / sizeof(r[0]), p)
		? -1
		: check_name(t->name, p);
}

int cp_body_validate(enum cp_body k, const void *in,
		     struct claw_json_problem *p)
{
	const struct cp_tenant_input *t = in;

	switch (k) {
	case CP_BODY_TENANT_CREATE:
	case CP_BODY_TENANT_UPDATE:
		return validate_tenant(k == CP_BODY_TENANT_CREATE, t, p);
	case CP_BODY_TOKEN_CREATE:
		return validate_token(in, p);
	}
	return problem(p, CLAW_HE_INTERNAL, "", "unknown body");
}

/* Unpack *obj as kind k into in and check it: 0, or -1 with *obj released
 * (NULL) and p saying why. */
static int body_take(enum cp_body k, void *in, json_t **obj,
		     struct claw_json_problem *p)
{
	struct claw_json_field f[CP_FIELDS_MAX];

	cp_body_fields(k, in, f);
	if (!claw_json_unpack(*obj, f, p) && !cp_body_validate(k, in, p))
		return 0;
	json_decref(*obj);
	*obj = NULL;
	return -1;
}

int cp_body_check(enum cp_body k, const char *data, size_t len, void *in,
		  json_t **obj, struct claw_json_problem *p)
{
	*obj = claw_json_parse_object(data, len, p);
	return *obj ? body_take(k, in, obj, p) : -1;
}

int cp_body_parse(struct claw_http_req *req, enum cp_body k, void *in,
		  json_t **obj)
{
	struct claw_json_problem p;

	if (claw_http_parse_json(req, NULL, obj))
		return -1;
	if (body_take(k, in, obj, &p)) {
		claw_http_reply_std(req, p.error,
				    p.message[0] ? p.message : NULL);
		return -1;
	}
	return 0;
}

bool cp_list_query(struct claw_http_req *req, int def, int max,
		   bool (*cursor_ok)(const char *), int *limit,
		   const char **cursor)
{
	const char *l = claw_http_query(req, "limit");

	*limit = def;
	*cursor = claw_http_query(req, "cursor");
	return (!l || cp_parse_limit(l, max, limit)) &&
		(!*cursor || cursor_ok(*cursor));
}

void cp_reply_rows(struct claw_http_req *req, const PGresult *rows, int limit,
		   int cursor_col, json_t *(*row_json)(const PGresult *, int))
{
	json_t *items = json_array();

	for (int i = 0; items && i < PQntuples(rows) && i < limit; i++)
		json_array_append_new(items, row_json(rows, i));
	cp_reply_page(req, items, rows, limit, cursor_col);
}
