/*
 * audit_list.h - reading the audit log for GET /v1/audit.
 */
#ifndef CP_AUDIT_LIST_H
#define CP_AUDIT_LIST_H

#include <libpq-fe.h>
#include "claw/err.h"

/* Every filter is optional (NULL: any). Times are RFC 3339 text. */
struct cp_audit_filter {
	const char *tenant_id;
	const char *actor_id;
	const char *action;
	const char *since;   /* time >= since */
	const char *until;   /* time < until */
	long long before_id; /* cursor: rows with id < before_id; 0: newest */
	int limit;
};

/* Columns, in order. */
enum cp_audit_col {
	CP_AC_ID,
	CP_AC_TIME,
	CP_AC_ACTOR_ID,
	CP_AC_ACTOR_ROLE,
	CP_AC_ACTION,
	CP_AC_TARGET,
	CP_AC_TENANT_ID,
	CP_AC_REQUEST_ID,
	CP_AC_SOURCE,
	CP_AC_DETAILS,
	CP_AC_PREV_HASH,
	CP_AC_HASH,
};

/* Rows newest first; CLAW_ERR_INVALID when a time does not parse. */
enum claw_rc cp_audit_list(PGconn *conn, const struct cp_audit_filter *f,
			   PGresult **rows);

#endif
