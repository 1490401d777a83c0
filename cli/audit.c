/*
 * audit.c - "clawctl audit": list the audit log with filters (tenant,
 * actor, action, time range; newest first) and verify it, over /v1/audit.
 * verify exits 1 when the chain is broken, naming the row, or when the log
 * does not extend a signed checkpoint (the control plane's own, or those
 * of a file given with --checkpoints, whose signatures are checked here),
 * naming the checkpoint.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "claw/checkpoint.h"

static const struct cli_col audit_cols[] = {
	{"ID", "id"},
	{"TIME", "time"},
	{"ACTOR", "actor_id"},
	{"ROLE", "actor_role"},
	{"ACTION", "action"},
	{"TARGET", "target"},
	{"SOURCE", "source_addr"},
	{"REQUEST", "request_id"},
};

static int audit_list(struct cli_ctx *ctx, int argc, char **argv)
{
	struct cli_paging pg = {0};
	struct cli_filter f[] = {{"tenant", NULL},
				 {"actor", NULL},
				 {"action", NULL},
				 {"since", NULL},
				 {"until", NULL}};
	const struct cli_opt opts[] = {
		{"tenant", "TENANT", &f[0].value, NULL,
		 "rows of this tenant (slug or id)"},
		{"actor", "TOKEN_ID", &f[1].value, NULL,
		 "rows of this actor (a token id)"},
		{"action", "ACTION", &f[2].value, NULL,
		 "rows of this action (tenant.create, secret.put, ...)"},
		{"since", "TIME", &f[3].value, NULL,
		 "rows at or after TIME (RFC 3339: 2026-01-31T12:00:00Z)"},
		{"until", "TIME", &f[4].value, NULL,
		 "rows before TIME (RFC 3339)"},
		CLI_PAGING_OPTS(pg),
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"audit list [options]",
		"List audit rows, newest first: who did what to which target, "
		"from where, with which request id.",
		opts, 0, 0};
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	return cli_list_cmd(ctx, "/v1/audit", NULL, f, sizeof(f) / sizeof(f[0]),
			    &pg, audit_cols,
			    sizeof(audit_cols) / sizeof(audit_cols[0]));
}

/* ---- verify --checkpoints FILE: the checkpoints of a file against the
 * log. The format, the signature check and the verdicts are lib's
 * (claw/checkpoint.h), the control plane's own; signatures are checked
 * here, with the keys of --public-keys-file or else those the control
 * plane names, and the log's rows at each checkpoint's id come from
 * GET /v1/audit/verify?at=... */

#define CK_AT_BATCH 200
#define CK_FILE_MAX 1000000 /* checkpoints in one file */

struct ck_run {
	struct claw_ckpt_keys keys;
	struct claw_ckpt_entry *e;
	size_t ne;
	struct claw_ckpt_probe *p; /* sorted by id */
	size_t np, pcap;
	long long last_id; /* the log's last row, from the replies */
};

static int ck_keys_file(struct cli_ctx *ctx, struct ck_run *r, const char *path)
{
	char err[600];

	if (claw_ckpt_keys_load(&r->keys, path, err, sizeof(err))) {
		fprintf(ctx->err, "error: %s\n", err);
		return CLI_ELOCAL;
	}
	if (!r->keys.n) {
		fprintf(ctx->err, "error: '%s' holds no public key\n", path);
		return CLI_ELOCAL;
	}
	return CLI_OK;
}

static int ck_keys_reply(struct cli_ctx *ctx, struct ck_run *r, json_t *reply)
{
	json_t *keys = json_object_get(reply, "keys"), *k;
	size_t i;

	json_array_foreach(keys, i, k) {
		const char *hex =
			json_string_value(json_object_get(k, "public_key"));

		if (hex && claw_ckpt_keys_add_hex(&r->keys, hex)) {
			fprintf(ctx->err,
				"error: the control plane names a "
				"key that is not one\n");
			return CLI_ESERVER;
		}
	}
	if (!r->keys.n) {
		fprintf(ctx->err,
			"error: the control plane names no checkpoint key; "
			"pass --public-keys-file\n");
		return CLI_ESERVER;
	}
	return CLI_OK;
}

