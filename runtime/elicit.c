/*
 * elicit.c - the elicitation schema, answers checked against it, the
 * question as text and chat answers read back; see elicit.h.
 *
 * A property's kind is decided once (kind_of): text, choice (string with
 * enum or oneOf), number, integer, boolean or choices (array). Every
 * check below works from that kind, so the schema check, the content
 * check, the question and the answer parser agree on what a field is.
 */
#include "elicit.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "claw/buf.h"

enum kind {
	K_BAD,
	K_TEXT,
	K_CHOICE,
	K_NUMBER,
	K_INTEGER,
	K_BOOLEAN,
	K_CHOICES,
};

static const char *const formats[] = {"email", "uri", "date", "date-time",
				      NULL};

/* The option list of a choice field: enum (strings) or oneOf/anyOf
 * ([{const, title}]); borrowed, or NULL. */
static json_t *options_of(json_t *prop, enum kind k)
{
	json_t *src = prop;
	if (k == K_CHOICES)
		src = json_object_get(prop, "items");
	json_t *e = json_object_get(src, "enum");
	if (e)
		return e;
	e = json_object_get(src, k == K_CHOICES ? "anyOf" : "oneOf");
	return e;
}

/* An option's value (a string in enum, or an object's "const"). */
static const char *option_value(json_t *opt)
{
	if (json_is_string(opt))
		return json_string_value(opt);
	return json_string_value(json_object_get(opt, "const"));
}

static const char *option_title(json_t *opt)
{
	return json_string_value(json_object_get(opt, "title"));
}

static enum kind kind_of(json_t *prop)
{
	const char *t = json_string_value(json_object_get(prop, "type"));
	if (!json_is_object(prop) || !t)
		return K_BAD;
	if (strcmp(t, "string") == 0)
		return json_object_get(prop, "enum") ||
				json_object_get(prop, "oneOf")
			? K_CHOICE
			: K_TEXT;
	if (strcmp(t, "number") == 0)
		return K_NUMBER;
	if (strcmp(t, "integer") == 0)
		return K_INTEGER;
	if (strcmp(t, "boolean") == 0)
		return K_BOOLEAN;
	if (strcmp(t, "array") == 0)
		return K_CHOICES;
	return K_BAD;
}

static bool is_count(json_t *v)
{
	return !v || (json_is_integer(v) && json_integer_value(v) >= 0);
}

static bool is_num(json_t *v)
{
	return !v || json_is_number(v);
}

/* The options of a choice field are 1..RT_ELICIT_MAX_CHOICES strings or
 * {const: string, title: string}. */
static bool options_ok(json_t *opts)
{
	size_t i, n = json_array_size(opts);
	json_t *o;
	if (!json_is_array(opts) || n == 0 || n > RT_ELICIT_MAX_CHOICES)
		return false;
	json_array_foreach(opts, i, o) {
		if (!option_value(o))
			return false;
		if (json_is_object(o) &&
		    !json_is_string(json_object_get(o, "title")))
			return false;
	}
	return true;
}

static bool option_find(json_t *opts, const char *v)
{
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		const char *ov = option_value(o);
		if (ov && strcmp(ov, v) == 0)
			return true;
	}
	return false;
}

