/*
 * chat.h - the one query of the chat relay (api/chat.c, store/chat.c):
 * where a tenant's gateway can be reached and whether it serves the
 * OpenAI-compatible endpoint, read in one statement.
 */
#ifndef CP_STORE_CHAT_H
#define CP_STORE_CHAT_H

#include <libpq-fe.h>

#include "claw/err.h"

/* Columns of cp_store_chat_target's row (never SQL NULL: "" instead). */
enum cp_chat_col {
	CP_CHC_STATE,       /* the placement's state: running, suspended,
			     * stopped */
	CP_CHC_NODE,        /* the node it is placed on, or "" (pending) */
	CP_CHC_NODE_STATUS, /* that node's status (ready, down), or "" */
	CP_CHC_EDGE,        /* that node's advertised edge address, or "" */
	CP_CHC_OPENAI,      /* the deployed gateway config's
			     * channels.openai as JSON text, or "" */
};

/* The tenant's placement with its node's edge address and its
 * deployment's openai channel; NOT_FOUND when it has no placement. *row
 * is the caller's to PQclear. */
enum claw_rc cp_store_chat_target(PGconn *c, const char *tenant_id,
				  PGresult **row);

#endif