/* Read the file's lines and check their signatures. */
static int ck_read(struct cli_ctx *ctx, struct ck_run *r, const char *path)
{
	enum claw_rc rc;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(ctx->err, "error: unable to open '%s': %s\n", path,
			strerror(errno));
		return CLI_ELOCAL;
	}
	rc = claw_ckpt_read(f, CK_FILE_MAX, &r->e, &r->ne);
	fclose(f);
	if (rc == CLAW_ERR_TOO_LARGE) {
		fprintf(ctx->err, "error: '%s' has more than %d checkpoints\n",
			path, CK_FILE_MAX);
		return CLI_ELOCAL;
	}
	if (rc) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	for (size_t i = 0; i < r->ne; i++)
		if (r->e[i].verdict == CLAW_CKPT_OK)
			r->e[i].verdict =
				claw_ckpt_check_sig(&r->keys, &r->e[i].c);
	return CLI_OK;
}

static int ck_cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static int ck_cmp_probe(const void *key, const void *elem)
{
	long long id = *(const long long *)key;
	const struct claw_ckpt_probe *p = elem;

	return (id > p->id) - (id < p->id);
}

static int ck_cmp_probe_sort(const void *a, const void *b)
{
	return ck_cmp_probe(&((const struct claw_ckpt_probe *)a)->id, b);
}

/* Ask the log about ids[0..n) (sorted, unique), into r->p. */
static int ck_ask(struct cli_ctx *ctx, struct ck_run *r, const long long *ids,
		  size_t n)
{
	struct claw_buf path;
	struct cli_call c = {.method = "GET"};
	json_t *reply = NULL, *at, *v;
	size_t i;
	int ex;

	claw_buf_init(&path, 0);
	ex = claw_buf_puts(&path, "/v1/audit/verify?at=") ? CLI_ELOCAL : 0;
	for (i = 0; !ex && i < n; i++)
		if (claw_buf_printf(&path, "%s%lld", i ? "," : "", ids[i]))
			ex = CLI_ELOCAL;
	if (ex) {
		claw_buf_release(&path);
		fprintf(ctx->err, "error: out of memory\n");
		return ex;
	}
	c.path = path.data;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	claw_buf_release(&path);
	if (ex)
		return ex;
	r->last_id = json_integer_value(
		json_object_get(json_object_get(reply, "head"), "last_id"));
	at = json_object_get(reply, "at");
	json_array_foreach(at, i, v) {
		struct claw_ckpt_probe *p = &r->p[r->np];
		const char *h = json_string_value(json_object_get(v, "hash"));

		if (r->np == r->pcap)
			break;
		p->id = json_integer_value(json_object_get(v, "id"));
		p->known = json_is_true(json_object_get(v, "known"));
		p->found = json_is_true(json_object_get(v, "found"));
		p->rows = json_integer_value(json_object_get(v, "rows"));
		snprintf(p->hash, sizeof(p->hash), "%s", h ? h : "");
		r->np++;
	}
	json_decref(reply);
	return CLI_OK;
}

