/*
 * rollout.c - the pure rules of rollouts and tenant labels (rollout.h):
 * no database, no clock, so the unit tests run exactly what the API and
 * the worker run.
 */
#include "rollout.h"

#include <stdio.h>
#include <string.h>

#include "validate.h"

#define LABEL_NAME_MAX 63
#define LABEL_PREFIX_MAX 253
#define SELECTOR_TENANTS_MAX 1000

static bool alnum(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		(ch >= '0' && ch <= '9');
}

/* 0..max of [A-Za-z0-9._-], starting and ending alphanumeric (empty only
 * with allow_empty). */
static bool label_name_ok(const char *s, size_t n, size_t max, bool allow_empty)
{
	if (n == 0)
		return allow_empty;
	if (n > max || !alnum(s[0]) || !alnum(s[n - 1]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!alnum(s[i]) && s[i] != '.' && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

/* A DNS subdomain: dot-separated labels of [a-z0-9-]. */
static bool prefix_ok(const char *s, size_t n)
{
	if (n == 0 || n > LABEL_PREFIX_MAX || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return !strstr(s, "..");
}

static bool label_key_ok(const char *k)
{
	const char *slash = strchr(k, '/');

	if (!slash)
		return label_name_ok(k, strlen(k), LABEL_NAME_MAX, false);
	return prefix_ok(k, (size_t)(slash - k)) &&
		label_name_ok(slash + 1, strlen(slash + 1), LABEL_NAME_MAX,
			      false);
}

bool cp_tenant_labels_valid(const json_t *labels)
{
	const char *k;
	json_t *v;

	if (!json_is_object(labels) ||
	    json_object_size(labels) > CP_TENANT_LABELS_MAX)
		return false;
	json_object_foreach((json_t *)labels, k, v) {
		if (!label_key_ok(k) || !json_is_string(v) ||
		    !label_name_ok(json_string_value(v), json_string_length(v),
				   LABEL_NAME_MAX, true))
			return false;
	}
	return true;
}

bool cp_label_filter_parse(const char *s, char *key, size_t keylen, char *val,
			   size_t vallen)
{
	const char *eq = s ? strchr(s, '=') : NULL;
	size_t kn = eq ? (size_t)(eq - s) : 0;

	if (!eq || kn >= keylen || strlen(eq + 1) >= vallen)
		return false;
	memcpy(key, s, kn);
	key[kn] = '\0';
	snprintf(val, vallen, "%s", eq + 1);
	return label_key_ok(key) &&
		label_name_ok(val, strlen(val), LABEL_NAME_MAX, true);
}

static int problem(char *msg, size_t len, const char *text)
{
	snprintf(msg, len, "%s", text);
	return -1;
}

static int tenants_check(const json_t *a, char *msg, size_t len)
{
	size_t i;
	json_t *v;

	if (!json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > SELECTOR_TENANTS_MAX)
		return problem(msg, len,
			       "selector.tenants: a list of 1 to 1000 tenant "
			       "slugs");
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) || !cp_slug_valid(json_string_value(v)))
			return problem(msg, len,
				       "selector.tenants: each entry is a "
				       "tenant slug");
	}
	return 0;
}

int cp_rollout_selector_check(const json_t *sel, char *msg, size_t msglen)
{
	const json_t *v;

	if (!json_is_object(sel))
		return problem(msg, msglen,
			       "selector: an object with all, labels, plan or "
			       "tenants");
	if (json_object_size(sel) == 0)
		return -2;
	if (json_object_size(sel) != 1)
		return problem(msg, msglen,
			       "selector: give exactly one of all, labels, "
			       "plan, tenants");
	if ((v = json_object_get(sel, "all")))
		return json_is_true(v)
			? 0
			: problem(msg, msglen, "selector.all: must be true");
	if ((v = json_object_get(sel, "labels"))) {
		if (json_is_object(v) && json_object_size(v) == 0)
			return -2;
		return cp_tenant_labels_valid(v)
			? 0
			: problem(msg, msglen,
				  "selector.labels: up to 32 label keys to "
				  "values (Kubernetes label syntax)");
	}
	if ((v = json_object_get(sel, "plan")))
		return json_is_string(v) && cp_name_valid(json_string_value(v))
			? 0
			: problem(msg, msglen, "selector.plan: a plan name");
	if ((v = json_object_get(sel, "tenants")))
		return tenants_check(v, msg, msglen);
	return problem(msg, msglen,
		       "selector: give exactly one of all, labels, plan, "
		       "tenants");
}

const char *cp_rollout_transition(const char *state, const char *action)
{
	bool running = !strcmp(state, "running");
	bool paused = !strcmp(state, "paused");

	if (!strcmp(action, "pause"))
		return running ? "paused" : NULL;
	if (!strcmp(action, "resume"))
		return paused ? "running" : NULL;
	if (!strcmp(action, "abort"))
		return running || paused ? "aborted" : NULL;
	return NULL;
}

enum cp_rollout_next cp_rollout_decide(const struct cp_rollout_counts *n,
				       int failure_threshold)
{
	if (n->failed + n->rolled_back >= failure_threshold)
		return CP_RO_HALT;
	if (n->deploying > 0)
		return CP_RO_WAIT;
	if (n->pending > 0)
		return CP_RO_NEXT_BATCH;
	return CP_RO_COMPLETE;
}