/* One property's definition; CLAW_ERR_INVALID with err set. */
static enum claw_rc prop_check(const char *name, json_t *p, char *err,
			       size_t errlen)
{
	enum kind k = kind_of(p);
	json_t *def = json_object_get(p, "default");
	json_t *t = json_object_get(p, "title");
	json_t *d = json_object_get(p, "description");
	const char *why = NULL;
	if (k == K_BAD)
		why = "has no type this client knows (string, number, "
		      "integer, boolean or an array of choices)";
	else if ((t && !json_is_string(t)) || (d && !json_is_string(d)))
		why = "has a title or description that is not a string";
	if (why)
		goto bad;
	switch (k) {
	case K_TEXT: {
		json_t *fmt = json_object_get(p, "format");
		const char *const *f = formats;
		while (fmt && *f &&
		       strcmp(*f,
			      json_string_value(fmt) ? json_string_value(fmt)
						     : "") != 0)
			f++;
		if (!is_count(json_object_get(p, "minLength")) ||
		    !is_count(json_object_get(p, "maxLength")))
			why = "has a bad minLength or maxLength";
		else if (fmt && !*f)
			why = "has a format this client does not know";
		else if (def && !json_is_string(def))
			why = "has a default that is not a string";
		break;
	}
	case K_CHOICE: {
		json_t *opts = options_of(p, k);
		json_t *names = json_object_get(p, "enumNames");
		if (!options_ok(opts))
			why = "has a bad list of choices";
		else if (names &&
			 (!json_is_array(names) ||
			  json_array_size(names) != json_array_size(opts)))
			why = "has enumNames that do not match its choices";
		else if (def &&
			 (!json_is_string(def) ||
			  !option_find(opts, json_string_value(def))))
			why = "has a default that is not one of its choices";
		break;
	}
	case K_NUMBER:
	case K_INTEGER:
		if (!is_num(json_object_get(p, "minimum")) ||
		    !is_num(json_object_get(p, "maximum")))
			why = "has a bad minimum or maximum";
		else if (def && !json_is_number(def))
			why = "has a default that is not a number";
		break;
	case K_BOOLEAN:
		if (def && !json_is_boolean(def))
			why = "has a default that is not true or false";
		break;
	case K_CHOICES: {
		json_t *opts = options_of(p, k);
		json_t *d2;
		size_t i;
		if (!json_is_object(json_object_get(p, "items")) ||
		    !options_ok(opts))
			why = "has a bad list of choices in items";
		else if (!is_count(json_object_get(p, "minItems")) ||
			 !is_count(json_object_get(p, "maxItems")))
			why = "has a bad minItems or maxItems";
		else if (def && !json_is_array(def))
			why = "has a default that is not a list";
		json_array_foreach(def, i, d2)
			if (!why &&
			    (!json_is_string(d2) ||
			     !option_find(opts, json_string_value(d2))))
				why = "has a default that is not among its "
				      "choices";
		break;
	}
	default:
		break;
	}
	if (!why)
		return CLAW_OK;
bad:
	snprintf(err, errlen, "field '%.64s' %s", name, why);
	return CLAW_ERR_INVALID;
}

enum claw_rc rt_elicit_schema_check(json_t *schema, char *err, size_t errlen)
{
	const char *type = json_string_value(json_object_get(schema, "type"));
	json_t *props = json_object_get(schema, "properties");
	json_t *req = json_object_get(schema, "required"), *v;
	const char *k;
	size_t i;
	if (!json_is_object(schema) || !type || strcmp(type, "object") != 0) {
		snprintf(err, errlen,
			 "the requested schema is not of type "
			 "object");
		return CLAW_ERR_INVALID;
	}
	if (!json_is_object(props) ||
	    json_object_size(props) > RT_ELICIT_MAX_FIELDS) {
		snprintf(err, errlen,
			 "the requested schema needs an object of at most %d "
			 "properties",
			 RT_ELICIT_MAX_FIELDS);
		return CLAW_ERR_INVALID;
	}
	json_object_foreach(props, k, v) {
		if (!k[0] || strlen(k) > 64) {
			snprintf(err, errlen,
				 "a field name is empty or too long");
			return CLAW_ERR_INVALID;
		}
		enum claw_rc rc = prop_check(k, v, err, errlen);
		if (rc)
			return rc;
	}
	if (req && !json_is_array(req)) {
		snprintf(err, errlen, "required is not a list");
		return CLAW_ERR_INVALID;
	}
	json_array_foreach(req, i, v) {
		if (!json_is_string(v) ||
		    !json_object_get(props, json_string_value(v))) {
			snprintf(err, errlen,
				 "required names a field the schema does not "
				 "have");
			return CLAW_ERR_INVALID;
		}
	}
	return CLAW_OK;
}

/* Characters (not bytes) of UTF-8 text. */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* YYYY-MM-DD with a month 01-12 and a day 01-31. */
static bool is_date(const char *s)
{
	if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' ||
	    !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return false;
	int mo = (s[5] - '0') * 10 + (s[6] - '0');
	int d = (s[8] - '0') * 10 + (s[9] - '0');
	return mo >= 1 && mo <= 12 && d >= 1 && d <= 31;
}

/* RFC 3339: a date, T, hh:mm:ss, optional fraction, Z or +hh:mm. */
static bool is_date_time(const char *s)
{
	if (!is_date(s) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return false;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return false;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z')
		return p[1] == '\0';
	return (*p == '+' || *p == '-') && digits(p + 1, 2) && p[3] == ':' &&
		digits(p + 4, 2) && p[6] == '\0';
}

static bool is_email(const char *s)
{
	const char *at = strchr(s, '@');
	return at && at != s && at[1] && !strchr(at + 1, '@') &&
		strchr(at + 1, '.') && !strpbrk(s, " \t\r\n<>");
}

/* scheme ":" rest, the scheme a letter then letters, digits, + - . */
static bool is_uri(const char *s)
{
	const char *p = s;
	if (!isalpha((unsigned char)*p))
		return false;
	while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' ||
	       *p == '.')
		p++;
	return *p == ':' && p[1] && !strpbrk(s, " \t\r\n");
}

