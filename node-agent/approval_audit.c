/*
 * approval_audit.c - approvals read from the runtimes' audit feeds and
 * reported to the control plane; see approval_audit.h.
 *
 * A feed comes from the tenant's container, so it is checked as strictly
 * as the control plane will (controlplane/approval_report.h): ids of
 * a-z 0-9 _, text without control bytes and within the same lengths,
 * known states only. Only the fields the control plane takes are copied
 * into an event, whatever else a record holds.
 */
#include "approval_audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"
#include "desired.h"
#include "rpc.h"

#define REV_MAX (1LL << 62)
#define PAGES_MAX 20 /* pages of one tenant in one pass */
#define TOOL_MAX 200
#define NAME_MAX_ 64
#define SENDER_MAX 256
#define BY_MAX 300

struct na_apr_audit {
	json_t *cursors; /* tenant -> rev taken by the control plane */
};

struct na_apr_audit *na_apr_audit_new(void)
{
	struct na_apr_audit *st = calloc(1, sizeof(*st));

	if (st && !(st->cursors = json_object())) {
		free(st);
		st = NULL;
	}
	return st;
}

void na_apr_audit_free(struct na_apr_audit *st)
{
	if (!st)
		return;
	json_decref(st->cursors);
	free(st);
}

/* A string of 1 to max bytes without control bytes, or NULL. */
static const char *text(const json_t *rec, const char *key, size_t max)
{
	const char *s = json_string_value(json_object_get(rec, key));
	size_t n = s ? strlen(s) : 0;

	if (!n || n > max || n != json_string_length(json_object_get(rec, key)))
		return NULL;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return NULL;
	return s;
}

/* A time (unix seconds) of rec, or -1. */
static json_int_t when(const json_t *rec, const char *key)
{
	const json_t *v = json_object_get(rec, key);
	json_int_t t = json_is_integer(v) ? json_integer_value(v) : -1;

	return t >= 0 && t <= 253402300799LL ? t : -1;
}

/* The events of one record into out; false when it is malformed. */
static bool record_events(const char *tenant, const json_t *rec, json_t *out)
{
	const char *id = json_string_value(json_object_get(rec, "id"));
	const char *tool = text(rec, "tool", TOOL_MAX);
	const char *state = json_string_value(json_object_get(rec, "state"));
	const char *by = text(rec, "decided_by", BY_MAX);
	json_int_t created = when(rec, "created"),
		   decided = when(rec, "decided_at");
	bool pending = state && !strcmp(state, "pending");
	size_t n = id ? strlen(id) : 0;
	json_t *req;

	if (!n || n > 64 ||
	    strspn(id, "abcdefghijklmnopqrstuvwxyz0123456789_") != n || !tool ||
	    created < 0 ||
	    (!pending &&
	     (!state ||
	      (strcmp(state, "approved") && strcmp(state, "denied") &&
	       strcmp(state, "expired")))) ||
	    (!pending && (!by || decided < 0)))
		return false;
	req = json_pack("{s:s, s:s, s:s, s:s, s:I}", "tenant", tenant,
			"approval", id, "event", "request", "tool", tool, "at",
			created);
	if (!req)
		return false;
	/* optional: left out when absent, empty or malformed */
	static const struct {
		const char *key;
		size_t max;
	} opt[] = {{"category", NAME_MAX_},
		   {"channel", NAME_MAX_},
		   {"sender", SENDER_MAX}};
	for (size_t i = 0; i < sizeof(opt) / sizeof(opt[0]); i++) {
		const char *v = text(rec, opt[i].key, opt[i].max);

		if (v)
			json_object_set_new(req, opt[i].key, json_string(v));
	}
	if (when(rec, "expires") >= 0)
		json_object_set_new(req, "expires",
				    json_integer(when(rec, "expires")));
	json_array_append_new(out, req);
	if (pending)
		return true;
	return !json_array_append_new(
		out,
		json_pack("{s:s, s:s, s:s, s:s, s:O*, s:s, s:s, s:I}", "tenant",
			  tenant, "approval", id, "event", "decision", "tool",
			  tool, "category", json_object_get(req, "category"),
			  "decision", state, "decided_by", by, "at", decided));
}

