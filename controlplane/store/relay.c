/*
 * relay.c - the relay rows' queries; see relay.h. Times are the
 * database's (now()), so replicas whose clocks differ agree on when a
 * call is late. Two long polls of one node on two replicas never hand a
 * call over twice: the take is one UPDATE of waiting rows.
 */
#include "store/relay.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>

#include "claw/db.h"
#include "store/common.h"

static struct claw_db_stmt st_leave = CLAW_DB_STMT(
	"cp_relay_leave",
	"WITH gone AS (DELETE FROM relay_calls WHERE expires_at < now()) "
	"INSERT INTO relay_calls (id, kind, node_id, call, expires_at) "
	"VALUES ($1, $2, $3, $4::jsonb, now() + make_interval(secs => $5))");

static struct claw_db_stmt st_pending =
	CLAW_DB_STMT("cp_relay_pending",
		     "SELECT count(*) FROM relay_calls WHERE node_id = $1 AND "
		     "state = 'waiting' AND created_at > "
		     "now() - make_interval(secs => $2)");

static struct claw_db_stmt st_take = CLAW_DB_STMT(
	"cp_relay_take",
	"UPDATE relay_calls SET state = 'handed', taken_at = now() "
	"WHERE node_id = $1 AND state = 'waiting' "
	"AND created_at > now() - make_interval(secs => $2) "
	"RETURNING kind, call::text");

static struct claw_db_stmt st_drop =
	CLAW_DB_STMT("cp_relay_drop", "DELETE FROM relay_calls WHERE id = $1");

static struct claw_db_stmt st_answer = CLAW_DB_STMT(
	"cp_relay_answer",
	"UPDATE relay_calls SET state = 'done', status = $3, "
	"answer = $4::jsonb WHERE id = $1 AND node_id = $2 AND kind = 'rpc' "
	"AND state = 'handed' RETURNING id");

static struct claw_db_stmt st_rpc_states = CLAW_DB_STMT(
	"cp_relay_rpc_states",
	"SELECT id, state, coalesce(status, 0), coalesce(answer::text, ''), "
	"(state = 'waiting' AND "
	"created_at < now() - make_interval(secs => $2)) OR "
	"(state = 'handed' AND taken_at < now() - make_interval(secs => $3)), "
	"taken_at IS NOT NULL "
	"FROM relay_calls WHERE id = ANY ($1::text[])");

static struct claw_db_stmt st_log_read = CLAW_DB_STMT(
	"cp_relay_log_read",
	"WITH t AS (UPDATE relay_calls SET expires_at = greatest(expires_at, "
	"now() + make_interval(secs => $3)) WHERE id = $1 RETURNING state, "
	"state = 'waiting' AND created_at < now() - make_interval(secs => $2) "
	"AS late), "
	"d AS (DELETE FROM relay_chunks WHERE seq IN (SELECT seq FROM "
	"relay_chunks WHERE call_id = $1 ORDER BY seq LIMIT $4) "
	"RETURNING seq, event, data) "
	"SELECT 0::bigint, state, late, NULL::text, NULL::text FROM t "
	"UNION ALL SELECT seq, NULL, NULL, event, encode(data, 'hex') FROM d "
	"ORDER BY 1");

static struct claw_db_stmt st_log_lock = CLAW_DB_STMT(
	"cp_relay_log_lock",
	"SELECT (SELECT coalesce(sum(length(data)), 0) FROM relay_chunks "
	"WHERE call_id = $1) FROM relay_calls WHERE id = $1 AND "
	"node_id = $2 AND kind = 'log' AND state = 'handed' FOR UPDATE");

static struct claw_db_stmt st_chunk =
	CLAW_DB_STMT("cp_relay_chunk",
		     "INSERT INTO relay_chunks (call_id, event, data) "
		     "VALUES ($1, $2, decode($3, 'hex'))");

static struct claw_db_stmt st_end = CLAW_DB_STMT(
	"cp_relay_end", "UPDATE relay_calls SET state = 'done' WHERE id = $1");

enum claw_rc cp_store_relay_leave(PGconn *c, const char *id, const char *kind,
				  const char *node_id, const char *call,
				  int ttl_s)
{
	char ttl[16];
	const char *p[5] = {id, kind, node_id, call, ttl};

	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	return claw_db_exec(c, &st_leave, 5, p, NULL);
}