/* Every distinct id of a well-signed checkpoint, asked in batches. */
static int ck_probe_all(struct cli_ctx *ctx, struct ck_run *r)
{
	long long *ids = calloc(r->ne + 1, sizeof(*ids));
	size_t k = 0, u = 0;
	int ex = CLI_OK;

	if (!ids) {
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	for (size_t i = 0; i < r->ne; i++)
		if (r->e[i].verdict == CLAW_CKPT_OK && r->e[i].c.last_id > 0)
			ids[k++] = r->e[i].c.last_id;
	qsort(ids, k, sizeof(*ids), ck_cmp_ll);
	for (size_t i = 0; i < k; i++)
		if (i == 0 || ids[i] != ids[i - 1])
			ids[u++] = ids[i];
	r->pcap = u;
	r->p = calloc(u + 1, sizeof(*r->p));
	if (!r->p) {
		free(ids);
		fprintf(ctx->err, "error: out of memory\n");
		return CLI_ELOCAL;
	}
	for (size_t i = 0; !ex && i < u; i += CK_AT_BATCH) {
		size_t before = r->np;

		ex = ck_ask(ctx, r, ids + i,
			    u - i < CK_AT_BATCH ? u - i : CK_AT_BATCH);
		if (!ex &&
		    r->np - before !=
			    (u - i < CK_AT_BATCH ? u - i : CK_AT_BATCH)) {
			fprintf(ctx->err,
				"error: the control plane's reply "
				"does not answer for every row "
				"asked about\n");
			ex = CLI_ESERVER;
		}
	}
	free(ids);
	qsort(r->p, r->np, sizeof(*r->p), ck_cmp_probe_sort);
	return ex;
}

static json_t *ck_entry_json(const struct claw_ckpt_entry *e, const char *why)
{
	json_t *o = json_pack("{s:I, s:s}", "line", (json_int_t)e->line,
			      "problem", claw_ckpt_verdict_name(e->verdict));

	if (o && e->verdict != CLAW_CKPT_MALFORMED) {
		json_object_set_new(o, "time", json_string(e->c.time));
		json_object_set_new(o, "event", json_string(e->c.event));
		json_object_set_new(o, "last_id", json_integer(e->c.last_id));
		json_object_set_new(o, "rows", json_integer(e->c.rows));
		json_object_set_new(o, "head", json_string(e->c.head));
		json_object_set_new(o, "key_id", json_string(e->c.key_id));
	}
	if (o && why)
		json_object_set_new(o, "reason", json_string(why));
	return o;
}

/* Judge every entry; the result object (checked, ok, failed, latest). */
static json_t *ck_result(struct ck_run *r)
{
	json_t *failed = json_null(), *latest = json_null();
	char why[600], w[400];
	bool ok = true;

	for (size_t i = 0; i < r->ne; i++) {
		struct claw_ckpt_entry *e = &r->e[i];
		const struct claw_ckpt_probe *p = NULL;

		if (e->verdict == CLAW_CKPT_OK && e->c.last_id > 0)
			p = bsearch(&e->c.last_id, r->p, r->np, sizeof(*p),
				    ck_cmp_probe);
		claw_ckpt_entry_judge(e, p, r->last_id, w, sizeof(w));
		if (e->verdict == CLAW_CKPT_OK) {
			json_decref(latest);
			latest = ck_entry_json(e, NULL);
			json_object_del(latest, "problem");
		}
		if (e->verdict == CLAW_CKPT_OK ||
		    e->verdict == CLAW_CKPT_UNCHECKED || !ok)
			continue;
		ok = false;
		claw_ckpt_entry_reason(e, w, why, sizeof(why));
		failed = ck_entry_json(e, why);
	}
	return json_pack("{s:I, s:b, s:o, s:o}", "checked", (json_int_t)r->ne,
			 "ok", ok, "failed", failed, "latest", latest);
}

static int ck_file(struct cli_ctx *ctx, json_t *reply, const char *file,
		   const char *keys_file, json_t **out)
{
	struct ck_run r = {0};
	int ex;

	*out = NULL;
	ex = keys_file ? ck_keys_file(ctx, &r, keys_file)
		       : ck_keys_reply(ctx, &r, reply);
	if (!ex)
		ex = ck_read(ctx, &r, file);
	if (!ex)
		ex = ck_probe_all(ctx, &r);
	if (!ex) {
		*out = ck_result(&r);
		if (!*out) {
			fprintf(ctx->err, "error: out of memory\n");
			ex = CLI_ELOCAL;
		}
	}
	free(r.e);
	free(r.p);
	return ex;
}

static void print_checkpoints(FILE *f, const char *what, const json_t *ck)
{
	const json_t *failed = json_object_get(ck, "failed");
	const json_t *latest = json_object_get(ck, "latest");

	if (json_is_object(failed)) {
		fprintf(f, "%s: %s\n", what,
			json_string_value(json_object_get(failed, "reason")));
		return;
	}
	fprintf(f,
		"%s: %" JSON_INTEGER_FORMAT " checked, the log extends "
		"them all",
		what, json_integer_value(json_object_get(ck, "checked")));
	if (json_is_object(latest))
		fprintf(f,
			" (newest: line %" JSON_INTEGER_FORMAT
			", %s, %" JSON_INTEGER_FORMAT
			" rows up to row %" JSON_INTEGER_FORMAT ")",
			json_integer_value(json_object_get(latest, "line")),
			json_string_value(json_object_get(latest, "time")),
			json_integer_value(json_object_get(latest, "rows")),
			json_integer_value(json_object_get(latest, "last_id")));
	fputc('\n', f);
}

static int audit_verify(struct cli_ctx *ctx, int argc, char **argv)
{
	const char *ckfile = NULL, *keys_file = NULL;
	const struct cli_opt opts[] = {
		{"checkpoints", "FILE", &ckfile, NULL,
		 "also check the signed checkpoints in FILE (a copy of the "
		 "control plane's audit-checkpoint-file)"},
		{"public-keys-file", "FILE", &keys_file, NULL,
		 "accept checkpoints signed by these keys (hex, one a line; "
		 "default: the keys the control plane names)"},
		CLI_OPT_END,
	};
	const struct cli_spec spec = {
		"audit verify [--checkpoints FILE]",
		"Check the audit log's hash chain from its first row to its "
		"last, and that the log extends every signed checkpoint of "
		"the control plane (and of FILE): no rows removed from its "
		"end, no head rewound or rewritten, no forged checkpoint. "
		"Exit 0 when it is intact, 1 when it is not (the first "
		"broken row or checkpoint is named).",
		opts, 0, 0};
	struct cli_call c = {.method = "GET", .path = "/v1/audit/verify"};
	json_t *reply = NULL, *ok, *file = NULL, *ck;
	const char *reason;
	int ex;

	if (!cli_args_ok(ctx, &spec, argc, argv, NULL, &ex))
		return ex;
	ex = cli_api(ctx, &c, &reply, NULL, 0);
	if (ex)
		return ex;
	ok = json_object_get(reply, "ok");
	if (!json_is_boolean(ok)) {
		fprintf(ctx->err,
			"error: the control plane's reply does not "
			"say whether the chain is intact\n");
		json_decref(reply);
		return CLI_ESERVER;
	}
	if (ckfile) {
		ex = ck_file(ctx, reply, ckfile, keys_file, &file);
		if (ex) {
			json_decref(reply);
			return ex;
		}
	}
	reason = json_string_value(json_object_get(reply, "reason"));
	ck = json_object_get(reply, "checkpoints");
	if (cli_out_machine(ctx)) {
		if (file)
			json_object_set(reply, "file_checkpoints", file);
		cli_print_value(ctx, reply);
	} else if (json_is_integer(json_object_get(reply, "first_broken_id")))
		fprintf(ctx->out,
			"audit chain BROKEN at row %" JSON_INTEGER_FORMAT
			": %s (%" JSON_INTEGER_FORMAT " rows checked)\n",
			json_integer_value(
				json_object_get(reply, "first_broken_id")),
			reason ? reason : "no reason given",
			json_integer_value(
				json_object_get(reply, "rows_checked")));
	else if (json_is_true(ok))
		fprintf(ctx->out,
			"audit chain intact: %" JSON_INTEGER_FORMAT
			" rows checked\n",
			json_integer_value(
				json_object_get(reply, "rows_checked")));
	else
		fprintf(ctx->out,
			"audit log does NOT extend its checkpoints: %s "
			"(%" JSON_INTEGER_FORMAT " rows checked)\n",
			reason ? reason : "no reason given",
			json_integer_value(
				json_object_get(reply, "rows_checked")));
	if (!cli_out_machine(ctx) && file) {
		if (json_is_object(ck))
			print_checkpoints(ctx->out,
					  "checkpoints of the control plane",
					  ck);
		print_checkpoints(ctx->out, "checkpoints in the file", file);
	}
	ex = json_is_true(ok) &&
			(!file || json_is_true(json_object_get(file, "ok")))
		? CLI_OK
		: CLI_EFAIL;
	json_decref(file);
	json_decref(reply);
	return ex;
}

static const struct cli_cmd cmds[] = {
	{"list", audit_list, "list audit rows (filters, newest first)"},
	{"verify", audit_verify, "verify the hash chain"},
};

CLI_GROUP(cli_cmd_audit, "audit", cmds)
