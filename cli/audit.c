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
#include <sodium.h>

#include "claw/crypto.h"

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
		{NULL, NULL, NULL, NULL, NULL},
	};
	const struct cli_spec spec = {
		"audit list [options]",
		"List audit rows, newest first: who did what to which target, "
		"from where, with which request id.",
		opts, 0, 0};
	int npos, ex;

	ex = cli_args_parse(ctx, &spec, argc, argv, NULL, &npos);
	if (ex)
		return ex == CLI_HELP_SHOWN ? CLI_OK : ex;
	return cli_list_cmd(ctx, "/v1/audit", NULL, f, sizeof(f) / sizeof(f[0]),
			    &pg, audit_cols,
			    sizeof(audit_cols) / sizeof(audit_cols[0]));
}

/* ---- verify --checkpoints FILE: the checkpoints of a file against the
 * log. The canonical text and the JSON line are those of
 * controlplane/checkpoint.h; signatures are checked here, with the keys of
 * --public-keys-file or else those the control plane names, and the log's
 * rows at each checkpoint's id come from GET /v1/audit/verify?at=... */

#define CK_KEYS_MAX 16
#define CK_AT_BATCH 200
#define CK_LINE_MAX 1024

enum ck_verdict {
	CK_OK,
	CK_MALFORMED,
	CK_UNKNOWN_KEY,
	CK_BAD_SIGNATURE,
	CK_TRUNCATED,
	CK_REWRITTEN,
	CK_UNCHECKED,
};

static const char *const ck_names[] = {
	"ok",        "malformed", "unknown_key", "signature_invalid",
	"truncated", "rewritten", "unchecked",
};

struct ck_key {
	char id[17];
	unsigned char pk[crypto_sign_PUBLICKEYBYTES];
};

struct ck_entry {
	long line;
	enum ck_verdict verdict;
	char key_id[17], time[21], event[9], head[65];
	long long last_id, rows;
};

/* What the log holds at one id (the reply's "at"). */
struct ck_probe {
	long long id;
	bool known, found;
	long long rows;
	char hash[65];
};

struct ck_run {
	struct ck_key keys[CK_KEYS_MAX];
	size_t nkeys;
	struct ck_entry *e;
	size_t ne;
	struct ck_probe *p; /* sorted by id */
	size_t np, pcap;
	long long last_id; /* the log's last row, from the replies */
};

static bool ck_hex(const char *s, size_t n)
{
	if (!s || strlen(s) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool ck_time(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";

	if (!s || strlen(s) != sizeof(shape) - 1)
		return false;
	for (size_t i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9')
				    : s[i] != shape[i])
			return false;
	return true;
}

static void ck_key_id(const unsigned char *pk, char out[17])
{
	char h[65];

	claw_blake2b_hex(pk, crypto_sign_PUBLICKEYBYTES, h);
	memcpy(out, h, 16);
	out[16] = '\0';
}

static int ck_key_add(struct ck_run *r, const char *hex)
{
	struct ck_key *k;

	if (r->nkeys == CK_KEYS_MAX)
		return -1;
	k = &r->keys[r->nkeys];
	if (!ck_hex(hex, 2 * crypto_sign_PUBLICKEYBYTES) ||
	    claw_hex_decode(hex, k->pk, sizeof(k->pk)))
		return -1;
	ck_key_id(k->pk, k->id);
	r->nkeys++;
	return 0;
}

static int ck_keys_file(struct cli_ctx *ctx, struct ck_run *r, const char *path)
{
	char buf[512];
	long n = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(ctx->err, "error: unable to open '%s': %s\n", path,
			strerror(errno));
		return CLI_ELOCAL;
	}
	while (fgets(buf, sizeof(buf), f)) {
		char *k = buf + strspn(buf, " \t");

		n++;
		k[strcspn(k, " \t\r\n#")] = '\0';
		if (*k && ck_key_add(r, k)) {
			fprintf(ctx->err,
				"error: '%s' line %ld is not a public key (64 "
				"hex characters), or there are more than %d\n",
				path, n, CK_KEYS_MAX);
			fclose(f);
			return CLI_ELOCAL;
		}
	}
	fclose(f);
	if (!r->nkeys) {
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

		if (hex && ck_key_add(r, hex)) {
			fprintf(ctx->err,
				"error: the control plane names a "
				"key that is not one\n");
			return CLI_ESERVER;
		}
	}
	if (!r->nkeys) {
		fprintf(ctx->err,
			"error: the control plane names no checkpoint key; "
			"pass --public-keys-file\n");
		return CLI_ESERVER;
	}
	return CLI_OK;
}

static bool ck_str(json_t *o, const char *key, char *out, size_t outlen)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || strlen(s) >= outlen)
		return false;
	memcpy(out, s, strlen(s) + 1);
	return true;
}

