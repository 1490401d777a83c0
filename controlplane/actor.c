/*
 * actor.c - fills an audit entry with who made a request and from where,
 * and appends such an entry.
 */
#include <string.h>

#include "audit.h"
#include "cp.h"

void cp_audit_prepare(struct cp_audit_entry *e, struct claw_http_req *req,
		      const struct cp_auth *auth, const char *action,
		      const char *target, const char *tenant_id)
{
	memset(e, 0, sizeof(*e));
	e->actor_id = auth ? auth->token_id : NULL;
	e->actor_role = auth ? cp_role_name(auth->role) : "system";
	e->action = action;
	e->target = target;
	e->tenant_id = tenant_id;
	e->request_id = req ? claw_http_request_id(req) : NULL;
	e->source_addr = req ? claw_http_remote_addr(req) : NULL;
}

enum claw_rc cp_audit_request(PGconn *conn, struct claw_http_req *req,
			      const struct cp_auth *auth, const char *action,
			      const char *target, const char *tenant_id,
			      json_t *details_steal)
{
	struct cp_audit_entry e;
	enum claw_rc rc;

	cp_audit_prepare(&e, req, auth, action, target, tenant_id);
	e.details = details_steal;
	rc = cp_audit_append(conn, &e);
	json_decref(details_steal);
	return rc;
}
