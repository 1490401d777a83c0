/*
 * resources_page.h - one page of a list read, as the resources' and
 * templates' list endpoints answer it (and as every list handler of the
 * API does by hand today: a candidate for requests.h).
 */
#ifndef CP_RESOURCES_PAGE_H
#define CP_RESOURCES_PAGE_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "cp.h"

struct cp_page {
	int def, max;                    /* ?limit= default and ceiling */
	bool (*cursor_ok)(const char *); /* a well-formed ?cursor= */
	/* Read limit rows (one more than the page) after cursor (NULL: from
	 * the first) on c. */
	enum claw_rc (*read)(PGconn *c, const char *cursor, int limit,
			     void *cls, PGresult **rows);
	json_t *(*row_json)(const PGresult *rows, int i);
	int cursor_col; /* the column next_cursor comes from */
};

/* Parse ?limit= and ?cursor= (400 invalid_parameter), run p->read on a
 * pooled connection (503 when none; store failures as cp_reply_rc) and
 * reply the page (cp_reply_rows). */
void cp_reply_list(struct claw_http_req *req, struct cp_ctx *ctx,
		   const struct cp_page *p, void *cls);

#endif
