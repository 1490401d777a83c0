/*
 * output.c - how clawctl prints replies: "--output json" prints the API's
 * JSON pretty-printed (stable for scripts); "--output table" prints lists
 * as aligned columns with upper-case headers and objects as "key: value"
 * lines, for people. "--output wide" is the table with every scalar field
 * of the items as a column and no cell cut; "--output yaml" is the JSON
 * reply as YAML, emitted here from the jansson value (no YAML library):
 * block style, and a string double-quoted whenever a YAML 1.1 or 1.2
 * reader could take it for anything but that string (a number, a bool,
 * null, a date, an indicator, a comment, a line break).
 */
#include "cli.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CLI_CELL_MAX 72   /* longer table cells are cut with "..." */
#define CLI_WIDE_MAX 1024 /* the cut of a wide table */

json_t *cli_list_items(json_t *reply)
{
	json_t *items;

	if (json_is_array(reply))
		return reply;
	items = json_object_get(reply, "items");
	return json_is_array(items) ? items : NULL;
}

const char *cli_list_next(json_t *reply)
{
	const char *s =
		json_string_value(json_object_get(reply, "next_cursor"));

	return s && *s ? s : NULL;
}

json_t *cli_path_get(const json_t *obj, const char *path)
{
	const json_t *v = obj;
	const char *p = path;

	while (v && *p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);

		if (!json_is_object(v))
			return NULL;
		v = json_object_getn(v, p, len);
		p += len;
		if (*p == '.')
			p++;
	}
	return (json_t *)v;
}

/* cli_cell with cells longer than max cut (max 0: no cut). */
static void cell_cut(const json_t *v, char *out, size_t outlen, size_t max);

void cli_cell(const json_t *v, char *out, size_t outlen)
{
	cell_cut(v, out, outlen, CLI_CELL_MAX);
}

static void cell_cut(const json_t *v, char *out, size_t outlen, size_t max)
{
	char *dump;

	if (!outlen)
		return;
	switch (v ? json_typeof(v) : JSON_NULL) {
	case JSON_STRING:
		snprintf(out, outlen, "%s", json_string_value(v));
		break;
	case JSON_INTEGER:
		snprintf(out, outlen, "%" JSON_INTEGER_FORMAT,
			 json_integer_value(v));
		break;
	case JSON_REAL:
		snprintf(out, outlen, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		snprintf(out, outlen, "true");
		break;
	case JSON_FALSE:
		snprintf(out, outlen, "false");
		break;
	case JSON_NULL:
		snprintf(out, outlen, "-");
		break;
	default:
		dump = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		snprintf(out, outlen, "%s", dump ? dump : "?");
		free(dump);
		break;
	}
	/* One line per row: control characters would break the table. */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	if (max && strlen(out) > max && outlen > max)
		memcpy(out + max - 3, "...", 4);
}

static void put_cell(FILE *f, const char *s, size_t w, bool last)
{
	if (last)
		fprintf(f, "%s\n", s);
	else
		fprintf(f, "%-*s  ", (int)w, s);
}

static int print_table(FILE *f, const json_t *items, const struct cli_col *cols,
		       size_t ncols, size_t max);

int cli_print_table(FILE *f, const json_t *items, const struct cli_col *cols,
		    size_t ncols)
{
	return print_table(f, items, cols, ncols, CLI_CELL_MAX);
}

/* The table with cells cut at max bytes. */
static int print_table(FILE *f, const json_t *items, const struct cli_col *cols,
		       size_t ncols, size_t max)
{
	size_t rows = json_array_size(items);
	size_t *w = calloc(ncols, sizeof(*w));
	char *cells = NULL;

	if (!w)
		return -1;
	if (rows) {
		cells = calloc(rows * ncols, max + 1);
		if (!cells) {
			free(w);
			return -1;
		}
	}
	for (size_t c = 0; c < ncols; c++)
		w[c] = strlen(cols[c].header);
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			char *cell = cells + (r * ncols + c) * (max + 1);

			cell_cut(cli_path_get(json_array_get(items, r),
					      cols[c].key),
				 cell, max + 1, max);
			if (strlen(cell) > w[c])
				w[c] = strlen(cell);
		}
	}
	for (size_t c = 0; c < ncols; c++)
		put_cell(f, cols[c].header, w[c], c + 1 == ncols);
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < ncols; c++)
			put_cell(f, cells + (r * ncols + c) * (max + 1), w[c],
				 c + 1 == ncols);
	free(cells);
	free(w);
	return 0;
}

