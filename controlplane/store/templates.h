/*
 * store/templates.h - the queries of the admins' resource templates
 * (templates.h, migrations/0013_resources.sql). On the caller's connection
 * (inside its transaction where one is open); json_t results are new
 * references, PGresults the caller's.
 */
#ifndef CP_STORE_TEMPLATES_H
#define CP_STORE_TEMPLATES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* Insert a new template: CLAW_ERR_INVALID when the name is taken
 * (claw_db_last_sqlstate() 23505). */
enum claw_rc cp_store_template_create(PGconn *c, const char *name,
				      const json_t *body);
/* Replace its body (version + 1): NOT_FOUND when there is none.
 * *version: the new version. */
enum claw_rc cp_store_template_update(PGconn *c, const char *name,
				      const json_t *body, long long *version);
/* NOT_FOUND when there is none. */
enum claw_rc cp_store_template_delete(PGconn *c, const char *name);
/* Its body and version, or NOT_FOUND. */
enum claw_rc cp_store_template_get(PGconn *c, const char *name, json_t **body,
				   long long *version);
/* Templates in name order after after ("": from the first): columns name,
 * version, created_at, updated_at, body. */
enum claw_rc cp_store_template_list(PGconn *c, const char *after, int limit,
				    PGresult **rows);

#endif
