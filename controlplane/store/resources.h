/*
 * store/resources.h - the queries of a tenant's resources (resources.h,
 * migrations/0013_resources.sql). Every change is a new version row; the
 * current body of a resource is its newest row, unless that row marks a
 * deletion (body NULL). All functions run on the caller's connection,
 * inside its transaction where one is open; results (PGresult) are the
 * caller's (PQclear); json_t results are new references.
 */
#ifndef CP_STORE_RESOURCES_H
#define CP_STORE_RESOURCES_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"

/* Lock the tenant's resources for the transaction (its tenant row, FOR
 * UPDATE), so two changes of one tenant take their versions in turn.
 * NOT_FOUND when there is no such tenant. */
enum claw_rc cp_store_res_lock(PGconn *c, const char *tenant_id);

/* Append the next version of (kind, name) with body (NULL: a deletion,
 * NOT_FOUND when there is nothing live to delete). *version: the new
 * version. actor: the token id, or NULL. */
enum claw_rc cp_store_res_put(PGconn *c, const char *tenant_id,
			      const char *kind, const char *name,
			      const json_t *body, const char *actor,
			      long long *version);

/* The body of (kind, name) at version (0: the current one). NOT_FOUND
 * when there is none (or it is deleted at that version). *created_at
 * (may be NULL): the version's time, a static-size copy. */
enum claw_rc cp_store_res_get(PGconn *c, const char *tenant_id,
			      const char *kind, const char *name,
			      long long version, json_t **body,
			      long long *version_out, char created_at[40]);

/* The versions of (kind, name), newest first, below before (0: from the
 * newest): columns version, created_at, created_by, deleted ("t"/"f"),
 * bytes (the body's size as text, 0 for a deletion). */
enum claw_rc cp_store_res_versions(PGconn *c, const char *tenant_id,
				   const char *kind, const char *name,
				   long long before, int limit,
				   PGresult **rows);

/* The tenant's live resources: {"channels": {KIND: {"version": N, "body":
 * {...}}}, "persona": {"version", "body"}, "model": ..., "tools": ...,
 * "policies": ...}; a kind with none is absent. versions NULL: the current
 * ones; else exactly those named, in the shape cp_compose records
 * ({"channels": {KIND: N}, "persona": N, ...}); NOT_FOUND when one of them
 * does not exist (or is a deletion). */
enum claw_rc cp_store_res_set(PGconn *c, const char *tenant_id,
			      const json_t *versions, json_t **out);

/* The names in names (an array of strings) that are no live secret of
 * the tenant: *missing a new array (empty when all are set). */
enum claw_rc cp_store_secrets_missing(PGconn *c, const char *tenant_id,
				      const json_t *names, json_t **missing);

/* Whether the tenant has a deployment in place (a placement), so a change
 * of its resources takes effect only when it is deployed again. */
enum claw_rc cp_store_tenant_placed(PGconn *c, const char *tenant_id,
				    bool *placed);

#endif
