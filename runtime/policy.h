/*
 * policy.h - the tenant's tool policy: which tool calls run at once
 * ("allow"), which are refused ("deny") and which wait for a person's
 * approval ("ask").
 *
 * The config holds two parts (docs/runtime.md, "Tool policy"):
 *   "tool_categories": {"GLOB": "category", ...} maps tools to the shipped
 *     catalogue of categories (rt_policy_categories); the first glob in
 *     file order that matches a tool gives its category;
 *   "tool_policy": {"default": ACTION, "approval_ttl_s": N, "rules": [
 *     {"tool": GLOB, "category": NAME, "args": [{"pointer": "/p",
 *      "glob": GLOB}], "action": ACTION, "chat_approval": BOOL}, ...]}.
 * Rules are tried in order; the first whose every condition holds decides;
 * none: the default ("allow" unless set). A tool is matched by its policy
 * name "server/tool" (the model sees "server__tool"; built-in tools keep
 * their own name, "memory_save"). An argument condition resolves a JSON
 * pointer (RFC 6901) in the call's arguments and matches the glob against
 * a string, or the JSON text of a number, boolean or null; a missing value
 * or an object or array never matches.
 *
 * Globs: '*' any run of characters ('/' included), '?' one character,
 * "[abc]", "[a-z]", "[!x]" a class, '\' escapes the next character. A
 * glob that is empty, over RT_GLOB_MAX bytes, holds a control character,
 * ends in a lone '\' or leaves a '[' open is refused, as is an unknown
 * category: the whole config is refused with the JSON path of the fault.
 *
 * Pure functions; the parsed policy is immutable and owned by the config.
 */
#ifndef RT_POLICY_H
#define RT_POLICY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

#define RT_GLOB_MAX 256
#define RT_POLICY_MAX_RULES 1000
#define RT_POLICY_MAX_ARGS 16
#define RT_POLICY_TTL_DEFAULT (24L * 3600)

enum rt_policy_action {
	RT_POLICY_ALLOW,
	RT_POLICY_DENY,
	RT_POLICY_ASK,
};

struct rt_policy_arg {
	char *pointer; /* RFC 6901, checked */
	char *glob;
};

struct rt_policy_rule {
	char *tool;     /* glob on the policy name, or NULL */
	char *category; /* a catalogue name, or NULL */
	struct rt_policy_arg *args;
	size_t n_args;
	enum rt_policy_action action;
	bool chat_approval; /* an "ask" the chat user may decide */
};

struct rt_policy_map {
	char *glob;
	char *category;
};

struct rt_policy {
	struct rt_policy_rule *rules;
	size_t n_rules;
	enum rt_policy_action dflt;
	struct rt_policy_map *cats;
	size_t n_cats;
	long approval_ttl_s; /* how long an "ask" waits (default 24 h) */
};

/* The shipped catalogue, NULL-terminated, each with a one-line meaning
 * (rt_policy_category_help). */
extern const char *const rt_policy_categories[];
const char *rt_policy_category_help(const char *category);
bool rt_policy_category_known(const char *category);

/* Whether g is a glob this module accepts. */
bool rt_glob_valid(const char *g);
/* Whether s matches the (valid) glob g, the whole of s. */
bool rt_glob_match(const char *g, const char *s);
/* Whether p is a valid JSON pointer ("" or "/a/b", "~0" "~1" escapes). */
bool rt_json_pointer_valid(const char *p);
/* The value at pointer p in doc (borrowed), or NULL. */
json_t *rt_json_pointer_get(json_t *doc, const char *p);

/* Parse the two config values (either may be NULL: absent) into *out
 * (released with rt_policy_release; empty on failure). CLAW_OK, or
 * CLAW_ERR_INVALID / CLAW_ERR_NOMEM with err naming the JSON path. */
enum claw_rc rt_policy_parse(json_t *policy, json_t *categories,
			     struct rt_policy *out, char *err, size_t errlen);
void rt_policy_release(struct rt_policy *p);

/* The policy name of a tool the model calls ("web__fetch" ->
 * "web/fetch"; a name without "__" as it is), into out. */
void rt_policy_tool_name(const char *model_name, char *out, size_t n);
/* The category of a tool (policy name), borrowed, or NULL. */
const char *rt_policy_category(const struct rt_policy *p, const char *tool);

struct rt_policy_verdict {
	enum rt_policy_action action;
	const char *category; /* borrowed from p, or NULL */
	long rule;            /* index of the deciding rule, -1: default */
	bool chat_approval;
};

/* Decide a call of tool (policy name) with args (an object, or NULL). */
void rt_policy_decide(const struct rt_policy *p, const char *tool, json_t *args,
		      struct rt_policy_verdict *v);
const char *rt_policy_action_name(enum rt_policy_action a);

/* A copy of args with the values of secret-looking keys (password,
 * token, secret, api_key, authorization, cookie, credential, private key,
 * card number, cvv, pin) replaced by "[redacted]", at any depth (new
 * reference). For logs and the approvals API. */
json_t *rt_policy_redact(json_t *args);

#endif
