/*
 * output.c - how clawctl prints replies: "--output json" prints the API's
 * JSON pretty-printed (stable for scripts); "--output table" prints lists
 * as aligned columns with upper-case headers and objects as "key: value"
 * lines, for people.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#define CLI_CELL_MAX 72 /* longer table cells are cut with "..." */

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

void cli_cell(const json_t *v, char *out, size_t outlen)
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
	if (strlen(out) > CLI_CELL_MAX && outlen > CLI_CELL_MAX)
		memcpy(out + CLI_CELL_MAX - 3, "...", 4);
}

static void put_cell(FILE *f, const char *s, size_t w, bool last)
{
	if (last)
		fprintf(f, "%s\n", s);
	else
		fprintf(f, "%-*s  ", (int)w, s);
}

int cli_print_table(FILE *f, const json_t *items, const struct cli_col *cols,
		    size_t ncols)
{
	size_t rows = json_array_size(items);
	size_t *w = calloc(ncols, sizeof(*w));
	char *cells = NULL;

	if (!w)
		return -1;
	if (rows) {
		cells = calloc(rows * ncols, CLI_CELL_MAX + 1);
		if (!cells) {
			free(w);
			return -1;
		}
	}
	for (size_t c = 0; c < ncols; c++)
		w[c] = strlen(cols[c].header);
	for (size_t r = 0; r < rows; r++) {
		for (size_t c = 0; c < ncols; c++) {
			char *cell =
				cells + (r * ncols + c) * (CLI_CELL_MAX + 1);

			cli_cell(cli_path_get(json_array_get(items, r),
					      cols[c].key),
				 cell, CLI_CELL_MAX + 1);
			if (strlen(cell) > w[c])
				w[c] = strlen(cell);
		}
	}
	for (size_t c = 0; c < ncols; c++)
		put_cell(f, cols[c].header, w[c], c + 1 == ncols);
	for (size_t r = 0; r < rows; r++)
		for (size_t c = 0; c < ncols; c++)
			put_cell(f,
				 cells + (r * ncols + c) * (CLI_CELL_MAX + 1),
				 w[c], c + 1 == ncols);
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

int cli_print_reply(struct cli_ctx *ctx, json_t *reply,
		    const struct cli_col *cols, size_t ncols)
{
	json_t *items;
	const char *next;

	if (!reply)
		return CLI_OK;
	if (ctx->output == CLI_OUT_JSON) {
		cli_print_json(ctx->out, reply);
		return CLI_OK;
	}
	items = cols ? cli_list_items(reply) : NULL;
	if (!items) {
		cli_print_object(ctx->out, reply);
		return CLI_OK;
	}
	if (cli_print_table(ctx->out, items, cols, ncols)) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	next = cli_list_next(reply);
	if (next)
		fprintf(ctx->err, "more: repeat with --cursor %s\n", next);
	return CLI_OK;
}
