/*
 * policy.c - the tenant's tool policy; see policy.h.
 *
 * The glob matcher is iterative with one backtrack point (the last '*'),
 * so a call costs O(len(glob) * len(name)) at worst and allocates
 * nothing: the check runs before every tool call (bench target <= 5 us).
 */
#include "policy.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *const rt_policy_categories[] = {
	"shell_exec",      "code_execution",
	"file_read",       "file_write",
	"data_deletion",   "outbound_message",
	"network_fetch",   "payment",
	"account_change",  "credentials",
	"calendar",        "database_write",
	"browser_control", "device_control",
	"read_only",       NULL,
};

static const char *const category_help[] = {
	"runs shell commands or processes",
	"evaluates code (an interpreter, a notebook)",
	"reads files",
	"creates or changes files",
	"deletes data (files, records, messages)",
	"sends messages to people (mail, chat, SMS, posts)",
	"fetches from the network (HTTP, search)",
	"moves money (payments, refunds, purchases)",
	"changes accounts, users, permissions or settings",
	"reads or changes credentials, keys or tokens",
	"creates or changes calendar events",
	"writes to a database",
	"drives a web browser",
	"controls devices or the physical world",
	"reads without side effects",
};

bool rt_policy_category_known(const char *category)
{
	for (size_t i = 0; rt_policy_categories[i]; i++)
		if (strcmp(rt_policy_categories[i], category) == 0)
			return true;
	return false;
}

const char *rt_policy_category_help(const char *category)
{
	for (size_t i = 0; rt_policy_categories[i]; i++)
		if (strcmp(rt_policy_categories[i], category) == 0)
			return category_help[i];
	return NULL;
}

/* ---- globs */

bool rt_glob_valid(const char *g)
{
	size_t n = strlen(g);
	if (n == 0 || n > RT_GLOB_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)g[i];
		if (ch < 0x20 || ch == 0x7f)
			return false;
		if (ch == '\\') {
			if (i + 1 >= n)
				return false;
			i++;
		} else if (ch == '[') {
			size_t j = i + 1;
			if (j < n && g[j] == '!')
				j++;
			if (j < n && g[j] == ']')
				j++; /* a ']' first is a member */
			while (j < n && g[j] != ']')
				j++;
			if (j >= n)
				return false;
			i = j;
		}
	}
	return true;
}

/* Match one class at g (g[0] == '['), against ch; *end past the ']'. */
static bool class_match(const char *g, unsigned char ch, const char **end)
{
	const char *p = g + 1;
	bool neg = false, hit = false;
	if (*p == '!') {
		neg = true;
		p++;
	}
	const char *first = p;
	while (*p && (*p != ']' || p == first)) {
		unsigned char lo = (unsigned char)*p, hi = lo;
		if (p[1] == '-' && p[2] && p[2] != ']') {
			hi = (unsigned char)p[2];
			p += 3;
		} else {
			p++;
		}
		if (ch >= lo && ch <= hi)
			hit = true;
	}
	*end = *p ? p + 1 : p;
	return hit != neg;
}

bool rt_glob_match(const char *g, const char *s)
{
	const char *star_g = NULL, *star_s = NULL;
	while (*s) {
		const char *next = NULL;
		if (*g == '*') {
			while (*g == '*')
				g++;
			if (!*g)
				return true;
			star_g = g;
			star_s = s;
			continue;
		}
		if (*g == '?') {
			next = g + 1;
		} else if (*g == '[') {
			const char *end;
			if (class_match(g, (unsigned char)*s, &end))
				next = end;
		} else if (*g == '\\' && g[1]) {
			next = g[1] == *s ? g + 2 : NULL;
		} else if (*g && *g == *s) {
			next = g + 1;
		}
		if (next) {
			g = next;
			s++;
			continue;
		}
		if (!star_g)
			return false;
		g = star_g;
		s = ++star_s;
	}
	while (*g == '*')
		g++;
	return *g == '\0';
}

/* ---- JSON pointers */

bool rt_json_pointer_valid(const char *p)
{
	if (!*p)
		return true;
	if (*p != '/' || strlen(p) > RT_GLOB_MAX)
		return false;
	for (; *p; p++) {
		if ((unsigned char)*p < 0x20)
			return false;
		if (*p == '~' && p[1] != '0' && p[1] != '1')
			return false;
	}
	return true;
}

