/*
 * oauth.h - the rows of pending OAuth "connect" flows (table oauth_flows,
 * migrations/0016_oauth_flows.sql; api/oauth.c runs the flows). Same rules
 * as store.h: on the caller's connection, rows as PGresult to PQclear.
 * No value here is a secret: the state is stored as its hash and what the
 * token request needs is sealed under a key only the state gives.
 */
#ifndef CP_STORE_OAUTH_H
#define CP_STORE_OAUTH_H

#include <libpq-fe.h>

#include "claw/err.h"

struct cp_oauth_flow_row {
	const char *id, *tenant_id, *server, *token_secret;
	const char *state_hash; /* 64 hex */
	const char *sealed;     /* hex */
	const char *created_by; /* token id, or NULL */
	const char *created_role;
	int ttl_s;
};

/* A new pending flow. *row: expires_at (RFC 3339 UTC). */
enum claw_rc cp_store_oauth_insert(PGconn *c, const struct cp_oauth_flow_row *f,
				   PGresult **row);

/* Take the pending, unexpired flow of state_hash for the token exchange
 * (status exchanging; one caller wins). *row: id, tenant id, server,
 * token secret, sealed, created_by, created_role. NOT_FOUND when there is
 * none such. */
enum claw_rc cp_store_oauth_claim(PGconn *c, const char *state_hash,
				  PGresult **row);

/* Why a claim failed. *row: id, status, expired ("t"/"f"). NOT_FOUND
 * when no flow has that state. */
enum claw_rc cp_store_oauth_peek(PGconn *c, const char *state_hash,
				 PGresult **row);

/* Finish flow id: status connected or failed, reason (NULL for none). */
enum claw_rc cp_store_oauth_finish(PGconn *c, const char *id,
				   const char *status, const char *reason);

/* Flow id of the tenant's server. *row: status, reason, expires_at,
 * expired ("t"/"f"), created_at. NOT_FOUND when there is none. */
enum claw_rc cp_store_oauth_get(PGconn *c, const char *tenant_id,
				const char *server, const char *id,
				PGresult **row);

#endif
