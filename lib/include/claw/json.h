/*
 * json.h - JSON helpers over jansson: parse a request body and check an
 * object against a field spec (as GNU Taler's parsers do). Unknown fields are
 * refused and named by position ("#3": the third key), never by their
 * bytes, so what a client sent as a key is not echoed into errors and logs;
 * every problem is reported with a stable code.
 */
#ifndef CLAW_JSON_H
#define CLAW_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "claw/err.h"

enum claw_json_type {
	CLAW_JSON_STRING, /* out: const char ** (borrowed from the object) */
	CLAW_JSON_INT,    /* out: json_int_t * */
	CLAW_JSON_BOOL,   /* out: bool * */
	CLAW_JSON_OBJECT, /* out: json_t ** (borrowed) */
	CLAW_JSON_ARRAY,  /* out: json_t ** (borrowed) */
	CLAW_JSON_ANY,    /* out: json_t ** (borrowed), any type but null */
};

struct claw_json_field {
	const char *name;
	enum claw_json_type type;
	bool required;
	void *out;      /* left untouched when an optional field is absent */
	size_t max_len; /* strings: maximum bytes (0: no limit); NUL refused */
};

struct claw_json_problem {
	enum claw_http_error error; /* BAD_JSON, UNKNOWN_FIELD, ... */
	char field[96];    /* the spec's field concerned, "#N" for the Nth key
			 * when it is unknown, or "" */
	char message[256]; /* what went wrong, for the user */
};

/* Parse data as one JSON object (no trailing garbage, depth-limited).
 * Returns a new reference, or NULL with *p filled. */
json_t *claw_json_parse_object(const char *data, size_t len,
			       struct claw_json_problem *p);

/* Check obj against fields (terminated by a {NULL} entry). Returns 0 or -1
 * with *p filled; outputs may be partly written on failure. */
int claw_json_unpack(const json_t *obj, const struct claw_json_field *fields,
		     struct claw_json_problem *p);

/* Serialise compactly; caller frees. NULL only on allocation failure. */
char *claw_json_dumps(const json_t *v);

#endif
