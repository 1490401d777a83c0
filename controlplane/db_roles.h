/*
 * db_roles.h - the daemon serves as a database role that can only add to
 * the audit log; migrations run as the owner role (docs/security.md).
 *
 * Embedded PostgreSQL: the cluster's superuser (claw, reachable only through
 * the daemon's private socket directory) creates two roles, claw_owner
 * (owns the schema's objects, runs the migrations) and claw_app (what the
 * pool connects as), and hands claw_owner what an older cluster made as
 * superuser. External database: migration-database-url names the owner
 * role; database-url's role becomes the app role. Either way the owner then
 * runs claw_grant_app(app role) (migrations/0006_audit_roles.sql).
 *
 * Without migration-database-url an external database is used as before
 * when its role may create tables: one role migrates and serves (the
 * checkpointer warns at start). When it may not, it is taken for an app
 * role: the daemon serves if an owner already applied every migration, and
 * refuses to start otherwise.
 */
#ifndef CP_DB_ROLES_H
#define CP_DB_ROLES_H

#include "cp.h"

/* Run after the pool is open on database-url (or the embedded superuser)
 * and before migrations. With split roles it migrates as the owner,
 * grants the app role, sets ctx->schema_version and ctx->db_split, and (for
 * the embedded cluster) reopens ctx->db as claw_app; main then skips its
 * own migration. Returns 0, or -1 with the reason logged. */
int cp_db_roles_setup(struct cp_ctx *ctx);

#endif