json_t *rt_json_pointer_get(json_t *doc, const char *p)
{
	char tok[RT_GLOB_MAX + 1];
	if (!rt_json_pointer_valid(p))
		return NULL;
	while (doc && *p) {
		size_t n = 0;
		p++; /* the '/' */
		while (*p && *p != '/') {
			char ch = *p++;
			if (ch == '~')
				ch = *p++ == '0' ? '~' : '/';
			tok[n++] = ch;
		}
		tok[n] = '\0';
		if (json_is_object(doc)) {
			doc = json_object_get(doc, tok);
		} else if (json_is_array(doc)) {
			char *end;
			if (!n || (n > 1 && tok[0] == '0') ||
			    !isdigit((unsigned char)tok[0]))
				return NULL;
			unsigned long i = strtoul(tok, &end, 10);
			if (*end)
				return NULL;
			doc = json_array_get(doc, i);
		} else {
			return NULL;
		}
	}
	return doc;
}

/* ---- parsing */

struct pctx {
	char *err;
	size_t errlen;
};

static enum claw_rc say(struct pctx *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static enum claw_rc say(struct pctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
	return CLAW_ERR_INVALID;
}

static enum claw_rc nomem(struct pctx *c)
{
	snprintf(c->err, c->errlen, "tool_policy: out of memory");
	return CLAW_ERR_NOMEM;
}

static bool only_keys(json_t *o, const char *const *keys, const char **bad)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		const char *const *p = keys;
		while (*p && strcmp(*p, k) != 0)
			p++;
		if (!*p) {
			*bad = k;
			return false;
		}
	}
	return true;
}

static enum claw_rc parse_action(struct pctx *c, const char *path, json_t *v,
				 enum rt_policy_action *out)
{
	const char *s = json_string_value(v);
	if (s && strcmp(s, "allow") == 0)
		*out = RT_POLICY_ALLOW;
	else if (s && strcmp(s, "deny") == 0)
		*out = RT_POLICY_DENY;
	else if (s && strcmp(s, "ask") == 0)
		*out = RT_POLICY_ASK;
	else
		return say(c, "%s: must be 'allow', 'deny' or 'ask'", path);
	return CLAW_OK;
}

static enum claw_rc parse_glob(struct pctx *c, const char *path, json_t *v,
			       char **out)
{
	const char *s = json_string_value(v);
	if (!s || !rt_glob_valid(s))
		return say(c,
			   "%s: must be a glob (1-%d printable bytes, '[' "
			   "closed, no trailing '\\')",
			   path, RT_GLOB_MAX);
	if (!(*out = strdup(s)))
		return nomem(c);
	return CLAW_OK;
}

static enum claw_rc parse_category(struct pctx *c, const char *path, json_t *v,
				   char **out)
{
	const char *s = json_string_value(v);
	if (!s || !rt_policy_category_known(s))
		return say(c,
			   "%s: unknown category '%.64s' (see docs/runtime.md "
			   "for the catalogue)",
			   path, s ? s : "(not a string)");
	if (!(*out = strdup(s)))
		return nomem(c);
	return CLAW_OK;
}

static enum claw_rc parse_rule(struct pctx *c, size_t i, json_t *o,
			       struct rt_policy_rule *r)
{
	static const char *const keys[] = {"tool",   "category",      "args",
					   "action", "chat_approval", NULL};
	static const char *const akeys[] = {"pointer", "glob", NULL};
	char path[96];
	const char *bad;
	enum claw_rc rc;
	snprintf(path, sizeof(path), "tool_policy.rules[%zu]", i);
	if (!json_is_object(o))
		return say(c, "%s: must be an object", path);
	if (!only_keys(o, keys, &bad))
		return say(c, "%s: unknown key '%.64s'", path, bad);
	json_t *tool = json_object_get(o, "tool"),
	       *cat = json_object_get(o, "category"),
	       *args = json_object_get(o, "args"),
	       *chat = json_object_get(o, "chat_approval");
	if (!tool && !cat)
		return say(c, "%s: needs 'tool' or 'category'", path);
	if (tool) {
		snprintf(path, sizeof(path), "tool_policy.rules[%zu].tool", i);
		if ((rc = parse_glob(c, path, tool, &r->tool)))
			return rc;
	}
	if (cat) {
		snprintf(path, sizeof(path), "tool_policy.rules[%zu].category",
			 i);
		if ((rc = parse_category(c, path, cat, &r->category)))
			return rc;
	}
	snprintf(path, sizeof(path), "tool_policy.rules[%zu].action", i);
	if ((rc = parse_action(c, path, json_object_get(o, "action"),
			       &r->action)))
		return rc;
	if (chat && !json_is_boolean(chat))
		return say(c,
			   "tool_policy.rules[%zu].chat_approval: must be "
			   "true or false",
			   i);
	r->chat_approval = json_is_true(chat);
	if (r->chat_approval && r->action != RT_POLICY_ASK)
		return say(c,
			   "tool_policy.rules[%zu].chat_approval: only for "
			   "the action 'ask'",
			   i);
	if (!args)
		return CLAW_OK;
	if (!json_is_array(args) || json_array_size(args) > RT_POLICY_MAX_ARGS)
		return say(c,
			   "tool_policy.rules[%zu].args: must be an array of "
			   "at most %d conditions",
			   i, RT_POLICY_MAX_ARGS);
	r->n_args = json_array_size(args);
	r->args = calloc(r->n_args + 1, sizeof(*r->args));
	if (!r->args)
		return nomem(c);
	for (size_t j = 0; j < r->n_args; j++) {
		json_t *a = json_array_get(args, j);
		snprintf(path, sizeof(path), "tool_policy.rules[%zu].args[%zu]",
			 i, j);
		if (!json_is_object(a))
			return say(c, "%s: must be an object", path);
		if (!only_keys(a, akeys, &bad))
			return say(c, "%s: unknown key '%.64s'", path, bad);
		const char *p =
			json_string_value(json_object_get(a, "pointer"));
		if (!p || !rt_json_pointer_valid(p))
			return say(c,
				   "%s.pointer: must be a JSON pointer "
				   "(\"/name\", RFC 6901)",
				   path);
		if (!(r->args[j].pointer = strdup(p)))
			return nomem(c);
		size_t l = strlen(path);
		snprintf(path + l, sizeof(path) - l, ".glob");
		if ((rc = parse_glob(c, path, json_object_get(a, "glob"),
				     &r->args[j].glob)))
			return rc;
	}
	return CLAW_OK;
}