static bool ck_int(json_t *o, const char *key, long long *out)
{
	json_t *v = json_object_get(o, key);

	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (long long)json_integer_value(v);
	return true;
}

/* Parse and check the signature of one line into e. */
static void ck_line(const struct ck_run *r, const char *line, size_t len,
		    struct ck_entry *e)
{
	unsigned char sig[crypto_sign_BYTES];
	char text[512];
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	const char *sighex;
	int n;

	e->verdict = CK_MALFORMED;
	if (!json_is_object(o) || json_object_size(o) != 8 ||
	    json_integer_value(json_object_get(o, "v")) != 1 ||
	    !json_is_integer(json_object_get(o, "v")) ||
	    !ck_str(o, "key_id", e->key_id, sizeof(e->key_id)) ||
	    !ck_hex(e->key_id, 16) ||
	    !ck_str(o, "time", e->time, sizeof(e->time)) || !ck_time(e->time) ||
	    !ck_str(o, "event", e->event, sizeof(e->event)) ||
	    (strcmp(e->event, "start") && strcmp(e->event, "periodic") &&
	     strcmp(e->event, "stop")) ||
	    !ck_int(o, "last_id", &e->last_id) ||
	    !ck_int(o, "rows", &e->rows) ||
	    !ck_str(o, "head", e->head, sizeof(e->head)) ||
	    !ck_hex(e->head, 64))
		goto out;
	sighex = json_string_value(json_object_get(o, "sig"));
	if (!ck_hex(sighex, 2 * crypto_sign_BYTES) ||
	    claw_hex_decode(sighex, sig, sizeof(sig)))
		goto out;
	n = snprintf(text, sizeof(text),
		     "claw-audit-checkpoint-v1\nkey_id=%s\ntime=%s\nevent=%s\n"
		     "last_id=%lld\nrows=%lld\nhead=%s\n",
		     e->key_id, e->time, e->event, e->last_id, e->rows,
		     e->head);
	if (n < 0 || (size_t)n >= sizeof(text))
		goto out;
	e->verdict = CK_UNKNOWN_KEY;
	for (size_t i = 0; i < r->nkeys; i++)
		if (!strcmp(r->keys[i].id, e->key_id))
			e->verdict = crypto_sign_verify_detached(
					     sig, (const unsigned char *)text,
					     (unsigned long long)n,
					     r->keys[i].pk) == 0
				? CK_OK
				: CK_BAD_SIGNATURE;
out:
	json_decref(o);
}

