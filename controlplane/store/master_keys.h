/*
 * master_keys.h - the start-up check of the master keys against
 * master_keys (store/master_keys.c): the daemon's key ring must hold every
 * recorded version that is still needed, with the recorded key check
 * value. Run inside the caller's transaction (cp_store_begin).
 */
#ifndef CP_STORE_MASTER_KEYS_H
#define CP_STORE_MASTER_KEYS_H

#include <libpq-fe.h>

#include "claw/err.h"

/* One start-up check at a time: a transaction-scoped advisory lock. */
enum claw_rc cp_store_mk_check_lock(PGconn *c);

/* Columns of the recorded versions. */
enum cp_mk_col {
	CP_MK_VERSION, /* the master key version */
	CP_MK_KCV,     /* its key check value (64 hex) */
	CP_MK_WRAPS,   /* how many data keys it wraps */
};
/* Every recorded version, oldest first. */
enum claw_rc cp_store_mk_list(PGconn *c, PGresult **rows);
/* Record version with its key check value, unless it is recorded. */
enum claw_rc cp_store_mk_record(PGconn *c, unsigned version, const char *kcv);
/* Record a new version (rotation): an error when it is recorded. */
enum claw_rc cp_store_mk_insert(PGconn *c, unsigned version, const char *kcv);

#endif