static enum claw_rc parse_categories(struct pctx *c, json_t *o,
				     struct rt_policy *p)
{
	const char *k;
	json_t *v;
	char path[RT_GLOB_MAX + 40];
	enum claw_rc rc;
	if (!json_is_object(o))
		return say(c,
			   "tool_categories: must be an object of "
			   "\"glob\": \"category\"");
	p->cats = calloc(json_object_size(o) + 1, sizeof(*p->cats));
	if (!p->cats)
		return nomem(c);
	json_object_foreach(o, k, v) {
		struct rt_policy_map *m = &p->cats[p->n_cats];
		if (!rt_glob_valid(k))
			return say(c,
				   "tool_categories: '%.64s' is not a valid "
				   "glob",
				   k);
		snprintf(path, sizeof(path), "tool_categories.%s", k);
		if (!(m->glob = strdup(k)))
			return nomem(c);
		p->n_cats++;
		if ((rc = parse_category(c, path, v, &m->category)))
			return rc;
	}
	return CLAW_OK;
}

enum claw_rc rt_policy_parse(json_t *policy, json_t *categories,
			     struct rt_policy *out, char *err, size_t errlen)
{
	static const char *const keys[] = {"default", "rules", "approval_ttl_s",
					   NULL};
	struct pctx c = {err, errlen};
	const char *bad;
	enum claw_rc rc = CLAW_OK;
	memset(out, 0, sizeof(*out));
	out->approval_ttl_s = RT_POLICY_TTL_DEFAULT;
	if (categories && (rc = parse_categories(&c, categories, out)))
		goto fail;
	if (!policy)
		return CLAW_OK;
	if (!json_is_object(policy)) {
		rc = say(&c, "tool_policy: must be an object");
		goto fail;
	}
	if (!only_keys(policy, keys, &bad)) {
		rc = say(&c, "tool_policy: unknown key '%.64s'", bad);
		goto fail;
	}
	json_t *d = json_object_get(policy, "default");
	if (d && (rc = parse_action(&c, "tool_policy.default", d, &out->dflt)))
		goto fail;
	json_t *ttl = json_object_get(policy, "approval_ttl_s");
	if (ttl) {
		json_int_t n = json_integer_value(ttl);
		if (!json_is_integer(ttl) || n < 1 || n > 30L * 86400) {
			rc = say(&c,
				 "tool_policy.approval_ttl_s: must be an "
				 "integer from 1 to 2592000 (30 days)");
			goto fail;
		}
		out->approval_ttl_s = (long)n;
	}
	json_t *rules = json_object_get(policy, "rules");
	if (!rules)
		return CLAW_OK;
	if (!json_is_array(rules) ||
	    json_array_size(rules) > RT_POLICY_MAX_RULES) {
		rc = say(&c,
			 "tool_policy.rules: must be an array of at most %d "
			 "rules",
			 RT_POLICY_MAX_RULES);
		goto fail;
	}
	out->rules = calloc(json_array_size(rules) + 1, sizeof(*out->rules));
	if (!out->rules) {
		rc = nomem(&c);
		goto fail;
	}
	for (size_t i = 0; i < json_array_size(rules); i++) {
		out->n_rules++;
		rc = parse_rule(&c, i, json_array_get(rules, i),
				&out->rules[i]);
		if (rc)
			goto fail;
	}
	return CLAW_OK;
fail:
	rt_policy_release(out);
	return rc;
}