static bool format_ok(const char *fmt, const char *s)
{
	if (strcmp(fmt, "email") == 0)
		return is_email(s);
	if (strcmp(fmt, "uri") == 0)
		return is_uri(s);
	if (strcmp(fmt, "date") == 0)
		return is_date(s) && s[10] == '\0';
	return is_date_time(s);
}

/* One value against its property; CLAW_ERR_INVALID with err set. The
 * value may be replaced in content (an integral real for an integer). */
static enum claw_rc value_check(json_t *content, const char *name, json_t *p,
				json_t *v, char *err, size_t errlen)
{
	enum kind k = kind_of(p);
	const char *why = NULL;
	char buf[160];
	switch (k) {
	case K_TEXT: {
		const char *s = json_string_value(v);
		json_t *mn = json_object_get(p, "minLength");
		json_t *mx = json_object_get(p, "maxLength");
		const char *fmt =
			json_string_value(json_object_get(p, "format"));
		if (!s || strlen(s) != json_string_length(v)) {
			why = "must be text";
			break;
		}
		size_t n = utf8_chars(s);
		if (json_string_length(v) > RT_ELICIT_MAX_TEXT)
			why = "is too long";
		else if (mn && n < (size_t)json_integer_value(mn)) {
			snprintf(buf, sizeof(buf),
				 "must be at least %lld characters",
				 (long long)json_integer_value(mn));
			why = buf;
		} else if (mx && n > (size_t)json_integer_value(mx)) {
			snprintf(buf, sizeof(buf),
				 "must be at most %lld characters",
				 (long long)json_integer_value(mx));
			why = buf;
		} else if (fmt && !format_ok(fmt, s)) {
			snprintf(buf, sizeof(buf), "must be a valid %s", fmt);
			why = buf;
		}
		break;
	}
	case K_CHOICE:
		if (!json_is_string(v) ||
		    !option_find(options_of(p, k), json_string_value(v)))
			why = "must be one of the choices";
		break;
	case K_INTEGER:
		if (json_is_real(v) &&
		    floor(json_real_value(v)) == json_real_value(v) &&
		    fabs(json_real_value(v)) < 9e15) {
			json_object_set_new(
				content, name,
				json_integer((json_int_t)json_real_value(v)));
			v = json_object_get(content, name);
		}
		if (!json_is_integer(v)) {
			why = "must be a whole number";
			break;
		}
		__attribute__((fallthrough)); /* to the bounds */
	case K_NUMBER: {
		json_t *mn = json_object_get(p, "minimum");
		json_t *mx = json_object_get(p, "maximum");
		if (!json_is_number(v)) {
			why = "must be a number";
			break;
		}
		double x = json_number_value(v);
		if (mn && x < json_number_value(mn)) {
			snprintf(buf, sizeof(buf), "must be at least %g",
				 json_number_value(mn));
			why = buf;
		} else if (mx && x > json_number_value(mx)) {
			snprintf(buf, sizeof(buf), "must be at most %g",
				 json_number_value(mx));
			why = buf;
		}
		break;
	}
	case K_BOOLEAN:
		if (!json_is_boolean(v))
			why = "must be true or false";
		break;
	case K_CHOICES: {
		json_t *opts = options_of(p, k), *x;
		json_t *mn = json_object_get(p, "minItems");
		json_t *mx = json_object_get(p, "maxItems");
		size_t i, n = json_array_size(v);
		if (!json_is_array(v) || n > RT_ELICIT_MAX_CHOICES) {
			why = "must be a list of choices";
			break;
		}
		json_array_foreach(v, i, x) {
			if (!json_is_string(x) ||
			    !option_find(opts, json_string_value(x))) {
				why = "must hold only the listed choices";
				break;
			}
			for (size_t j = 0; j < i; j++)
				if (json_equal(json_array_get(v, j), x))
					why = "names a choice twice";
		}
		if (why)
			break;
		if (mn && n < (size_t)json_integer_value(mn)) {
			snprintf(buf, sizeof(buf),
				 "needs at least %lld choices",
				 (long long)json_integer_value(mn));
			why = buf;
		} else if (mx && n > (size_t)json_integer_value(mx)) {
			snprintf(buf, sizeof(buf), "takes at most %lld choices",
				 (long long)json_integer_value(mx));
			why = buf;
		}
		break;
	}
	default:
		why = "has no known type";
	}
	if (!why)
		return CLAW_OK;
	snprintf(err, errlen, "'%.64s' %s", name, why);
	return CLAW_ERR_INVALID;
}

