/*
 * json.c - parse request bodies and check objects against field specs.
 *
 * What a client sent is never quoted back: a syntax error keeps jansson's
 * reason without the text it quotes, and an unknown key is named by its
 * position in the object ("unknown field #3"), never by its bytes (a
 * value sent as a key, a secret pasted into the wrong place, must not
 * reach the error or the log). The names the spec accepts are listed
 * instead: they are ours.
 */
#include "claw/json.h"

#include <stdio.h>
#include <string.h>

static void problem(struct claw_json_problem *p, enum claw_http_error e,
		    const char *field, const char *fmt, const char *arg)
{
	p->error = e;
	snprintf(p->field, sizeof(p->field), "%s", field ? field : "");
	snprintf(p->message, sizeof(p->message), fmt, arg ? arg : "");
}

json_t *claw_json_parse_object(const char *data, size_t len,
			       struct claw_json_problem *p)
{
	json_error_t err;
	json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
	if (!v) {
		/* jansson's text may quote the input after " near ": the
		 * body can hold a secret, so only the reason is kept. */
		char reason[160], msg[200];
		snprintf(reason, sizeof(reason), "%s", err.text);
		char *near = strstr(reason, " near ");
		if (near)
			*near = '\0';
		snprintf(msg, sizeof(msg), "%s at line %d column %d", reason,
			 err.line, err.column);
		problem(p, CLAW_HE_BAD_JSON, NULL,
			"the body is not valid JSON: %s", msg);
		return NULL;
	}
	if (!json_is_object(v)) {
		json_decref(v);
		problem(p, CLAW_HE_BAD_JSON, NULL,
			"the body must be a JSON object%s", "");
		return NULL;
	}
	return v;
}

static const char *type_name(enum claw_json_type t)
{
	switch (t) {
	case CLAW_JSON_STRING:
		return "a string";
	case CLAW_JSON_INT:
		return "an integer";
	case CLAW_JSON_BOOL:
		return "a boolean";
	case CLAW_JSON_OBJECT:
		return "an object";
	case CLAW_JSON_ARRAY:
		return "an array";
	case CLAW_JSON_ANY:
		return "a value";
	}
	return "a value";
}

static int field_take(const struct claw_json_field *f, json_t *v,
		      struct claw_json_problem *p)
{
	switch (f->type) {
	case CLAW_JSON_STRING: {
		if (!json_is_string(v))
			break;
		size_t n = json_string_length(v);
		const char *s = json_string_value(v);
		if (memchr(s, '\0', n)) {
			problem(p, CLAW_HE_INVALID_FIELD, f->name,
				"field '%s' must not contain NUL characters",
				f->name);
			return -1;
		}
		if (f->max_len && n > f->max_len) {
			char m[160];
			snprintf(m, sizeof(m),
				 "field '%s' is longer than %zu bytes", f->name,
				 f->max_len);
			problem(p, CLAW_HE_INVALID_FIELD, f->name, "%s", m);
			return -1;
		}
		*(const char **)f->out = s;
		return 0;
	}
	case CLAW_JSON_INT:
		if (!json_is_integer(v))
			break;
		*(json_int_t *)f->out = json_integer_value(v);
		return 0;
	case CLAW_JSON_BOOL:
		if (!json_is_boolean(v))
			break;
		*(bool *)f->out = json_is_true(v);
		return 0;
	case CLAW_JSON_OBJECT:
		if (!json_is_object(v))
			break;
		*(json_t **)f->out = v;
		return 0;
	case CLAW_JSON_ARRAY:
		if (!json_is_array(v))
			break;
		*(json_t **)f->out = v;
		return 0;
	case CLAW_JSON_ANY:
		if (json_is_null(v))
			break;
		*(json_t **)f->out = v;
		return 0;
	}
	char m[160];
	snprintf(m, sizeof(m), "field '%s' must be %s", f->name,
		 type_name(f->type));
	problem(p, CLAW_HE_INVALID_FIELD, f->name, "%s", m);
	return -1;
}

/* Key number pos (from 1) of the object is not in fields. */
static void unknown_field(struct claw_json_problem *p,
			  const struct claw_json_field *fields, size_t pos)
{
	char at[24];
	size_t len;
	snprintf(at, sizeof(at), "#%zu", pos);
	p->error = CLAW_HE_UNKNOWN_FIELD;
	snprintf(p->field, sizeof(p->field), "%s", at);
	len = (size_t)snprintf(p->message, sizeof(p->message),
			       "unknown field %s (key number %zu of the "
			       "object); accepted:",
			       at, pos);
	for (const struct claw_json_field *f = fields; f->name; f++) {
		size_t need = strlen(f->name) + 2; /* " name" or "," */
		if (len + need + 4 >= sizeof(p->message)) {
			snprintf(p->message + len, sizeof(p->message) - len,
				 " ...");
			return;
		}
		len += (size_t)snprintf(p->message + len,
					sizeof(p->message) - len, "%s %s",
					f == fields ? "" : ",", f->name);
	}
	if (fields->name == NULL)
		snprintf(p->message + len, sizeof(p->message) - len, " none");
}

int claw_json_unpack(const json_t *obj, const struct claw_json_field *fields,
		     struct claw_json_problem *p)
{
	const char *key;
	json_t *v;
	size_t pos = 0;
	if (!json_is_object(obj)) {
		problem(p, CLAW_HE_BAD_JSON, NULL, "expected a JSON object%s",
			"");
		return -1;
	}
	/* jansson keeps the keys in the order they were parsed */
	json_object_foreach((json_t *)obj, key, v) {
		const struct claw_json_field *f = fields;
		pos++;
		while (f->name && strcmp(f->name, key) != 0)
			f++;
		if (!f->name) {
			unknown_field(p, fields, pos);
			return -1;
		}
	}
	for (const struct claw_json_field *f = fields; f->name; f++) {
		v = json_object_get(obj, f->name);
		if (!v) {
			if (f->required) {
				problem(p, CLAW_HE_MISSING_FIELD, f->name,
					"missing required field '%s'", f->name);
				return -1;
			}
			continue;
		}
		if (field_take(f, v, p))
			return -1;
	}
	return 0;
}

char *claw_json_dumps(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
}