void rt_policy_release(struct rt_policy *p)
{
	for (size_t i = 0; i < p->n_rules; i++) {
		struct rt_policy_rule *r = &p->rules[i];
		for (size_t j = 0; j < r->n_args; j++) {
			free(r->args[j].pointer);
			free(r->args[j].glob);
		}
		free(r->args);
		free(r->tool);
		free(r->category);
	}
	free(p->rules);
	for (size_t i = 0; i < p->n_cats; i++) {
		free(p->cats[i].glob);
		free(p->cats[i].category);
	}
	free(p->cats);
	memset(p, 0, sizeof(*p));
	p->approval_ttl_s = RT_POLICY_TTL_DEFAULT;
}

/* ---- deciding */

void rt_policy_tool_name(const char *model_name, char *out, size_t n)
{
	const char *sep = strstr(model_name, "__");
	if (!sep) {
		snprintf(out, n, "%s", model_name);
		return;
	}
	snprintf(out, n, "%.*s/%s", (int)(sep - model_name), model_name,
		 sep + 2);
}

const char *rt_policy_category(const struct rt_policy *p, const char *tool)
{
	for (size_t i = 0; i < p->n_cats; i++)
		if (rt_glob_match(p->cats[i].glob, tool))
			return p->cats[i].category;
	return NULL;
}

/* Whether the value at the condition's pointer matches its glob. */
static bool arg_match(const struct rt_policy_arg *a, json_t *args)
{
	json_t *v = rt_json_pointer_get(args, a->pointer);
	char num[64];
	const char *s;
	switch (v ? json_typeof(v) : JSON_OBJECT) {
	case JSON_STRING:
		s = json_string_value(v);
		if (strlen(s) != json_string_length(v))
			return false; /* an embedded NUL never matches */
		break;
	case JSON_INTEGER:
		snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		s = num;
		break;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		s = num;
		break;
	case JSON_TRUE:
		s = "true";
		break;
	case JSON_FALSE:
		s = "false";
		break;
	case JSON_NULL:
		s = "null";
		break;
	default:
		return false;
	}
	return rt_glob_match(a->glob, s);
}

void rt_policy_decide(const struct rt_policy *p, const char *tool, json_t *args,
		      struct rt_policy_verdict *v)
{
	const char *cat = rt_policy_category(p, tool);
	v->category = cat;
	v->rule = -1;
	v->chat_approval = false;
	v->action = p->dflt;
	for (size_t i = 0; i < p->n_rules; i++) {
		const struct rt_policy_rule *r = &p->rules[i];
		if (r->tool && !rt_glob_match(r->tool, tool))
			continue;
		if (r->category && (!cat || strcmp(r->category, cat) != 0))
			continue;
		size_t j = 0;
		while (j < r->n_args && arg_match(&r->args[j], args))
			j++;
		if (j < r->n_args)
			continue;
		v->action = r->action;
		v->rule = (long)i;
		v->chat_approval = r->chat_approval;
		return;
	}
}

const char *rt_policy_action_name(enum rt_policy_action a)
{
	switch (a) {
	case RT_POLICY_DENY:
		return "deny";
	case RT_POLICY_ASK:
		return "ask";
	default:
		return "allow";
	}
}

/* Whether a key names a secret (case-insensitive substrings). */
static bool secret_key(const char *k)
{
	static const char *const words[] = {
		"password",    "passwd",     "secret",      "token",
		"api_key",     "apikey",     "api-key",     "authorization",
		"cookie",      "credential", "private_key", "privatekey",
		"card_number", "cardnumber", "cvv",         "cvc",
		"pin",         "otp",        "session",     NULL};
	char low[128];
	size_t n = 0;
	for (; k[n] && n < sizeof(low) - 1; n++)
		low[n] = (char)tolower((unsigned char)k[n]);
	low[n] = '\0';
	for (size_t i = 0; words[i]; i++) {
		if (strcmp(words[i], "pin") == 0 ||
		    strcmp(words[i], "otp") == 0) {
			if (strcmp(low, words[i]) == 0)
				return true; /* short words: the whole key */
		} else if (strstr(low, words[i])) {
			return true;
		}
	}
	return false;
}

json_t *rt_policy_redact(json_t *args)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_object(args)) {
		json_t *o = json_object();
		json_object_foreach(args, k, v)
			json_object_set_new(o, k,
					    secret_key(k)
						    ? json_string("[redacted]")
						    : rt_policy_redact(v));
		return o;
	}
	if (json_is_array(args)) {
		json_t *a = json_array();
		json_array_foreach(args, i, v)
			json_array_append_new(a, rt_policy_redact(v));
		return a;
	}
	return args ? json_incref(args) : json_null();
}
