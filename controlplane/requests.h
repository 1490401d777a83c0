/*
 * requests.h - the request bodies of the core API: their field specs and
 * the checks beyond JSON types (slug rules, names, roles, ranges). Pure
 * functions, so the unit tests and the fuzzer run exactly what the
 * handlers run.
 */
#ifndef CP_REQUESTS_H
#define CP_REQUESTS_H

#include <stdbool.h>
#include <stddef.h>
#include "claw/httpd.h"
#include "claw/json.h"

struct cp_tenant_input {
	const char *slug;   /* create only */
	const char *name;   /* required on create; optional on update */
	json_int_t version; /* update only; 0: not given */
	/* Bounds (NULL: not given): a plan name ("default": the built-in
	 * plan), the egress bound (an array of egress entries), whether the
	 * tenant may pause and resume itself (a boolean), the node labels its
	 * deploys may ask for (an object), the channel base URLs its gateway
	 * config may set (an array). */
	const char *plan;
	json_t *egress_allow;
	json_t *self_pause;
	json_t *node_labels;
	json_t *api_base_allow;
};

struct cp_token_input {
	const char *role;
	const char *tenant; /* id or slug; role tenant only */
	const char *name;
	json_int_t expires_in; /* seconds; 0: never */
};

enum cp_body {
	CP_BODY_TENANT_CREATE,
	CP_BODY_TENANT_UPDATE,
	CP_BODY_TOKEN_CREATE,
};

#define CP_FIELDS_MAX 8

/* The field spec of body kind k writing into in (a struct cp_tenant_input
 * or cp_token_input as k says); f holds CP_FIELDS_MAX entries. */
void cp_body_fields(enum cp_body k, void *in, struct claw_json_field *f);
/* The checks after unpacking; -1 with p filled (INVALID_FIELD or
 * MISSING_FIELD, the field, a message). */
int cp_body_validate(enum cp_body k, const void *in,
		     struct claw_json_problem *p);
/* The whole pipeline on raw bytes (what a handler does): parse, unpack,
 * validate. On success *obj holds the parsed body the strings of in point
 * into (json_decref it); on failure *obj is NULL and p says why. */
int cp_body_check(enum cp_body k, const char *data, size_t len, void *in,
		  json_t **obj, struct claw_json_problem *p);

/* Parse the request's body as kind k into in; replies the error (400,
 * 413, 415, 422) and returns -1, or 0 with *obj to json_decref. */
int cp_body_parse(struct claw_http_req *req, enum cp_body k, void *in,
		  json_t **obj);

/* ---- list requests (?limit=&cursor=) and their pages */

/* The request's limit (1 to max; absent: def) and cursor (absent: NULL;
 * cursor_ok says whether a given one is well formed). false when either
 * is malformed (the caller replies 400 invalid_parameter). */
bool cp_list_query(struct claw_http_req *req, int def, int max,
		   bool (*cursor_ok)(const char *), int *limit,
		   const char **cursor);

struct pg_result;
/* Reply the page of a list read with limit + 1 rows (cp_reply_page): the
 * first limit rows, each as row_json makes it. rows stays the caller's. */
void cp_reply_rows(struct claw_http_req *req, const struct pg_result *rows,
		   int limit, int cursor_col,
		   json_t *(*row_json)(const struct pg_result *, int));

#endif
