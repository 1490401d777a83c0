/*
 * list.c - paginated list replies ({"items": [...], "next_cursor": ...}):
 * one page, or with --all every page merged into one list.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

static int fetch(struct cli_ctx *ctx, const struct claw_buf *path,
		 const char *cursor, json_t **reply)
{
	struct claw_buf p;
	struct cli_call c = {.method = "GET"};
	int ex;

	claw_buf_init(&p, 0);
	if (claw_buf_append(&p, path->data, path->len) ||
	    cli_query_add(&p, "cursor", cursor)) {
		claw_buf_release(&p);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	c.path = p.data;
	ex = cli_api(ctx, &c, reply, NULL, 0);
	claw_buf_release(&p);
	if (!ex && !cli_list_items(*reply)) {
		fprintf(ctx->err,
			"error: the control plane's reply holds no "
			"list of items; is --url a claw control plane?\n");
		json_decref(*reply);
		*reply = NULL;
		ex = CLI_ESERVER;
	}
	return ex;
}

/* Follow first's next_cursor to the end, every page's items appended to
 * first's. */
static int append_pages(struct cli_ctx *ctx, const struct claw_buf *path,
			json_t *first)
{
	const char *next;
	char *cur = NULL;
	json_t *page = NULL, *nc;
	bool oom = false;
	int ex = CLI_OK;

	while (!ex && (next = cli_list_next(first))) {
		free(cur);
		json_decref(page);
		page = NULL;
		cur = strdup(next);
		oom = !cur;
		ex = cur ? fetch(ctx, path, cur, &page) : CLI_ELOCAL;
		if (ex)
			break;
		nc = json_object_get(page, "next_cursor");
		if (json_array_extend(cli_list_items(first),
				      cli_list_items(page)) ||
		    (json_is_object(first) &&
		     json_object_set_new(first, "next_cursor",
					 nc ? json_incref(nc) : json_null())))
			oom = true;
		ex = oom ? CLI_ELOCAL : CLI_OK;
	}
	if (oom)
		fprintf(ctx->err, "error: out of memory\n");
	free(cur);
	json_decref(page);
	return ex;
}

int cli_list_collect(struct cli_ctx *ctx, const struct claw_buf *path,
		     const char *cursor, bool all, json_t **out)
{
	int ex = fetch(ctx, path, cursor, out);

	if (!ex && all)
		ex = append_pages(ctx, path, *out);
	if (ex) {
		json_decref(*out);
		*out = NULL;
	}
	return ex;
}

int cli_list_run(struct cli_ctx *ctx, const struct claw_buf *path,
		 const char *cursor, bool all, const struct cli_col *cols,
		 size_t ncols)
{
	json_t *reply = NULL;
	int ex = cli_list_collect(ctx, path, cursor, all, &reply);

	if (!ex)
		ex = cli_print_reply(ctx, reply, cols, ncols);
	json_decref(reply);
	return ex;
}

int cli_list_cmd(struct cli_ctx *ctx, const char *base_fmt, const char *arg,
		 const struct cli_filter *filters, size_t nf,
		 const struct cli_paging *pg, const struct cli_col *cols,
		 size_t ncols)
{
	struct claw_buf path;
	int rc, ex;

	claw_buf_init(&path, 0);
	rc = cli_pathf(&path, base_fmt, arg);
	for (size_t i = 0; i < nf && !rc; i++)
		rc = cli_query_add(&path, filters[i].key, filters[i].value);
	if (rc || cli_query_add(&path, "limit", pg->limit)) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	ex = cli_list_run(ctx, &path, pg->cursor, pg->all, cols, ncols);
	claw_buf_release(&path);
	return ex;
}

int cli_list_path_cmd(struct cli_ctx *ctx, int argc, char **argv,
		      const char *base_fmt, const char *usage, const char *help,
		      int nargs, bool paging, const struct cli_col *cols,
		      size_t ncols)
{
	struct cli_paging pg = {0};
	const struct cli_opt opts[] = {
		CLI_PAGING_OPTS(pg),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {usage, help, paging ? opts : NULL, nargs,
				      nargs};
	const char *pos[1] = {NULL};
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, pos, &ex))
		return ex;
	return cli_list_cmd(ctx, base_fmt, pos[0], NULL, 0, &pg, cols, ncols);
}
