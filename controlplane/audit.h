/*
 * audit.h - the tamper-evident audit log of the control plane.
 *
 * Every change (and every secret release) appends one row to audit_log in
 * the same transaction as the change. Each row carries the BLAKE2b-256 hash
 * of a canonical serialisation of its fields and of the previous row's hash,
 * so editing, removing or reordering rows breaks the chain, and
 * cp_audit_verify() finds the first row where it breaks. Appends are
 * serialised on the chain-head row (locked FOR UPDATE), so concurrent
 * transactions cannot fork the chain; a trigger refuses UPDATE, DELETE and
 * TRUNCATE on audit_log (migrations/0002_audit.sql), another moves the head
 * and counts the rows, refusing a row that does not extend it (0006), and
 * the daemon's database role may only SELECT and INSERT there.
 *
 * What the database alone cannot show, rows removed from the end together
 * with a rewound head, signed checkpoints outside it do (checkpoint.h):
 * cp_audit_verify() reports, for each id a checkpoint names, the rows up to
 * it and that row's hash.
 *
 * Never put a secret value in an entry: details are stored and shown.
 */
#ifndef CP_AUDIT_H
#define CP_AUDIT_H

#include <stdbool.h>
#include <jansson.h>
#include <libpq-fe.h>
#include "claw/checkpoint.h"
#include "claw/err.h"

/* What happened. Every string may be NULL except action; all borrowed. */
struct cp_audit_entry {
	const char *actor_id;    /* token id, or NULL for the system itself */
	const char *actor_role;  /* admin, operator, tenant, node, system */
	const char *action;      /* "tenant.create", "secret.put", ... */
	const char *target;      /* what it acted on: "tenants/acme" */
	const char *tenant_id;   /* the tenant concerned, if any */
	const char *request_id;  /* X-Request-Id of the request */
	const char *source_addr; /* peer address of the request */
	json_t *details;         /* borrowed, never secrets, may be NULL */
};

/* Append e to the chain inside the caller's open transaction on conn (it
 * refuses to run outside one). Holds the chain-head row lock until the
 * caller commits or rolls back: call it as the last statement of the
 * transaction so the lock is held briefly. */
enum claw_rc cp_audit_append(PGconn *conn, const struct cp_audit_entry *e);
/* cp_audit_append of e with action and details_steal, which is released
 * whatever happens and left out of e again; CLAW_ERR_NOMEM (nothing
 * appended) when details_steal is NULL (its json_pack failed). */
enum claw_rc cp_audit_append_details(PGconn *conn, struct cp_audit_entry *e,
				     const char *action, json_t *details_steal);

/* ---- the chain itself, pure (no database): used by append and verify */

/* prev_hash of the first row. */
#define CP_AUDIT_GENESIS                                                       \
	"0000000000000000000000000000000000000000000000000000000000000000"

/* A row as it is hashed. Strings borrowed; NULL where the column is NULL. */
struct cp_audit_row {
	long long id;
	long long time_us; /* microseconds since the Unix epoch */
	const char *actor_id;
	const char *actor_role;
	const char *action;
	const char *target;
	const char *tenant_id;
	const char *request_id;
	const char *source_addr;
	const char *details; /* PostgreSQL's jsonb text of details, or NULL */
};

/* out = BLAKE2b-256 (hex) of "claw-audit-v1", prev_hash and every field of
 * row, each length-prefixed so no two rows serialise alike. */
void cp_audit_row_hash(const struct cp_audit_row *row, const char *prev_hash,
		       char out[65]);

/* Walks rows in id order and stops believing at the first broken one. */
struct cp_audit_chain {
	char prev[65];          /* stored hash of the last good row */
	long long rows_checked; /* rows looked at, the broken one included */
	long long broken_id;    /* id of the first broken row, 0 if none */
	const char *reason;     /* static: why it broke, or NULL */
};

void cp_audit_chain_init(struct cp_audit_chain *c);
/* Check the next row, with the prev_hash and hash stored in it. Returns
 * false when this row (or an earlier one) broke the chain. */
bool cp_audit_chain_check(struct cp_audit_chain *c,
			  const struct cp_audit_row *row,
			  const char *stored_prev, const char *stored_hash);

/* ---- verification and listing against the database */

struct cp_audit_verify_result {
	long long rows_checked;
	long long broken_id; /* first row where the chain breaks, 0 if intact */
	const char *reason;  /* static, NULL if intact */
	/* the chain as walked, up to the break if any */
	long long last_id;  /* id of the last row (0: none) */
	long long rows;     /* rows up to and including last_id */
	char last_hash[65]; /* its hash (CP_AUDIT_GENESIS: none) */
};

/* Re-hash the whole chain in id order, in pages, on conn (outside or
 * inside a transaction; it opens a REPEATABLE READ one of its own when
 * none is open, so it sees one snapshot). Also checks that the chain head
 * names the last row and counts the rows walked, so removing rows from the
 * end is found unless the head was rewound too. probes (n of them, sorted
 * by id, ascending; may be NULL when n is 0) are filled on the way. */
enum claw_rc cp_audit_verify(PGconn *conn, struct claw_ckpt_probe *probes,
			     size_t n, struct cp_audit_verify_result *out);

#endif
