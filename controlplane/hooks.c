/*
 * hooks.c - the start-up hooks of the daemon, in order (see cp.h). Add a
 * part's hook with one line; it runs after migrations, before listening.
 */
#include "cp.h"
#include "bootstrap.h"
#include "checkpointer.h"
#include "bounds.h"
#include "scheduler.h"
#include "secrets.h"
#include "workspace.h"

/* Deploys resolve git workspaces on threads of their own (api/deploy.c):
 * last, so stopped first, while the database and the bounds are up. */
static int workspaces_start(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	(void)ctx;
	(void)errbuf;
	(void)errlen;
	cp_ws_start();
	return 0;
}

static void workspaces_stop(struct cp_ctx *ctx)
{
	(void)ctx;
	cp_ws_stop();
}

const struct cp_hook cp_hooks[] = {
	/* first: its stop checkpoint is written after every other stop */
	{"audit-checkpoints", cp_checkpointer_start, cp_checkpointer_stop},
	{"master-keys", cp_secrets_start, cp_secrets_stop},
	{"admin-token", cp_bootstrap_admin, NULL},
	{"fleet", cp_fleet_start, cp_fleet_stop},
	{"bounds", cp_bounds_start, cp_bounds_stop}, /* after fleet */
	{"workspaces", workspaces_start, workspaces_stop},
};
const size_t cp_hooks_n = sizeof(cp_hooks) / sizeof(cp_hooks[0]);