static int ck_read(struct cli_ctx *ctx, struct ck_run *r, const char *path)
{
	size_t cap = 0, linecap = 0;
	char *line = NULL;
	ssize_t len;
	long n = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		fprintf(ctx->err, "error: unable to open '%s': %s\n", path,
			strerror(errno));
		return CLI_ELOCAL;
	}
	while ((len = getline(&line, &linecap, f)) > 0) {
		bool complete = line[len - 1] == '\n';

		n++;
		while (len > 0 &&
		       (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = '\0';
		if (len == 0)
			continue;
		if (r->ne == cap) {
			size_t want = cap ? cap * 2 : 64;
			struct ck_entry *b = realloc(r->e, want * sizeof(*b));

			if (!b) {
				free(line);
				fclose(f);
				fprintf(ctx->err, "error: out of memory\n");
				return CLI_ELOCAL;
			}
			r->e = b;
			cap = want;
		}
		memset(&r->e[r->ne], 0, sizeof(r->e[r->ne]));
		r->e[r->ne].line = n;
		if (len <= CK_LINE_MAX)
			ck_line(r, line, (size_t)len, &r->e[r->ne]);
		else
			r->e[r->ne].verdict = CK_MALFORMED;
		/* a last line cut short by a crash is no checkpoint yet */
		if (r->e[r->ne].verdict == CK_MALFORMED && !complete)
			break;
		r->ne++;
	}
	free(line);
	fclose(f);
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
	const struct ck_probe *p = elem;

	return (id > p->id) - (id < p->id);
}

static int ck_cmp_probe_sort(const void *a, const void *b)
{
	return ck_cmp_probe(&((const struct ck_probe *)a)->id, b);
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
		struct ck_probe *p = &r->p[r->np];
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
		if (r->e[i].verdict == CK_OK && r->e[i].last_id > 0)
			ids[k++] = r->e[i].last_id;
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

/* The log against one well-signed checkpoint (as the control plane's
 * cp_ckpt_check_db). */
static enum ck_verdict ck_judge(const struct ck_run *r,
				const struct ck_entry *e, char *why,
				size_t whylen)
{
	const struct ck_probe *p;

	why[0] = '\0';
	if (e->last_id == 0) {
		if (e->rows == 0 && ck_hex(e->head, 64) &&
		    strspn(e->head, "0") == 64)
			return CK_OK;
		snprintf(why, whylen, "it signed %lld rows with no last row",
			 e->rows);
		return CK_REWRITTEN;
	}
	p = bsearch(&e->last_id, r->p, r->np, sizeof(*p), ck_cmp_probe);
	if (!p || !p->known) {
		snprintf(why, whylen,
			 "the chain breaks before row %lld, so it could not "
			 "be compared",
			 e->last_id);
		return CK_UNCHECKED;
	}
	if (!p->found && r->last_id < e->last_id) {
		snprintf(why, whylen,
			 "it signed %lld rows up to row %lld, but the log now "
			 "ends at row %lld with %lld rows: rows were removed "
			 "from its end",
			 e->rows, e->last_id, r->last_id, p->rows);
		return CK_TRUNCATED;
	}
	if (!p->found) {
		snprintf(why, whylen,
			 "it signed row %lld (hash %.16s...), which the log no "
			 "longer has",
			 e->last_id, e->head);
		return CK_REWRITTEN;
	}
	if (p->rows != e->rows || strcmp(p->hash, e->head)) {
		snprintf(why, whylen,
			 "it signed %lld rows up to row %lld with hash "
			 "%.16s..., but the log has %lld rows up to it and "
			 "hash %.16s...: the log was rewritten",
			 e->rows, e->last_id, e->head, p->rows, p->hash);
		return CK_REWRITTEN;
	}
	return CK_OK;
}

static json_t *ck_entry_json(const struct ck_entry *e, const char *why)
{
	json_t *o = json_pack("{s:I, s:s}", "line", (json_int_t)e->line,
			      "problem", ck_names[e->verdict]);

	if (o && e->verdict != CK_MALFORMED) {
		json_object_set_new(o, "time", json_string(e->time));
		json_object_set_new(o, "event", json_string(e->event));
		json_object_set_new(o, "last_id", json_integer(e->last_id));
		json_object_set_new(o, "rows", json_integer(e->rows));
		json_object_set_new(o, "head", json_string(e->head));
		json_object_set_new(o, "key_id", json_string(e->key_id));
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
		struct ck_entry *e = &r->e[i];

		w[0] = '\0';
		if (e->verdict == CK_OK)
			e->verdict = ck_judge(r, e, w, sizeof(w));
		else if (e->verdict == CK_BAD_SIGNATURE)
			snprintf(w, sizeof(w),
				 "its signature does not match its contents "
				 "(the line was forged or changed)");
		else if (e->verdict == CK_UNKNOWN_KEY)
			snprintf(w, sizeof(w),
				 "it is signed by key %s, which is not among "
				 "the accepted keys",
				 e->key_id);
		else
			snprintf(w, sizeof(w), "it is not a checkpoint line");
		if (e->verdict == CK_OK) {
			json_decref(latest);
			latest = ck_entry_json(e, NULL);
			json_object_del(latest, "problem");
		}
		if (e->verdict == CK_OK || e->verdict == CK_UNCHECKED || !ok)
			continue;
		ok = false;
		if (e->verdict == CK_MALFORMED)
			snprintf(why, sizeof(why), "checkpoint at line %ld: %s",
				 e->line, w);
		else
			snprintf(why, sizeof(why),
				 "checkpoint at line %ld (%s, %s, key %s): "
				 "%s: %s",
				 e->line, e->time, e->event, e->key_id,
				 ck_names[e->verdict], w);
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
		{NULL, NULL, NULL, NULL, NULL},
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
	int npos, ex;

	ex = cli_args_parse(ctx, &spec, argc, argv, NULL, &npos);
	if (ex)
		return ex == CLI_HELP_SHOWN ? CLI_OK : ex;
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
	if (ctx->output == CLI_OUT_JSON) {
		if (file)
			json_object_set(reply, "file_checkpoints", file);
		cli_print_json(ctx->out, reply);
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
	if (ctx->output != CLI_OUT_JSON && file) {
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

int cli_cmd_audit(struct cli_ctx *ctx, int argc, char **argv)
{
	return cli_dispatch(ctx, "audit", cmds, sizeof(cmds) / sizeof(cmds[0]),
			    argc, argv);
}
