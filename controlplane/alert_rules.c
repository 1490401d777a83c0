/*
 * alert_rules.c - what a fleet event means for alerts (alert.h). Pure: no
 * database, no clock. One table row per event type that fires or
 * resolves; a row's test on the event's data decides (e.g. tenant.phase
 * fires crash_loop only when the new phase is crash_loop).
 *
 * Subjects: the tenant id for crash_loop and deploy_failed (a second
 * failed deployment of the same tenant is the same alert), the node id
 * for node_lost, the rollout id for rollout_halted, "TENANT/QUOTA" for
 * quota_exhausted and the certificate's domain (else the tenant or node)
 * for cert_expiring.
 */
#include "alert.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[] = {
#define CP_AK_NAME(n, s) s,
	CP_ALERT_KINDS(CP_AK_NAME)
#undef CP_AK_NAME
};

const char *cp_alert_kind_name(enum cp_alert_kind k)
{
	return (unsigned)k < CP_AK__COUNT ? kind_names[k] : "unknown";
}

int cp_alert_kind_parse(const char *name)
{
	for (int k = 0; name && k < CP_AK__COUNT; k++)
		if (!strcmp(name, kind_names[k]))
			return k;
	return -1;
}

static const char *str(const json_t *data, const char *key)
{
	return json_string_value(json_object_get(data, key));
}

static const char *or_(const char *a, const char *b)
{
	return a && a[0] ? a : b ? b : "";
}

/* The event's own words for why, cut short: ": REASON" or "". */
static void reason_of(const struct cp_alert_event *ev, char *out, size_t n)
{
	const char *r = or_(str(ev->data, "reason"), str(ev->data, "error"));

	snprintf(out, n, "%s%.300s", r[0] ? ": " : "", r);
}

static bool is(const char *a, const char *b)
{
	return a && !strcmp(a, b);
}

struct rule {
	const char *type;
	enum cp_alert_kind kind;
	enum cp_alert_verdict verdict;
	/* data[key] must equal one of values (NULL key: always) */
	const char *key;
	const char *values[3];
};

static const struct rule rules[] = {
	{"tenant.phase", CP_AK_CRASH_LOOP, CP_ALERT_FIRE, "to", {"crash_loop"}},
	{"tenant.phase",
	 CP_AK_CRASH_LOOP,
	 CP_ALERT_RESOLVE,
	 "to",
	 {"healthy", "stopped"}},
	{"tenant.state",
	 CP_AK_CRASH_LOOP,
	 CP_ALERT_RESOLVE,
	 "state",
	 {"removed", "stopped", "suspended"}},
	{"tenant.state",
	 CP_AK_DEPLOY_FAILED,
	 CP_ALERT_RESOLVE,
	 "state",
	 {"removed"}},
	{"deployment.phase",
	 CP_AK_DEPLOY_FAILED,
	 CP_ALERT_FIRE,
	 "phase",
	 {"failed"}},
	{"deployment.phase",
	 CP_AK_DEPLOY_FAILED,
	 CP_ALERT_RESOLVE,
	 "phase",
	 {"healthy"}},
	{"rollout.halted", CP_AK_ROLLOUT_HALTED, CP_ALERT_FIRE, NULL, {NULL}},
	{"rollout.failed", CP_AK_ROLLOUT_HALTED, CP_ALERT_FIRE, NULL, {NULL}},
	{"rollout.resumed",
	 CP_AK_ROLLOUT_HALTED,
	 CP_ALERT_RESOLVE,
	 NULL,
	 {NULL}},
	{"rollout.completed",
	 CP_AK_ROLLOUT_HALTED,
	 CP_ALERT_RESOLVE,
	 NULL,
	 {NULL}},
	{"rollout.aborted",
	 CP_AK_ROLLOUT_HALTED,
	 CP_ALERT_RESOLVE,
	 NULL,
	 {NULL}},
	{"node.down", CP_AK_NODE_LOST, CP_ALERT_FIRE, NULL, {NULL}},
	{"node.ready", CP_AK_NODE_LOST, CP_ALERT_RESOLVE, NULL, {NULL}},
	{"node.deleted", CP_AK_NODE_LOST, CP_ALERT_RESOLVE, NULL, {NULL}},
	{"node.revoked", CP_AK_NODE_LOST, CP_ALERT_RESOLVE, NULL, {NULL}},
	{"quota.exhausted", CP_AK_QUOTA_EXHAUSTED, CP_ALERT_FIRE, NULL, {NULL}},
	{"quota.restored",
	 CP_AK_QUOTA_EXHAUSTED,
	 CP_ALERT_RESOLVE,
	 NULL,
	 {NULL}},
	{"cert.expiring", CP_AK_CERT_EXPIRING, CP_ALERT_FIRE, NULL, {NULL}},
	{"cert.renewed", CP_AK_CERT_EXPIRING, CP_ALERT_RESOLVE, NULL, {NULL}},
};

