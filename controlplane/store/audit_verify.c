/*
 * audit_verify.c - re-hash the audit chain from the database.
 *
 * Rows are read in id order, a page at a time, in one REPEATABLE READ
 * snapshot, and fed to cp_audit_chain_check(). The chain head must then
 * name the last row, its hash and the number of rows, or rows were removed
 * from the end (or the head was moved by hand).
 *
 * On the way, each probe (an id a checkpoint names) gets what the database
 * holds there: the rows up to that id and the hash of the row with it.
 * Probes are sorted, so one pointer walks them beside the rows.
 */
#include "audit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "claw/db.h"

#define VERIFY_PAGE "500"

static struct claw_db_stmt page_stmt = CLAW_DB_STMT(
	"cp_audit_verify_page",
	"SELECT id, (extract(epoch FROM time) * 1000000)::bigint, actor_id,"
	" actor_role, action, target, tenant_id, request_id, source_addr,"
	" details::text, prev_hash, hash"
	" FROM audit_log WHERE id > $1::bigint ORDER BY id LIMIT " VERIFY_PAGE);

static struct claw_db_stmt head_stmt = CLAW_DB_STMT(
	"cp_audit_verify_head",
	"SELECT last_id, last_hash, row_count FROM audit_chain_head");

/* The walk's state beside the chain's. */
struct walk {
	struct cp_audit_chain chain;
	long long last; /* id of the last row read */
	long long rows; /* rows read and found good */
	long long good; /* id of the last good row */
	struct claw_ckpt_probe *probes;
	size_t n, at; /* probes[at] is the next one to fill */
};

static const char *col(const PGresult *res, int row, int c)
{
	return PQgetisnull(res, row, c) ? NULL : PQgetvalue(res, row, c);
}

/* Fill the probes below id (no row has their id) with the rows so far,
 * and the one at id, if any, with the row. */
static void probe_row(struct walk *w, long long id, const char *hash)
{
	while (w->at < w->n && w->probes[w->at].id <= id) {
		struct claw_ckpt_probe *p = &w->probes[w->at++];

		p->known = true;
		p->found = p->id == id;
		p->rows = p->found ? w->rows : w->rows - 1;
		if (p->found)
			snprintf(p->hash, sizeof(p->hash), "%s", hash);
		else
			p->hash[0] = '\0';
	}
}

/* The probes past the last row, once the walk reached the end. */
static void probe_end(struct walk *w)
{
	while (w->at < w->n) {
		struct claw_ckpt_probe *p = &w->probes[w->at++];

		p->known = true;
		p->found = false;
		p->rows = w->rows;
		p->hash[0] = '\0';
	}
}

/* Feed one page; *n gets the rows read. */
static enum claw_rc check_page(PGconn *conn, struct walk *w, int *n)
{
	PGresult *res;
	char after[32];
	const char *params[1] = {after};
	enum claw_rc rc;
	int i;

	snprintf(after, sizeof(after), "%lld", w->last);
	rc = claw_db_exec(conn, &page_stmt, 1, params, &res);
	if (rc)
		return rc;
	*n = PQntuples(res);
	for (i = 0; i < *n; i++) {
		struct cp_audit_row row = {
			.id = strtoll(PQgetvalue(res, i, 0), NULL, 10),
			.time_us = strtoll(PQgetvalue(res, i, 1), NULL, 10),
			.actor_id = col(res, i, 2),
			.actor_role = col(res, i, 3),
			.action = col(res, i, 4),
			.target = col(res, i, 5),
			.tenant_id = col(res, i, 6),
			.request_id = col(res, i, 7),
			.source_addr = col(res, i, 8),
			.details = col(res, i, 9),
		};

		w->last = row.id;
		if (!cp_audit_chain_check(&w->chain, &row, col(res, i, 10),
					  col(res, i, 11)))
			break;
		w->rows++;
		w->good = row.id;
		probe_row(w, row.id, w->chain.prev);
	}
	PQclear(res);
	return CLAW_OK;
}

static enum claw_rc check_head(PGconn *conn, struct walk *w)
{
	struct cp_audit_chain *c = &w->chain;
	PGresult *res = NULL;
	enum claw_rc rc;
	long long head_id, head_rows;

	rc = claw_db_exec(conn, &head_stmt, 0, NULL, &res);
	if (rc)
		return rc;
	if (PQntuples(res) != 1) {
		c->broken_id = w->last + 1;
		c->reason = "the audit chain head row is missing";
		goto out;
	}
	head_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	head_rows = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	if (head_id != w->last || strcmp(PQgetvalue(res, 0, 1), c->prev)) {
		c->broken_id = head_id > w->last ? head_id : w->last;
		c->reason = "the chain head does not name the last row "
			    "(rows were removed from the end)";
	} else if (head_rows != w->rows) {
		c->broken_id = w->last + 1;
		c->reason = "the chain head's row count does not match the "
			    "rows (the counter was moved)";
	}
out:
	PQclear(res);
	return rc;
}

enum claw_rc cp_audit_verify(PGconn *conn, struct claw_ckpt_probe *probes,
			     size_t n, struct cp_audit_verify_result *out)
{
	struct walk w = {.probes = probes, .n = n};
	bool own_tx = PQtransactionStatus(conn) == PQTRANS_IDLE;
	enum claw_rc rc;
	int got;

	cp_audit_chain_init(&w.chain);
	for (size_t i = 0; i < n; i++) {
		probes[i].known = false;
		probes[i].found = false;
		probes[i].rows = 0;
		probes[i].hash[0] = '\0';
	}
	if (own_tx) {
		rc = claw_db_exec_sql(conn,
				      "BEGIN ISOLATION LEVEL "
				      "REPEATABLE READ READ ONLY",
				      NULL);
		if (rc)
			return rc;
	}
	do {
		rc = check_page(conn, &w, &got);
		if (rc)
			goto out;
	} while (got > 0 && !w.chain.broken_id);
	if (!w.chain.broken_id) {
		probe_end(&w);
		rc = check_head(conn, &w);
	}
out:
	if (own_tx) {
		enum claw_rc end = claw_db_exec_sql(
			conn, rc ? "ROLLBACK" : "COMMIT", NULL);

		if (!rc)
			rc = end;
	}
	if (!rc) {
		out->rows_checked = w.chain.rows_checked;
		out->broken_id = w.chain.broken_id;
		out->reason = w.chain.reason;
		out->last_id = w.good;
		out->rows = w.rows;
		memcpy(out->last_hash, w.chain.prev, sizeof(out->last_hash));
	}
	return rc;
}
