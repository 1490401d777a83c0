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

const struct cp_hook cp_hooks[] = {
	/* first: its stop checkpoint is written after every other stop */
	{"audit-checkpoints", cp_checkpointer_start, cp_checkpointer_stop},
	{"master-keys", cp_secrets_start, cp_secrets_stop},
	{"admin-token", cp_bootstrap_admin, NULL},
	{"fleet", cp_fleet_start, cp_fleet_stop},
	{"bounds", cp_bounds_start, cp_bounds_stop}, /* after fleet */
};
const size_t cp_hooks_n = sizeof(cp_hooks) / sizeof(cp_hooks[0]);
