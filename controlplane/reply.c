/*
 * reply.c - the error reply for a failed store call or tenant lookup.
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