static bool is_required(json_t *schema, const char *name)
{
	json_t *v;
	size_t i;
	json_array_foreach(json_object_get(schema, "required"), i, v)
		if (strcmp(json_string_value(v), name) == 0)
			return true;
	return false;
}

enum claw_rc rt_elicit_content_check(json_t *schema, json_t *content, char *err,
				     size_t errlen)
{
	json_t *props = json_object_get(schema, "properties"), *p, *v;
	const char *k;
	if (!json_is_object(content)) {
		snprintf(err, errlen, "the answer is not an object");
		return CLAW_ERR_INVALID;
	}
	json_object_foreach(content, k, v)
		if (!json_object_get(props, k)) {
			snprintf(err, errlen,
				 "'%.64s' is not a field of this form", k);
			return CLAW_ERR_INVALID;
		}
	json_object_foreach(props, k, p) {
		json_t *def = json_object_get(p, "default");
		v = json_object_get(content, k);
		if (!v && def) {
			json_object_set(content, k, def);
			v = def;
		}
		if (!v) {
			if (is_required(schema, k)) {
				snprintf(err, errlen, "'%.64s' is required", k);
				return CLAW_ERR_INVALID;
			}
			continue;
		}
		enum claw_rc rc = value_check(content, k, p, v, err, errlen);
		if (rc)
			return rc;
	}
	return CLAW_OK;
}

/* ---- the question as chat text */

static const char *kind_name(enum kind k)
{
	switch (k) {
	case K_TEXT:
		return "text";
	case K_CHOICE:
		return "one of";
	case K_NUMBER:
		return "a number";
	case K_INTEGER:
		return "a whole number";
	case K_BOOLEAN:
		return "yes or no";
	case K_CHOICES:
		return "any of";
	default:
		return "?";
	}
}

static void put_options(struct claw_buf *b, json_t *opts)
{
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		const char *t = option_title(o);
		claw_buf_printf(b, "%s%s", i ? ", " : " ", option_value(o));
		if (t && strcmp(t, option_value(o)) != 0)
			claw_buf_printf(b, " (%s)", t);
	}
}

char *rt_elicit_question(const char *server, const char *message,
			 json_t *schema)
{
	struct claw_buf b;
	json_t *props = json_object_get(schema, "properties"), *p;
	const char *k;
	size_t n = json_object_size(props);
	claw_buf_init(&b, 0);
	claw_buf_printf(&b, "The tool server '%s' asks: %s", server, message);
	if (n)
		claw_buf_puts(&b, "\n");
	json_object_foreach(props, k, p) {
		enum kind kd = kind_of(p);
		const char *t = json_string_value(json_object_get(p, "title"));
		const char *d =
			json_string_value(json_object_get(p, "description"));
		json_t *def = json_object_get(p, "default");
		claw_buf_printf(&b, "\n- %s", k);
		if (t && strcmp(t, k) != 0)
			claw_buf_printf(&b, " (%s)", t);
		claw_buf_printf(&b, ": %s", kind_name(kd));
		if (kd == K_CHOICE || kd == K_CHOICES)
			put_options(&b, options_of(p, kd));
		if (d)
			claw_buf_printf(&b, "; %s", d);
		if (is_required(schema, k))
			claw_buf_puts(&b, "; required");
		if (def) {
			char *s = json_dumps(def, JSON_ENCODE_ANY);
			claw_buf_printf(&b, "; default %s", s ? s : "");
			free(s);
		}
	}
	if (n == 0)
		claw_buf_puts(&b, "\n\nReply \"yes\" to confirm");
	else if (n == 1)
		claw_buf_puts(&b, "\n\nReply with the value");
	else
		claw_buf_puts(&b,
			      "\n\nReply with one \"field: value\" line "
			      "per field (fields left out take their "
			      "default)");
	claw_buf_puts(&b, ", \"/decline\" to refuse, or \"/cancel\".");
	return claw_buf_steal(&b);
}

/* ---- chat answers */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* The option whose value or title is s (any case), or NULL. */
static const char *option_match(json_t *opts, const char *s)
{
	size_t i;
	json_t *o;
	json_array_foreach(opts, i, o) {
		const char *v = option_value(o), *t = option_title(o);
		if ((v && strcasecmp(v, s) == 0) ||
		    (t && strcasecmp(t, s) == 0))
			return v;
	}
	return NULL;
}

/* One field's text converted to its type (new reference), or NULL with
 * err set. */
