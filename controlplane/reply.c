/*
 * reply.c - the error reply for a failed store call or tenant lookup, and
 * the reply of a list page.
 */
#include "cp.h"
#include "errors.h"

void cp_reply_rc(struct claw_http_req *req, enum claw_rc rc)
{
	switch (rc) {
	case CLAW_ERR_NOT_FOUND:
		claw_http_reply_std(req, CLAW_HE_NOT_FOUND, NULL);
		break;
	case CLAW_ERR_IO:
		claw_http_reply_std(req, CLAW_HE_UNAVAILABLE,
				    "the database is unreachable; retry "
				    "shortly");
		break;
	default:
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		break;
	}
}

void cp_reply_tenant_rc(struct claw_http_req *req, enum claw_rc rc)
{
	if (rc == CLAW_ERR_NOT_FOUND)
		cp_reply_error(req, CP_E_TENANT_NOT_FOUND, NULL);
	else
		cp_reply_rc(req, rc);
}

void cp_reply_page(struct claw_http_req *req, json_t *items,
		   const PGresult *rows, int limit, int cursor_col)
{
	int n = rows ? PQntuples(rows) : 0;
	json_t *out;

	out = json_pack(
		"{s:o, s:o}", "items", items, "next_cursor",
		n > limit ? json_string(PQgetvalue(rows, limit - 1, cursor_col))
			  : json_null());
	if (!out) {
		claw_http_reply_std(req, CLAW_HE_INTERNAL, NULL);
		return;
	}
	claw_http_reply_json(req, 200, out);
}
