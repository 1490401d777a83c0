/*
 * usage_report.c - the usage report of a node agent checked into structs, and
 * RFC 3339 times (see usage_report.h). Each report is unpacked against a field
 * spec (unknown fields refused), then its values range-checked; the first
 * problem names its place in the body ("reports[1].turns") and ends the
 * check, so nothing of a refused body is stored.
 */
#include "usage_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "validate.h"

const char *const cp_usage_count_names[CP_UC__N] = {
	"turns",       "messages_in",    "messages_out", "tool_calls",
	"tool_errors", "quota_refusals", "turn_ms"};
const char *const cp_usage_pcount_names[CP_UP__N] = {
	"requests", "errors", "input_tokens", "output_tokens"};

static int fail(struct claw_json_problem *p, enum claw_http_error e,
		const char *field, const char *msg)
{
	p->error = e;
	snprintf(p->field, sizeof(p->field), "%s", field);
	snprintf(p->message, sizeof(p->message), "%s: %s", field, msg);
	return -1;
}

/* Unpack obj against f; on a problem, its field is put under where. */
static int unpack_at(const json_t *obj, const struct claw_json_field *f,
		     const char *where, struct claw_json_problem *p)
{
	char field[96], msg[sizeof(p->message)];

	if (!json_is_object(obj))
		return fail(p, CLAW_HE_INVALID_FIELD, where,
			    "must be an object");
	if (!claw_json_unpack(obj, f, p))
		return 0;
	snprintf(field, sizeof(field), "%s.%s", where, p->field);
	snprintf(msg, sizeof(msg), "%s", p->message); /* fail() writes it */
	return fail(p, p->error, field, msg);
}

/* The n counters v (unpacked, absent: 0) range-checked. */
static int counters_ok(const json_int_t *v, long long *out, size_t n,
		       const char *const *names, const char *where,
		       struct claw_json_problem *p)
{
	char field[96];

	for (size_t i = 0; i < n; i++) {
		if (v[i] < 0 || v[i] > CP_USAGE_VALUE_MAX) {
			snprintf(field, sizeof(field), "%s.%s", where,
				 names[i]);
			return fail(p, CLAW_HE_INVALID_FIELD, field,
				    "a count of 0 to 10^12 (a delta since "
				    "the last report)");
		}
		out[i] = (long long)v[i];
	}
	return 0;
}

static bool name_ok(const char *s, size_t max, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr(extra, ch)))
			return false;
	}
	return true;
}

static int provider_parse(const char *name, const json_t *o, const char *where,
			  struct cp_usage_provider *out,
			  struct claw_json_problem *p)
{
	json_int_t v[CP_UP__N] = {0};
	struct claw_json_field f[CP_UP__N + 1] = {{0}};
	char at[96];

	snprintf(at, sizeof(at), "%s.providers.%.40s", where, name);
	if (!name_ok(name, CP_USAGE_PROVIDER_MAX, "_.:-"))
		return fail(
			p, CLAW_HE_INVALID_FIELD, at,
			"a provider name is 1 to 64 of A-Z a-z 0-9 _ . : -");
	for (int i = 0; i < CP_UP__N; i++)
		f[i] = (struct claw_json_field){cp_usage_pcount_names[i],
						CLAW_JSON_INT, false, &v[i], 0};
	if (unpack_at(o, f, at, p) ||
	    counters_ok(v, out->v, CP_UP__N, cp_usage_pcount_names, at, p))
		return -1;
	snprintf(out->name, sizeof(out->name), "%s", name);
	return 0;
}

static int fail_at(struct claw_json_problem *p, const char *where,
		   const char *name, const char *msg)
{
	char field[96];

	snprintf(field, sizeof(field), "%s.%s", where, name);
	return fail(p, CLAW_HE_INVALID_FIELD, field, msg);
}

static int report_parse(const json_t *o, size_t idx,
			struct cp_usage_report *out,
			struct claw_json_problem *p)
{
	const char *id = NULL, *tenant = NULL, *dep = NULL, *at = NULL, *name;
	json_t *providers = NULL, *pv;
	json_int_t v[CP_UC__N] = {0};
	struct claw_json_field f[CP_UC__N + 6] = {
		{"id", CLAW_JSON_STRING, false, &id, CP_USAGE_ID_MAX},
		{"tenant", CLAW_JSON_STRING, true, &tenant, CP_SLUG_MAX},
		{"deployment", CLAW_JSON_STRING, false, &dep, CP_ID_MAX - 1},
		{"at", CLAW_JSON_STRING, true, &at, 64},
		{"providers", CLAW_JSON_OBJECT, false, &providers, 0},
	};
	char where[32];
	long long t;