static json_t *convert(const char *name, json_t *p, char *text, char *err,
		       size_t errlen)
{
	enum kind k = kind_of(p);
	char *s = trim(text), *end;
	const char *why = "could not be read";
	switch (k) {
	case K_TEXT: {
		json_t *v = json_string(s);
		if (v)
			return v;
		why = "is not valid UTF-8 text";
		break;
	}
	case K_CHOICE: {
		const char *v = option_match(options_of(p, k), s);
		if (v)
			return json_string(v);
		why = "is not one of the choices";
		break;
	}
	case K_INTEGER: {
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (*s && !*end && !errno)
			return json_integer((json_int_t)x);
		why = "is not a whole number";
		break;
	}
	case K_NUMBER: {
		errno = 0;
		double x = strtod(s, &end);
		if (*s && !*end && !errno && isfinite(x))
			return json_real(x);
		why = "is not a number";
		break;
	}
	case K_BOOLEAN: {
		static const char *const yes[] = {"yes", "y",  "true",
						  "1",   "on", NULL};
		static const char *const no[] = {"no", "n",   "false",
						 "0",  "off", NULL};
		for (const char *const *w = yes; *w; w++)
			if (strcasecmp(s, *w) == 0)
				return json_true();
		for (const char *const *w = no; *w; w++)
			if (strcasecmp(s, *w) == 0)
				return json_false();
		why = "is not yes or no";
		break;
	}
	case K_CHOICES: {
		json_t *list = json_array();
		char *save = NULL;
		for (char *tok = strtok_r(s, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			char *t = trim(tok);
			if (!*t)
				continue;
			const char *v = option_match(options_of(p, k), t);
			if (!v) {
				json_decref(list);
				snprintf(err, errlen,
					 "'%.64s': '%.64s' is not one of the "
					 "choices",
					 name, t);
				return NULL;
			}
			json_array_append_new(list, json_string(v));
		}
		return list;
	}
	default:
		break;
	}
	snprintf(err, errlen, "'%.64s' %s", name, why);
	return NULL;
}

/* The property called s by name or title (any case): its name, or NULL. */
static const char *field_match(json_t *props, const char *s)
{
	const char *k;
	json_t *p;
	json_object_foreach(props, k, p) {
		const char *t = json_string_value(json_object_get(p, "title"));
		if (strcasecmp(k, s) == 0 || (t && strcasecmp(t, s) == 0))
			return k;
	}
	return NULL;
}

enum claw_rc rt_elicit_parse_answer(json_t *schema, const char *text,
				    json_t **content, char *err, size_t errlen)
{
	json_t *props = json_object_get(schema, "properties");
	size_t n = json_object_size(props);
	enum claw_rc rc = CLAW_ERR_INVALID;
	char *copy = strdup(text ? text : ""), *s;
	*content = NULL;
	if (!copy) {
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	s = trim(copy);
	json_t *out = NULL;
	if (*s == '{') {
		out = json_loads(s, 0, NULL);
		if (!json_is_object(out)) {
			snprintf(err, errlen,
				 "the answer is not a JSON object");
			goto out;
		}
	} else if (n == 0) {
		if (!*s || strcasecmp(s, "yes") == 0 ||
		    strcasecmp(s, "y") == 0 || strcasecmp(s, "ok") == 0) {
			out = json_object();
		} else {
			snprintf(err, errlen, "reply \"yes\" to confirm");
			goto out;
		}
	} else if (n == 1) {
		void *it = json_object_iter(props);
		const char *k = json_object_iter_key(it);
		json_t *v =
			convert(k, json_object_iter_value(it), s, err, errlen);
		if (!v)
			goto out;
		out = json_object();
		json_object_set_new(out, k, v);
	} else {
		char *save = NULL;
		out = json_object();
		for (char *line = strtok_r(s, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			char *colon = strchr(line, ':');
			if (!*trim(line))
				continue;
			if (!colon) {
				snprintf(err, errlen,
					 "'%.64s' is not a \"field: value\" "
					 "line",
					 trim(line));
				goto out;
			}
			*colon = '\0';
			const char *k = field_match(props, trim(line));
			if (!k) {
				snprintf(err, errlen,
					 "there is no field '%.64s'",
					 trim(line));
				goto out;
			}
			json_t *v = convert(k, json_object_get(props, k),
					    colon + 1, err, errlen);
			if (!v)
				goto out;
			json_object_set_new(out, k, v);
		}
	}
	*content = out;
	out = NULL;
	rc = CLAW_OK;
out:
	json_decref(out);
	free(copy);
	return rc;
}