void cli_print_object(FILE *f, const json_t *obj)
{
	const char *key;
	const json_t *v;
	size_t w = 0;
	char cell[CLI_CELL_MAX + 1];

	if (!json_is_object(obj)) {
		cli_print_json(f, obj);
		return;
	}
	json_object_foreach((json_t *)obj, key, v)
		if (strlen(key) > w)
			w = strlen(key);
	/* scalars first, then nested values, each in the reply's order */
	for (int pass = 0; pass < 2; pass++) {
		json_object_foreach((json_t *)obj, key, v) {
			bool nested = json_is_object(v) || json_is_array(v);

			if (nested != (pass == 1))
				continue;
			cli_cell(v, cell, sizeof(cell));
			fprintf(f, "%s:%*s %s\n", key, (int)(w - strlen(key)),
				"", cell);
		}
	}
}

void cli_print_json(FILE *f, const json_t *v)
{
	json_dumpf(v, f, JSON_INDENT(2) | JSON_ENCODE_ANY);
	fputc('\n', f);
}

static bool is_col(const struct cli_col *cols, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(cols[i].key, key))
			return true;
	return false;
}

struct cli_col *cli_wide_cols(const json_t *items, const struct cli_col *cols,
			      size_t ncols, struct claw_buf *names, size_t *n)
{
	json_t *seen = json_object(); /* key -> offset of its header */
	struct cli_col *all;
	const char *key;
	json_t *item, *v, *off;
	size_t i, k = ncols;

	if (!seen)
		return NULL;
	json_array_foreach((json_t *)items, i, item) {
		json_object_foreach(item, key, v) {
			if (json_is_object(v) || json_is_array(v) ||
			    json_object_get(seen, key) ||
			    is_col(cols, ncols, key))
				continue;
			json_object_set_new(
				seen, key,
				json_integer((json_int_t)names->len));
			for (const char *p = key; *p; p++) {
				char up = (char)toupper((unsigned char)*p);

				claw_buf_append(names, &up, 1);
			}
			/* then the key itself: "HEADER\0key\0" */
			claw_buf_append(names, "", 1);
			claw_buf_append(names, key, strlen(key) + 1);
		}
	}
	all = calloc(ncols + json_object_size(seen) + 1, sizeof(*all));
	if (all && names->data) {
		memcpy(all, cols, ncols * sizeof(*cols));
		json_object_foreach(seen, key, off) {
			const char *h =
				names->data + (size_t)json_integer_value(off);

			all[k].header = h;
			all[k++].key = h + strlen(h) + 1;
		}
	} else if (all) {
		memcpy(all, cols, ncols * sizeof(*cols));
	}
	*n = k;
	json_decref(seen);
	return all;
}

bool cli_out_machine(const struct cli_ctx *ctx)
{
	return ctx->output == CLI_OUT_JSON || ctx->output == CLI_OUT_YAML;
}

void cli_print_value(const struct cli_ctx *ctx, const json_t *v)
{
	if (ctx->output == CLI_OUT_YAML)
		cli_print_yaml(ctx->out, v);
	else
		cli_print_json(ctx->out, v);
}

/* The table of items as the context asks: wide or cut. */
static int print_items(struct cli_ctx *ctx, const json_t *items,
		       const struct cli_col *cols, size_t ncols)
{
	struct claw_buf names;
	struct cli_col *all;
	size_t n;
	int rc;

	if (ctx->output != CLI_OUT_WIDE)
		return cli_print_table(ctx->out, items, cols, ncols);
	claw_buf_init(&names, 0);
	all = cli_wide_cols(items, cols, ncols, &names, &n);
	rc = all ? print_table(ctx->out, items, all, n, CLI_WIDE_MAX) : -1;
	free(all);
	claw_buf_release(&names);
	return rc;
}

int cli_print_reply(struct cli_ctx *ctx, json_t *reply,
		    const struct cli_col *cols, size_t ncols)
{
	json_t *items;
	const char *next;

	if (!reply)
		return CLI_OK;
	if (cli_out_machine(ctx)) {
		cli_print_value(ctx, reply);
		return CLI_OK;
	}
	items = cols ? cli_list_items(reply) : NULL;
	if (!items) {
		cli_print_object(ctx->out, reply);
		return CLI_OK;
	}
	if (print_items(ctx, items, cols, ncols)) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	next = cli_list_next(reply);
	if (next)
		fprintf(ctx->err, "more: repeat with --cursor %s\n", next);
	return CLI_OK;
}