enum claw_rc cp_store_relay_pending(PGconn *c, const char *node_id, int take_s,
				    long long *n)
{
	char take[16];
	const char *p[2] = {node_id, take};

	snprintf(take, sizeof(take), "%d", take_s);
	return cp_store_exec_ll(c, &st_pending, 2, p, n);
}

enum claw_rc cp_store_relay_take(PGconn *c, const char *node_id, int take_s,
				 PGresult **rows)
{
	char take[16];
	const char *p[2] = {node_id, take};

	snprintf(take, sizeof(take), "%d", take_s);
	return claw_db_exec(c, &st_take, 2, p, rows);
}

enum claw_rc cp_store_relay_drop(PGconn *c, const char *id)
{
	return cp_store_exec1(c, &st_drop, id, NULL);
}

enum claw_rc cp_store_relay_answer(PGconn *c, const char *id,
				   const char *node_id, int status,
				   const char *body, bool *found)
{
	char st[16];
	const char *p[4] = {id, node_id, st, body};
	int any = 0;
	enum claw_rc rc;

	snprintf(st, sizeof(st), "%d", status);
	rc = cp_store_exec_any(c, &st_answer, 4, p, &any);
	*found = any;
	return rc;
}

enum claw_rc cp_store_relay_rpc_states(PGconn *c, const char *ids, int take_s,
				       int answer_s, PGresult **rows)
{
	char take[16], answer[16];
	const char *p[3] = {ids, take, answer};

	snprintf(take, sizeof(take), "%d", take_s);
	snprintf(answer, sizeof(answer), "%d", answer_s);
	return claw_db_exec(c, &st_rpc_states, 3, p, rows);
}

enum claw_rc cp_store_relay_log_read(PGconn *c, const char *id, int take_s,
				     int ttl_s, int max_chunks, PGresult **rows)
{
	char take[16], ttl[16], max[16];
	const char *p[4] = {id, take, ttl, max};

	snprintf(take, sizeof(take), "%d", take_s);
	snprintf(ttl, sizeof(ttl), "%d", ttl_s);
	snprintf(max, sizeof(max), "%d", max_chunks);
	return claw_db_exec(c, &st_log_read, 4, p, rows);
}

struct log_write {
	const char *id, *node_id;
	const char *hex; /* the data, hex */
	size_t len;
	bool end;
	long max;
	int out;
};

static enum claw_rc chunk(PGconn *c, const char *id, const char *event,
			  const char *hex)
{
	const char *p[3] = {id, event, hex};

	return claw_db_exec(c, &st_chunk, 3, p, NULL);
}

static enum claw_rc log_write_tx(PGconn *c, void *cls)
{
	struct log_write *w = cls;
	const char *p[2] = {w->id, w->node_id};
	PGresult *r = NULL;
	long long used = 0;
	enum claw_rc rc = claw_db_exec(c, &st_log_lock, 2, p, &r);

	w->out = 1;
	if (!rc && PQntuples(r) == 1)
		rc = cp_store_ll(r, 0, 0, &used);
	else if (!rc) {
		PQclear(r);
		return CLAW_OK; /* gone */
	}
	PQclear(r);
	if (rc)
		return rc;
	w->out = used + (long long)w->len > w->max ? 2 : 0;
	if (!w->out && w->len)
		rc = chunk(c, w->id, "log", w->hex);
	if (!rc && (w->out || w->end))
		rc = chunk(c, w->id, "end", "7b7d"); /* {} */
	if (!rc && (w->out || w->end))
		rc = cp_store_exec1(c, &st_end, w->id, NULL);
	return rc;
}

enum claw_rc cp_store_relay_log_write(PGconn *c, const char *id,
				      const char *node_id, const void *data,
				      size_t len, bool end, long max, int *out)
{
	struct log_write w = {.id = id,
			      .node_id = node_id,
			      .len = len,
			      .end = end,
			      .max = max};
	char *hex = malloc(2 * len + 1);
	enum claw_rc rc;

	*out = 1;
	if (!hex)
		return CLAW_ERR_NOMEM;
	sodium_bin2hex(hex, 2 * len + 1, data, len);
	w.hex = hex;
	rc = claw_db_tx_conn(c, CLAW_DB_READ_COMMITTED, log_write_tx, &w);
	free(hex);
	if (!rc)
		*out = w.out;
	return rc;
}