	for (int i = 0; i < CP_UC__N; i++)
		f[5 + i] = (struct claw_json_field){cp_usage_count_names[i],
						    CLAW_JSON_INT, false, &v[i],
						    0};
	snprintf(where, sizeof(where), "reports[%zu]", idx);
	if (unpack_at(o, f, where, p))
		return -1;
	if (id && !name_ok(id, CP_USAGE_ID_MAX, "_.:-"))
		return fail_at(p, where, "id",
			       "1 to 64 of A-Z a-z 0-9 _ . : -");
	if (!cp_slug_valid(tenant))
		return fail_at(p, where, "tenant", "a tenant slug");
	if (dep && !cp_id_valid(dep, "dep_"))
		return fail_at(p, where, "deployment", "a deployment id");
	if (!cp_rfc3339_parse(at, &t))
		return fail_at(p, where, "at",
			       "an RFC 3339 time (2026-01-31T12:00:00Z)");
	if (counters_ok(v, out->v, CP_UC__N, cp_usage_count_names, where, p))
		return -1;
	if (json_object_size(providers) > CP_USAGE_PROVIDERS_MAX)
		return fail_at(p, where, "providers", "at most 64 providers");
	out->providers = calloc(json_object_size(providers) + 1,
				sizeof(*out->providers));
	if (!out->providers)
		return fail(p, CLAW_HE_INTERNAL, where, "out of memory");
	json_object_foreach(providers, name, pv) {
		if (provider_parse(name, pv, where,
				   &out->providers[out->n_providers], p))
			return -1;
		out->n_providers++;
	}
	snprintf(out->id, sizeof(out->id), "%s", id ? id : "");
	snprintf(out->tenant, sizeof(out->tenant), "%s", tenant);
	out->hour = t - t % 3600;
	return 0;
}

int cp_usage_parse(const json_t *body, struct cp_usage_batch *out,
		   struct claw_json_problem *p)
{
	json_t *reports = NULL, *r;
	const struct claw_json_field f[] = {
		{"reports", CLAW_JSON_ARRAY, true, &reports, 0},
		{NULL, 0, false, NULL, 0},
	};
	size_t i;

	memset(out, 0, sizeof(*out));
	if (claw_json_unpack(body, f, p))
		return -1;
	if (json_array_size(reports) > CP_USAGE_REPORTS_MAX)
		return fail(p, CLAW_HE_INVALID_FIELD, "reports",
			    "at most 500 reports a request");
	out->reports =
		calloc(json_array_size(reports) + 1, sizeof(*out->reports));
	if (!out->reports)
		return fail(p, CLAW_HE_INTERNAL, "reports", "out of memory");
	json_array_foreach(reports, i, r) {
		out->n++; /* released with the batch, even half-filled */
		if (report_parse(r, i, &out->reports[i], p)) {
			cp_usage_batch_release(out);
			return -1;
		}
	}
	return 0;
}

void cp_usage_batch_release(struct cp_usage_batch *b)
{
	for (size_t i = 0; b->reports && i < b->n; i++)
		free(b->reports[i].providers);
	free(b->reports);
	b->reports = NULL;
	b->n = 0;
}

/* n digits of s as a number, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

bool cp_rfc3339_parse(const char *s, long long *out)
{
	static const int mdays[12] = {31, 29, 31, 30, 31, 30,
				      31, 31, 30, 31, 30, 31};
	struct tm tm = {0};
	int y, mo, d, h, mi, sec, off = 0;
	const char *z;
	long long t;

	if (!s || strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
	    (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':')
		return false;
	y = digits(s, 4);
	mo = digits(s + 5, 2);
	d = digits(s + 8, 2);
	h = digits(s + 11, 2);
	mi = digits(s + 14, 2);
	sec = digits(s + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400))) ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 60)
		return false;
	z = s + 19;
	if (*z == '.') {
		size_t n = strspn(z + 1, "0123456789");

		if (n == 0 || n > 9)
			return false;
		z += 1 + n;
	}
	if ((*z == 'Z' || *z == 'z') && z[1] == '\0') {
		off = 0;
	} else if ((*z == '+' || *z == '-') && strlen(z) == 6 && z[3] == ':') {
		int oh = digits(z + 1, 2), om = digits(z + 4, 2);

		if (oh < 0 || oh > 23 || om < 0 || om > 59)
			return false;
		off = (oh * 60 + om) * 60 * (*z == '-' ? -1 : 1);
	} else {
		return false;
	}
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;
	t = (long long)timegm(&tm) - off;
	if (t < 0)
		return false;
	*out = t;
	return true;
}