/* ---- YAML */

static bool yaml_reserved(const char *s)
{
	static const char *const words[] = {"null", "~",  "true", "false",
					    "yes",  "no", "on",   "off",
					    "y",    "n",  "=",    "<<"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	return false;
}

/* Whether s can stand as a plain scalar and read back as this string. */
static bool yaml_plain_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || yaml_reserved(s) || s[0] == ' ' || s[n - 1] == ' ' ||
	    s[n - 1] == ':' || strchr("-?:,[]{}#&*!|>'\"%@`.+", s[0]) ||
	    isdigit((unsigned char)s[0]) || strstr(s, ": ") || strstr(s, " #"))
		return false;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* controls, DEL, and the non-ASCII line breaks and BOM
		 * (U+0085, U+2028, U+2029, U+FEFF) */
		if (*p < 0x20 || *p == 0x7f || (p[0] == 0xc2 && p[1] == 0x85) ||
		    (p[0] == 0xe2 && p[1] == 0x80 &&
		     (p[2] == 0xa8 || p[2] == 0xa9)) ||
		    (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf))
			return false;
	}
	return true;
}

static void yaml_quoted(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\r')
			fputs("\\r", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02X", *p);
		else if (p[0] == 0xc2 && p[1] == 0x85)
			fputs("\\N", f), p++;
		else if (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xa8)
			fputs("\\L", f), p += 2;
		else if (p[0] == 0xe2 && p[1] == 0x80 && p[2] == 0xa9)
			fputs("\\P", f), p += 2;
		else if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
			fputs("\\uFEFF", f), p += 2;
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void yaml_string(FILE *f, const char *s)
{
	if (yaml_plain_ok(s))
		fputs(s, f);
	else
		yaml_quoted(f, s);
}

static bool yaml_block(const json_t *v)
{
	return (json_is_object(v) && json_object_size(v)) ||
		(json_is_array(v) && json_array_size(v));
}

/* A scalar, or an empty collection, on the current line. */
static void yaml_scalar(FILE *f, const json_t *v)
{
	char num[64];

	switch (json_typeof(v)) {
	case JSON_STRING:
		yaml_string(f, json_string_value(v));
		break;
	case JSON_REAL:
		snprintf(num, sizeof(num), "%.17g", json_real_value(v));
		/* keep it a float for the reader: 2.0, not 2 */
		fprintf(f, "%s%s", num, strpbrk(num, ".eEn") ? "" : ".0");
		break;
	case JSON_OBJECT:
		fputs("{}", f);
		break;
	case JSON_ARRAY:
		fputs("[]", f);
		break;
	default:
		cli_cell(v, num, sizeof(num));
		fputs(json_is_null(v) ? "null" : num, f);
		break;
	}
}

/* v at indent; the first line's indent is written by the caller (after
 * "- " or at the start). */
static void yaml_value(FILE *f, const json_t *v, int indent, bool first_done)
{
	const char *key;
	const json_t *m;
	size_t i;
	bool first = true;

	if (json_is_object(v) && json_object_size(v)) {
		json_object_foreach((json_t *)v, key, m) {
			if (!(first && first_done))
				fprintf(f, "%*s", indent, "");
			first = false;
			yaml_string(f, key);
			fputc(':', f);
			if (yaml_block(m)) {
				fputc('\n', f);
				yaml_value(f, m,
					   json_is_array(m) ? indent
							    : indent + 2,
					   false);
			} else {
				fputc(' ', f);
				yaml_scalar(f, m);
				fputc('\n', f);
			}
		}
	} else if (json_is_array(v) && json_array_size(v)) {
		json_array_foreach((json_t *)v, i, m) {
			if (!(first && first_done))
				fprintf(f, "%*s", indent, "");
			first = false;
			fputs("- ", f);
			if (yaml_block(m)) {
				yaml_value(f, m, indent + 2, true);
			} else {
				yaml_scalar(f, m);
				fputc('\n', f);
			}
		}
	} else {
		yaml_scalar(f, v);
		fputc('\n', f);
	}
}

void cli_print_yaml(FILE *f, const json_t *v)
{
	yaml_value(f, v, 0, false);
}
