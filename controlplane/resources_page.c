/*
 * resources_page.c - one page of a list read; see resources_page.h.
 */
#include "resources_page.h"

#include "errors.h"
#include "requests.h"

void cp_reply_list(struct claw_http_req *req, struct cp_ctx *ctx,
		   const struct cp_page *p, void *cls)
{
	const char *cursor;
	int limit;
	PGresult *rows = NULL;
	enum claw_rc rc;
	PGconn *c;

	if (!cp_list_query(req, p->def, p->max, p->cursor_ok, &limit,
			   &cursor)) {
		cp_reply_error(req, CP_E_INVALID_PARAMETER,
			       "limit must be 1 to %d, cursor a next_cursor "
			       "value",
			       p->max);
		return;
	}
	c = claw_db_acquire(ctx->db);
	rc = c ? p->read(c, cursor, limit + 1, cls, &rows) : CLAW_ERR_IO;
	if (c)
		claw_db_release(ctx->db, c);
	if (rc)
		cp_reply_rc(req, rc);
	else
		cp_reply_rows(req, rows, limit, p->cursor_col, p->row_json);
	PQclear(rows);
}