json_t *na_apr_events(const char *tenant, const json_t *feed, long long after,
		      long long *next, bool *more, size_t *skipped, char *err,
		      size_t errlen)
{
	const json_t *changes = json_object_get(feed, "changes");
	const json_t *rev = json_object_get(feed, "rev");
	const json_t *m = json_object_get(feed, "more");
	json_t *out, *rec;
	long long last = after;
	size_t i;

	*next = after;
	*more = false;
	*skipped = 0;
	if (!json_is_array(changes) || !json_is_integer(rev) ||
	    json_integer_value(rev) < 0 || json_integer_value(rev) > REV_MAX ||
	    (m && !json_is_boolean(m)) ||
	    json_array_size(changes) > NA_APR_PAGE_MAX) {
		snprintf(err, errlen,
			 "the approvals feed is not {\"changes\": [at most "
			 "%d], \"rev\": N, \"more\": bool}",
			 NA_APR_PAGE_MAX);
		return NULL;
	}
	if (!(out = json_array())) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (json_integer_value(rev) < after) {
		*next = 0; /* a new store: from its start again */
		*more = true;
		return out;
	}
	json_array_foreach(changes, i, rec) {
		const json_t *r = json_object_get(rec, "rev");
		json_int_t v = json_is_integer(r) ? json_integer_value(r) : -1;

		if (v <= after || v > REV_MAX) {
			snprintf(err, errlen,
				 "change %zu of the approvals feed has no rev "
				 "past the cursor",
				 i);
			json_decref(out);
			return NULL;
		}
		if (v > last)
			last = v;
		if (!record_events(tenant, rec, out))
			(*skipped)++;
	}
	/* the cursor moves only when the whole page was taken */
	*next = last;
	*more = json_is_true(m) && json_array_size(changes) > 0;
	return out;
}

/* One page of tenant's feed reported; false when the pass should leave
 * the tenant (nothing more, or a failure to try again later). */
static bool page(struct na_agent *a, struct na_apr_audit *st,
		 const char *tenant, const char *ip, na_apr_post_fn post,
		 void *cls)
{
	long long cur =
		json_integer_value(json_object_get(st->cursors, tenant));
	long long next;
	char path[64], err[300];
	bool more = false;
	size_t skipped;
	long status = 200;
	json_t *ans, *ev;

	snprintf(path, sizeof(path), "/v1/approvals?after=%lld", cur);
	ans = na_rpc_tenant(a, tenant, ip, "GET", path, NULL);
	if (json_integer_value(json_object_get(ans, "status")) != 200) {
		json_decref(ans); /* not running, API off, busy: later */
		return false;
	}
	ev = na_apr_events(tenant, json_object_get(ans, "body"), cur, &next,
			   &more, &skipped, err, sizeof(err));
	json_decref(ans);
	if (!ev) {
		log_warn("tenant '%s': %s; approvals not reported", tenant,
			 err);
		return false;
	}
	if (skipped)
		log_warn("tenant '%s': %zu malformed approval record(s) in "
			 "the runtime's feed; not reported",
			 tenant, skipped);
	if (json_array_size(ev)) {
		json_t *body = json_pack("{s:O}", "events", ev);
		char *text = body ? claw_json_dumps(body) : NULL;

		err[0] = '\0';
		status = text ? post(cls, text, err, sizeof(err)) : 0;
		free(text);
		json_decref(body);
		if (status == 400 || status == 422)
			log_error("the control plane refused %zu approval "
				  "events of tenant '%s' as malformed (HTTP "
				  "%ld: %s); they are dropped",
				  json_array_size(ev), tenant, status, err);
	}
	json_decref(ev);
	if (status != 200 && status != 400 && status != 422)
		return false; /* kept: the same page next time */
	json_object_set_new(st->cursors, tenant, json_integer(next));
	return more;
}

void na_apr_audit_pass(struct na_agent *a, struct na_apr_audit *st,
		       na_apr_post_fn post, void *cls)
{
	json_t *snap = na_agent_snapshot(a), *t, *live = json_object();
	size_t i;

	json_array_foreach(json_object_get(snap, "tenants"), i, t) {
		const char *tenant =
			json_string_value(json_object_get(t, "tenant"));
		const char *ip = na_rpc_runtime_ip(t);

		if (!tenant || !na_valid_tenant(tenant))
			continue;
		json_object_set_new(live, tenant, json_true());
		if (!ip)
			continue;
		for (int p = 0;
		     p < PAGES_MAX && page(a, st, tenant, ip, post, cls); p++)
			;
	}
	/* forget the cursors of tenants that no longer run here */
	const char *k;
	void *tmp;
	json_t *v;
	json_object_foreach_safe(st->cursors, tmp, k, v)
		if (!json_object_get(live, k))
			json_object_del(st->cursors, k);
	json_decref(live);
	json_decref(snap);
}