static bool rule_applies(const struct rule *r, const struct cp_alert_event *ev)
{
	const char *v;

	if (!is(ev->type, r->type))
		return false;
	if (!r->key)
		return true;
	v = str(ev->data, r->key);
	for (size_t i = 0; i < 3 && r->values[i]; i++)
		if (is(v, r->values[i]))
			return true;
	return false;
}

/* The subject of kind for ev into m; false when the event names none. */
static bool subject_of(enum cp_alert_kind kind, const struct cp_alert_event *ev,
		       struct cp_alert_match *m)
{
	const char *s = NULL;
	const char *q;

	switch (kind) {
	case CP_AK_CRASH_LOOP:
	case CP_AK_DEPLOY_FAILED:
		s = ev->tenant_id;
		break;
	case CP_AK_NODE_LOST:
		s = ev->node_id;
		break;
	case CP_AK_ROLLOUT_HALTED:
		s = or_(str(ev->data, "rollout"), str(ev->data, "id"));
		break;
	case CP_AK_QUOTA_EXHAUSTED:
		q = or_(str(ev->data, "quota"), "quota");
		if (!ev->tenant_id || !ev->tenant_id[0])
			return false;
		snprintf(m->subject, sizeof(m->subject), "%s/%.64s",
			 ev->tenant_id, q);
		return true;
	case CP_AK_CERT_EXPIRING:
		s = or_(str(ev->data, "domain"),
			or_(ev->tenant_id, ev->node_id));
		break;
	case CP_AK__COUNT:
		break;
	}
	if (!s || !s[0])
		return false;
	snprintf(m->subject, sizeof(m->subject), "%.*s", CP_ALERT_SUBJECT_MAX,
		 s);
	return true;
}

/* The one-line summaries: before and after who (the tenant's slug, the
 * node's name, the subject), firing then resolved; a firing one ends with
 * what the event adds (its reason, a date). */
static const char *const texts[CP_AK__COUNT][4] = {
	[CP_AK_CRASH_LOOP] = {"tenant ", " is crash-looping", "tenant ",
			      " no longer crash-loops"},
	[CP_AK_DEPLOY_FAILED] = {"a deployment of tenant ", " failed",
				 "tenant ", " deployed again"},
	[CP_AK_ROLLOUT_HALTED] = {"rollout ", " halted", "rollout ",
				  " is no longer halted"},
	[CP_AK_NODE_LOST] = {"node ", " is lost: it missed its heartbeats",
			     "node ", " is back (or gone for good)"},
	[CP_AK_QUOTA_EXHAUSTED] = {"quota ", " is exhausted", "quota ",
				   " is no longer exhausted"},
	[CP_AK_CERT_EXPIRING] = {"the certificate of ", " expires soon",
				 "the certificate of ", " was renewed"},
};

static void summary_of(const struct cp_alert_event *ev,
		       struct cp_alert_match *m)
{
	const char *who = m->subject;
	char more[340] = "";
	bool fire;

	if (m->kind == CP_AK_CRASH_LOOP || m->kind == CP_AK_DEPLOY_FAILED)
		who = or_(ev->tenant, ev->tenant_id);
	else if (m->kind == CP_AK_NODE_LOST)
		who = or_(ev->node, ev->node_id);
	if (m->kind == CP_AK_CERT_EXPIRING)
		snprintf(more, sizeof(more), " (not after %.40s)",
			 or_(str(ev->data, "not_after"), "an unknown date"));
	else if (m->kind == CP_AK_QUOTA_EXHAUSTED)
		snprintf(more, sizeof(more),
			 " (tenant %.64s, %lld of %lld used)",
			 or_(ev->tenant, ev->tenant_id),
			 (long long)json_integer_value(
				 json_object_get(ev->data, "used")),
			 (long long)json_integer_value(
				 json_object_get(ev->data, "limit")));
	else
		reason_of(ev, more, sizeof(more));
	fire = m->verdict == CP_ALERT_FIRE;
	snprintf(m->summary, sizeof(m->summary), "%s%s%s%s",
		 texts[m->kind][fire ? 0 : 2], who,
		 texts[m->kind][fire ? 1 : 3], fire ? more : "");
}

size_t cp_alert_classify(const struct cp_alert_event *ev,
			 struct cp_alert_match out[CP_ALERT_MATCH_MAX])
{
	size_t n = 0;

	if (!ev->type || !strncmp(ev->type, "alert.", 6))
		return 0;
	for (size_t i = 0;
	     i < sizeof(rules) / sizeof(rules[0]) && n < CP_ALERT_MATCH_MAX;
	     i++) {
		struct cp_alert_match *m = &out[n];

		if (!rule_applies(&rules[i], ev))
			continue;
		memset(m, 0, sizeof(*m));
		m->kind = rules[i].kind;
		m->verdict = rules[i].verdict;
		if (!subject_of(m->kind, ev, m))
			continue;
		summary_of(ev, m);
		n++;
	}
	return n;
}

long cp_alert_backoff_ms(int attempts)
{
	long ms = 1000;

	for (int i = 1; i < attempts && ms < 300000; i++)
		ms *= 2;
	return ms < 300000 ? ms : 300000;
}
