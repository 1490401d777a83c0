/*
 * backup.c - backup-keygen, backup and restore (see backup.h).
 *
 * Archive: "CLAWBAK1", crypto_box_seal(stream key) to the operator's
 * X25519 public key, the secretstream header, then records, each a
 * big-endian u32 length and one secretstream message whose associated data
 * is the magic. A record's first byte says what it is: 'M' the manifest
 * (JSON), 'F' a file starts (its name follows), 'C' a chunk of the current
 * file, 'E' the end (tagged FINAL). So a flipped bit fails authentication
 * (backup_corrupt), a cut archive lacks its FINAL record (backup_truncated)
 * and another key cannot open the sealed stream key (backup_wrong_key).
 *
 * backup: the master key ring is loaded and checked against the database
 * exactly as the daemon does at start (cp_secrets_start), so an archive
 * never pairs a database with keys that cannot open it. The files of the
 * data directory are read before pg_dump starts its snapshot, so every
 * audit checkpoint in the archive is at or behind the dumped chain. The
 * embedded cluster is dumped live when a daemon runs it, else started for
 * the dump and stopped. A database password goes to pg_dump in its
 * environment (PGPASSWORD), never on its command line. The archive is
 * written to OUT.tmp-PID and renamed into place.
 *
 * restore: the key and the header are checked before anything is made;
 * then a fresh embedded cluster is initialised in a sibling temporary
 * directory, the dump streamed through psql in one transaction, the key
 * files written (0600), the cluster stopped and the directory renamed to
 * DATA_DIR. Any failure removes the temporary directory: nothing is left
 * half restored. Plaintext exists only in memory and in that new cluster.
 */
#include "backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/db.h"
#include "claw/file.h"
#include "claw/json.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "config.h"
#include "cp.h"
#include "pg_embedded.h"
#include "secrets.h"
#include "store/secrets_ring.h"

#define MAGIC "CLAWBAK1"
#define MAGIC_LEN 8u
#define CHUNK 65536u
#define SS_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define SS_HEADER crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define SS_KEY crypto_secretstream_xchacha20poly1305_KEYBYTES
#define SEALED_LEN (crypto_box_SEALBYTES + SS_KEY)
#define HEAD_LEN (MAGIC_LEN + SEALED_LEN + SS_HEADER)
#define REC_MAX (1u + CHUNK)
#define CT_MAX (REC_MAX + SS_ABYTES)
#define DB_FILE "db.sql"
#define MASTER_FILE "master.key"
#define KEY_TEXT_MAX 512u
#define PATH_LEN 4200

enum bk_err {
#define X(n, c, s) n,
	CP_BACKUP_ERRORS(X)
#undef X
};

static const struct {
	const char *code;
	int status;
} bk_defs[] = {
#define X(n, c, s) {c, s},
	CP_BACKUP_ERRORS(X)
#undef X
};

/* The data directory's files an archive carries besides the database
 * (master.key is the loaded key ring, whatever its source). */
static const char *const carried[] = {MASTER_FILE, "audit-signing.key",
				      "audit-checkpoints.jsonl", "admin.token"};
#define N_CARRIED (sizeof(carried) / sizeof(carried[0]))

struct bk {
	const char *cmd;
	int status; /* the first failure's exit status, 0 so far */
};

__attribute__((format(printf, 3, 4))) static int bk_fail(struct bk *b,
							 enum bk_err e,
							 const char *fmt, ...)
{
	va_list ap;

	if (b->status)
		return -1; /* the first error is the one reported */
	fprintf(stderr, "claw-controlplane %s: error %s: ", b->cmd,
		bk_defs[e].code);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	b->status = bk_defs[e].status;
	return -1;
}

static int write_all(int fd, const void *p, size_t n)
{
	const unsigned char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read up to n bytes (fewer only at end of file); -1 on error. */
static ssize_t read_full(int fd, void *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (unsigned char *)p + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

/* ---- operator keys: 64 hex digits and a newline */

static int key_parse(struct bk *b, const char *text, size_t len,
		     const char *path, unsigned char out[32])
{
	size_t n = 0;
	const char *end = NULL;

	if (sodium_hex2bin(out, 32, text, len, " \t\r\n", &n, &end) != 0 ||
	    n != 32 || strspn(end, " \t\r\n") != strlen(end))
		return bk_fail(b, BK_KEY,
			       "'%s' is not a backup key (64 hex digits, as "
			       "backup-keygen writes)",
			       path);
	return 0;
}

static int pubkey_read(struct bk *b, const char *path, unsigned char pk[32])
{
	char err[512], *text = NULL;
	size_t len = 0;
	int rc;

	if (claw_file_load(path, KEY_TEXT_MAX, &text, &len, err, sizeof(err)))
		return bk_fail(b, BK_KEY, "%s", err);
	rc = key_parse(b, text, len, path, pk);
	free(text);
	return rc;
}

/* The secret key (sodium memory) and its public half. */
static int seckey_read(struct bk *b, const char *path, unsigned char *sk,
		       unsigned char pk[32])
{
	char err[512], *text = NULL;
	size_t len = 0;
	int rc;

	if (claw_secret_file_read(path, "backup secret key file", KEY_TEXT_MAX,
				  &text, &len, err, sizeof(err)))
		return bk_fail(b, BK_KEY, "%s", err);
	rc = key_parse(b, text, len, path, sk);
	claw_secret_free(text);
	if (!rc)
		crypto_scalarmult_base(pk, sk);
	return rc;
}

static int cmd_keygen(struct bk *b, const char *out)
{
	unsigned char pk[32], *sk = sodium_malloc(32);
	char *hex = sodium_malloc(66), pub[66], pub_path[PATH_LEN], err[512];
	int rc = -1;

	if (!sk || !hex) {
		bk_fail(b, BK_IO, "out of memory");
		goto out;
	}
	snprintf(pub_path, sizeof(pub_path), "%s.pub", out);
	crypto_box_keypair(pk, sk);
	sodium_bin2hex(hex, 65, sk, 32);
	sodium_bin2hex(pub, 65, pk, 32);
	hex[64] = pub[64] = '\n';
	if (claw_secret_file_write(out, hex, 65, 0600, false, err,
				   sizeof(err)) ||
	    claw_secret_file_write(pub_path, pub, 65, 0600, false, err,
				   sizeof(err))) {
		bk_fail(b, BK_IO, "%s (an existing key is never overwritten)",
			err);
		goto out;
	}
	printf("backup key pair written: secret key %s (keep it off the "
	       "server), public key %s (give it to backup --to-key)\n",
	       out, pub_path);
	rc = 0;
out:
	if (sk)
		sodium_free(sk);
	if (hex)
		sodium_free(hex);
	return rc;
}

/* ---- running pg_dump and psql */

/* A libpq conninfo split for a child: everything but the password as a
 * conninfo string for -d (argv is public), the password for PGPASSWORD. */
struct pg_target {
	char *dsn;
	char *password;
};

static void target_free(struct pg_target *t)
{
	if (t->password) {
		sodium_memzero(t->password, strlen(t->password));
		free(t->password);
	}
	free(t->dsn);
	t->dsn = t->password = NULL;
}

static int target_init(struct bk *b, const char *conninfo, struct pg_target *t)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	size_t cap = 1, off = 0;

	memset(t, 0, sizeof(*t));
	if (!opts)
		return bk_fail(b, BK_USAGE, "database-url cannot be parsed");
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val)
			cap += strlen(o->keyword) + 2 * strlen(o->val) + 4;
	t->dsn = malloc(cap);
	for (PQconninfoOption *o = opts; t->dsn && o->keyword; o++) {
		if (!o->val)
			continue;
		if (!strcmp(o->keyword, "password")) {
			free(t->password);
			t->password = strdup(o->val);
			continue;
		}
		off += (size_t)snprintf(t->dsn + off, cap - off, "%s%s='",
					off ? " " : "", o->keyword);
		for (const char *c = o->val; *c; c++) {
			if (*c == '\'' || *c == '\\')
				t->dsn[off++] = '\\';
			t->dsn[off++] = *c;
		}
		t->dsn[off++] = '\'';
		t->dsn[off] = '\0';
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val)
			sodium_memzero(o->val, strlen(o->val));
	PQconninfoFree(opts);
	if (!t->dsn)
		return bk_fail(b, BK_IO, "out of memory");
	return 0;
}

/* Start BIN_DIR/prog args... -d DSN with a pipe on its stdout (feed
 * false) or its stdin (feed true, stdout to /dev/null); *fd gets our end.
 * Its stderr is ours, so its own messages reach the operator. */
static pid_t pg_spawn(struct bk *b, const char *bin_dir, const char *prog,
		      const char *const *args, const struct pg_target *t,
		      bool feed, int *fd)
{
	char path[PATH_LEN];
	const char *argv[16];
	size_t n = 0;
	int p[2];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", bin_dir, prog);
	argv[n++] = path;
	while (*args && n < 12)
		argv[n++] = *args++;
	argv[n++] = "-d";
	argv[n++] = t->dsn;
	argv[n] = NULL;
	if (access(path, X_OK) != 0) {
		bk_fail(b, BK_DATABASE,
			"'%s' is not executable: %s; set "
			"--pg-bin-dir",
			path, strerror(errno));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) != 0) {
		bk_fail(b, BK_IO, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		int nul = open("/dev/null", O_WRONLY);

		if (dup2(p[feed ? 0 : 1], feed ? 0 : 1) < 0 ||
		    (feed && nul >= 0 && dup2(nul, 1) < 0))
			_exit(127);
		if (t->password)
			setenv("PGPASSWORD", t->password, 1);
		execv(path, (char *const *)argv);
		_exit(127);
	}
	close(p[feed ? 0 : 1]);
	*fd = p[feed ? 1 : 0];
	if (pid < 0) {
		close(*fd);
		bk_fail(b, BK_IO, "fork: %s", strerror(errno));
	}
	return pid;
}

static int pg_wait(struct bk *b, pid_t pid, const char *what)
{
	int st = 0;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return bk_fail(b, BK_IO, "waitpid: %s",
				       strerror(errno));
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	return bk_fail(b, BK_DATABASE,
		       "%s failed (exit %d; its messages are "
		       "above)",
		       what, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* The embedded cluster's conninfo (as pg_embedded.c makes it). */
static void embedded_conninfo(const struct cp_config *cfg, char *out,
			      size_t len)
{
	snprintf(out, len, "host=%s/pg-run port=5432 user=claw dbname=postgres",
		 cfg->data_dir);
}

/* ---- writing an archive */

struct bk_w {
	int fd;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char *pt; /* sodium memory, REC_MAX */
	unsigned char *ct; /* 4 + CT_MAX */
};

/* Seal the record w->pt[0..len] and append it. */
static int w_push(struct bk *b, struct bk_w *w, size_t len, unsigned char tag)
{
	unsigned long long clen = 0;

	crypto_secretstream_xchacha20poly1305_push(
		&w->st, w->ct + 4, &clen, w->pt, len,
		(const unsigned char *)MAGIC, MAGIC_LEN, tag);
	w->ct[0] = (unsigned char)(clen >> 24);
	w->ct[1] = (unsigned char)(clen >> 16);
	w->ct[2] = (unsigned char)(clen >> 8);
	w->ct[3] = (unsigned char)clen;
	if (write_all(w->fd, w->ct, 4 + (size_t)clen))
		return bk_fail(b, BK_IO, "unable to write the archive: %s",
			       strerror(errno));
	return 0;
}

static int w_record(struct bk *b, struct bk_w *w, char type, const void *data,
		    size_t len, unsigned char tag)
{
	w->pt[0] = (unsigned char)type;
	if (len)
		memcpy(w->pt + 1, data, len);
	return w_push(b, w, len + 1, tag);
}

/* A file record named name with what fd yields, in chunks. */
static int w_file_fd(struct bk *b, struct bk_w *w, const char *name, int fd)
{
	ssize_t n;

	if (w_record(b, w, 'F', name, strlen(name), 0))
		return -1;
	w->pt[0] = 'C';
	while ((n = read_full(fd, w->pt + 1, CHUNK)) > 0)
		if (w_push(b, w, (size_t)n + 1, 0))
			return -1;
	if (n < 0)
		return bk_fail(b, BK_IO, "unable to read '%s': %s", name,
			       strerror(errno));
	return 0;
}

static int w_file_mem(struct bk *b, struct bk_w *w, const char *name,
		      const char *data, size_t len)
{
	if (w_record(b, w, 'F', name, strlen(name), 0))
		return -1;
	for (size_t off = 0; off < len; off += CHUNK) {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		if (w_record(b, w, 'C', data + off, n, 0))
			return -1;
	}
	return 0;
}

static int w_header(struct bk *b, struct bk_w *w, const unsigned char pk[32])
{
	unsigned char head[HEAD_LEN], *key = sodium_malloc(SS_KEY);
	int rc = 0;

	if (!key)
		return bk_fail(b, BK_IO, "out of memory");
	crypto_secretstream_xchacha20poly1305_keygen(key);
	memcpy(head, MAGIC, MAGIC_LEN);
	if (crypto_box_seal(head + MAGIC_LEN, key, SS_KEY, pk) != 0 ||
	    crypto_secretstream_xchacha20poly1305_init_push(
		    &w->st, head + MAGIC_LEN + SEALED_LEN, key) != 0)
		rc = bk_fail(b, BK_KEY, "unable to encrypt to the public key");
	else if (write_all(w->fd, head, HEAD_LEN))
		rc = bk_fail(b, BK_IO, "unable to write the archive: %s",
			     strerror(errno));
	sodium_free(key);
	return rc;
}

/* The data directory's files (read before the dump's snapshot). */
static int w_files(struct bk *b, struct bk_w *w, const struct cp_config *cfg)
{
	const char *paths[N_CARRIED] = {NULL, cfg->audit_signing_key_file,
					cfg->audit_checkpoint_file, NULL};

	for (size_t i = 1; i < N_CARRIED; i++) {
		char path[PATH_LEN];
		int fd, rc;

		if (paths[i])
			snprintf(path, sizeof(path), "%s", paths[i]);
		else
			snprintf(path, sizeof(path), "%s/%s", cfg->data_dir,
				 carried[i]);
		fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue;
		if (fd < 0)
			return bk_fail(b, BK_IO, "unable to open '%s': %s",
				       path, strerror(errno));
		rc = w_file_fd(b, w, carried[i], fd);
		close(fd);
		if (rc)
			return -1;
	}
	return 0;
}

static int w_dump(struct bk *b, struct bk_w *w, const struct cp_config *cfg,
		  const char *conninfo)
{
	static const char *const args[] = {"--no-owner", "--no-privileges",
					   "--no-password", "--format=plain",
					   NULL};
	struct pg_target t;
	pid_t pid;
	int fd = -1, rc;

	if (target_init(b, conninfo, &t))
		return -1;
	pid = pg_spawn(b, cfg->pg_bin_dir, "pg_dump", args, &t, false, &fd);
	target_free(&t);
	if (pid < 0)
		return -1;
	rc = w_file_fd(b, w, DB_FILE, fd);
	close(fd);
	if (pg_wait(b, pid, "pg_dump"))
		rc = -1;
	return rc;
}

/* The key ring, loaded and checked against the database as the daemon
 * does it, as key file text (sodium memory in *text). */
static int ring_text(struct bk *b, struct cp_ctx *ctx, const char *conninfo,
		     char **text, size_t *len)
{
	char err[1024];
	const struct cp_keyring *r;
	int rc = 0;

	*text = NULL;
	if (claw_db_open(conninfo, 1, &ctx->db, err, sizeof(err)))
		return bk_fail(b, BK_DATABASE, "%s", err);
	if (cp_secrets_start(ctx, err, sizeof(err))) {
		claw_db_close(ctx->db);
		ctx->db = NULL;
		return bk_fail(b, BK_KEY, "%s", err);
	}
	r = &((struct cp_secrets *)ctx->secrets)->ring;
	*len = 0;
	*text = sodium_malloc(CP_KEYRING_MAX * CP_KEYRING_LINE_MAX);
	for (unsigned i = 0; *text && i < r->n; i++)
		*len += cp_keyring_format_line(
			r->versions[i], cp_keyring_get(r, r->versions[i]),
			*text + *len);
	if (!*text)
		rc = bk_fail(b, BK_IO, "out of memory");
	cp_secrets_stop(ctx);
	claw_db_close(ctx->db);
	ctx->db = NULL;
	return rc;
}

static int w_archive(struct bk *b, struct bk_w *w, struct cp_ctx *ctx,
		     const char *conninfo, const unsigned char pk[32])
{
	char *keys = NULL, *manifest = NULL;
	size_t keys_len = 0;
	json_t *m = NULL;
	int rc;

	if (ring_text(b, ctx, conninfo, &keys, &keys_len))
		return -1;
	m = json_pack("{s:i, s:I, s:s}", "format", 1, "created_at",
		      (json_int_t)time(NULL), "database",
		      ctx->cfg.database_url ? "external" : "embedded");
	manifest = m ? json_dumps(m, JSON_COMPACT) : NULL;
	json_decref(m);
	rc = manifest ? 0 : bk_fail(b, BK_IO, "out of memory");
	if (!rc)
		rc = w_header(b, w, pk);
	if (!rc)
		rc = w_record(b, w, 'M', manifest, strlen(manifest), 0);
	if (!rc)
		rc = w_file_mem(b, w, MASTER_FILE, keys, keys_len);
	if (!rc)
		rc = w_files(b, w, &ctx->cfg);
	if (!rc)
		rc = w_dump(b, w, &ctx->cfg, conninfo);
	if (!rc)
		rc = w_record(b, w, 'E', NULL, 0,
			      crypto_secretstream_xchacha20poly1305_TAG_FINAL);
	free(manifest);
	if (keys)
		sodium_free(keys);
	return rc;
}

/* A postmaster that does not answer (starting, stopping) must not be
 * stopped by cp_pg_start as a stale one: refuse while it is alive. */
static int postmaster_up(struct bk *b, const struct cp_config *cfg)
{
	char path[PATH_LEN], line[32] = "";
	FILE *f;
	long pid = 0;

	snprintf(path, sizeof(path), "%s/pg/postmaster.pid", cfg->data_dir);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f))
		pid = strtol(line, NULL, 10);
	fclose(f);
	if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
		return 0;
	return bk_fail(b, BK_DATABASE,
		       "the embedded PostgreSQL (pid %ld) runs but does not "
		       "accept connections (starting or stopping?); try again",
		       pid);
}

static int cmd_backup(struct bk *b, struct cp_ctx *ctx, const char *out,
		      const char *to_key)
{
	struct bk_w w = {.fd = -1};
	struct cp_pg *pg = NULL;
	unsigned char pk[32];
	char pubdef[PATH_LEN], conninfo[PATH_LEN], tmp[PATH_LEN], err[512];
	const char *ci = ctx->cfg.database_url;
	int rc = -1;

	if (!to_key) {
		snprintf(pubdef, sizeof(pubdef), "%s/backup.pub",
			 ctx->cfg.data_dir);
		to_key = pubdef;
	}
	if (pubkey_read(b, to_key, pk))
		return -1;
	if (!ci) {
		embedded_conninfo(&ctx->cfg, conninfo, sizeof(conninfo));
		ci = conninfo;
		snprintf(tmp, sizeof(tmp), "%s/pg/PG_VERSION",
			 ctx->cfg.data_dir);
		if (access(tmp, F_OK) != 0)
			return bk_fail(b, BK_DATABASE,
				       "no database: '%s/pg' holds no cluster "
				       "and no --database-url is given",
				       ctx->cfg.data_dir);
		/* no daemon runs it: run it for the dump */
		if (PQping(ci) != PQPING_OK &&
		    (postmaster_up(b, &ctx->cfg) ||
		     cp_pg_start(&ctx->cfg, &pg, conninfo, sizeof(conninfo),
				 err, sizeof(err))))
			return bk_fail(b, BK_DATABASE, "%s", err);
	}
	w.pt = sodium_malloc(REC_MAX);
	w.ct = malloc(4 + CT_MAX);
	snprintf(tmp, sizeof(tmp), "%s.tmp-%d", out, (int)getpid());
	if (!w.pt || !w.ct)
		bk_fail(b, BK_IO, "out of memory");
	else if ((w.fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600)) < 0)
		bk_fail(b, BK_IO, "unable to create '%s': %s", tmp,
			strerror(errno));
	else if (!w_archive(b, &w, ctx, ci, pk)) {
		if (fsync(w.fd) != 0 || close(w.fd) != 0)
			bk_fail(b, BK_IO, "unable to write '%s': %s", tmp,
				strerror(errno));
		else if (rename(tmp, out) != 0)
			bk_fail(b, BK_IO, "unable to rename '%s' to '%s': %s",
				tmp, out, strerror(errno));
		else
			rc = 0;
		w.fd = -1;
	}
	if (w.fd >= 0)
		close(w.fd);
	if (rc && w.ct)
		unlink(tmp);
	if (w.pt)
		sodium_free(w.pt);
	free(w.ct);
	cp_pg_stop(pg);
	if (!rc)
		printf("backup written to %s\n", out);
	return rc;
}

/* ---- reading an archive */

struct bk_r {
	int fd;
	crypto_secretstream_xchacha20poly1305_state st;
	unsigned char *pt; /* sodium memory, REC_MAX + 1 (NUL) */
	unsigned char *ct;
	size_t len;            /* of the current record */
	unsigned long long at; /* archive offset of the current record */
	bool final;
};

static int r_open(struct bk *b, struct bk_r *r, const unsigned char *sk,
		  const unsigned char pk[32])
{
	unsigned char head[HEAD_LEN], *key = sodium_malloc(SS_KEY);
	ssize_t n = read_full(r->fd, head, HEAD_LEN);
	int rc = 0;

	if (!key)
		return bk_fail(b, BK_IO, "out of memory");
	if (n < 0)
		rc = bk_fail(b, BK_IO, "unable to read the archive: %s",
			     strerror(errno));
	else if ((size_t)n < MAGIC_LEN || memcmp(head, MAGIC, MAGIC_LEN))
		rc = bk_fail(b, BK_CORRUPT,
			     "not a claw-controlplane backup archive");
	else if ((size_t)n < HEAD_LEN)
		rc = bk_fail(b, BK_TRUNCATED,
			     "the archive ends inside its header");
	else if (crypto_box_seal_open(key, head + MAGIC_LEN, SEALED_LEN, pk,
				      sk) != 0)
		rc = bk_fail(b, BK_WRONG_KEY,
			     "the archive is not encrypted to this key (or "
			     "its header is damaged)");
	else if (crypto_secretstream_xchacha20poly1305_init_pull(
			 &r->st, head + MAGIC_LEN + SEALED_LEN, key) != 0)
		rc = bk_fail(b, BK_CORRUPT, "the archive's header is damaged");
	r->at = HEAD_LEN;
	sodium_free(key);
	return rc;
}

/* The next record into r->pt / r->len: 1, 0 after the final one, -1. */
static int r_next(struct bk *b, struct bk_r *r)
{
	unsigned char lb[4], tag = 0;
	unsigned long long mlen = 0;
	size_t clen;
	ssize_t n;

	if (r->final) {
		n = read_full(r->fd, lb, 1);
		if (n == 0)
			return 0;
		return bk_fail(b, BK_CORRUPT, "data after the archive's end");
	}
	n = read_full(r->fd, lb, 4);
	if (n < 0)
		return bk_fail(b, BK_IO, "unable to read the archive: %s",
			       strerror(errno));
	if (n < 4)
		return bk_fail(b, BK_TRUNCATED,
			       "the archive ends at byte %llu, before its "
			       "last record",
			       r->at + (unsigned long long)n);
	clen = (size_t)lb[0] << 24 | (size_t)lb[1] << 16 | (size_t)lb[2] << 8 |
		lb[3];
	if (clen <= SS_ABYTES || clen > CT_MAX)
		return bk_fail(b, BK_CORRUPT, "bad record length at byte %llu",
			       r->at);
	n = read_full(r->fd, r->ct, clen);
	if (n < 0)
		return bk_fail(b, BK_IO, "unable to read the archive: %s",
			       strerror(errno));
	if ((size_t)n < clen)
		return bk_fail(b, BK_TRUNCATED,
			       "the archive ends inside the record at byte "
			       "%llu",
			       r->at);
	if (crypto_secretstream_xchacha20poly1305_pull(
		    &r->st, r->pt, &mlen, &tag, r->ct, clen,
		    (const unsigned char *)MAGIC, MAGIC_LEN) != 0 ||
	    mlen < 1)
		return bk_fail(b, BK_CORRUPT,
			       "the record at byte %llu fails authentication",
			       r->at);
	r->pt[mlen] = '\0';
	r->len = (size_t)mlen;
	r->at += 4 + clen;
	r->final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
	if (r->final != (r->pt[0] == 'E'))
		return bk_fail(b, BK_CORRUPT, "misplaced end record");
	return 1;
}

/* ---- restoring */

struct restore {
	const struct cp_config *cfg;
	char tmp[PATH_LEN];
	char conninfo[PATH_LEN];
	struct cp_pg *pg;
	int fd;     /* the file being written, or psql's stdin */
	pid_t psql; /* while loading the dump */
	bool seen[N_CARRIED + 1];
};

#define UNUSED __attribute__((unused))
static int rm_entry(const char *path, const struct stat *st UNUSED,
		    int flag UNUSED, struct FTW *ftw UNUSED)
{
	return remove(path);
}

static int dir_check_empty(struct bk *b, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	bool empty = true;

	if (!d && errno == ENOENT)
		return 0;
	if (!d)
		return bk_fail(b, BK_NOT_EMPTY,
			       "data-dir '%s' exists and is not an empty "
			       "directory (%s)",
			       dir, strerror(errno));
	while (empty && (e = readdir(d)) != NULL)
		empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
	closedir(d);
	if (!empty)
		return bk_fail(b, BK_NOT_EMPTY,
			       "data-dir '%s' is not empty; restore into a "
			       "new or empty directory",
			       dir);
	return 0;
}

/* Close the current file; for the dump, wait for psql to load it. */
static int rs_close(struct bk *b, struct restore *rs)
{
	int rc = 0;

	if (rs->fd >= 0 && close(rs->fd) != 0)
		rc = bk_fail(b, BK_IO, "unable to write in '%s': %s", rs->tmp,
			     strerror(errno));
	rs->fd = -1;
	if (rs->psql > 0) {
		if (pg_wait(b, rs->psql, "loading the database (psql)"))
			rc = -1;
		rs->psql = 0;
	}
	return rc;
}

static int rs_open(struct bk *b, struct restore *rs, const char *name)
{
	static const char *const args[] = {"-X",
					   "-q",
					   "-w",
					   "-v",
					   "ON_ERROR_STOP=1",
					   "--single-transaction",
					   "-f",
					   "-",
					   NULL};
	char path[PATH_LEN];
	size_t i = 0;

	if (rs_close(b, rs))
		return -1;
	while (i < N_CARRIED && strcmp(name, carried[i]))
		i++;
	if (i == N_CARRIED && strcmp(name, DB_FILE))
		return bk_fail(b, BK_CORRUPT, "unknown file in the archive");
	if (rs->seen[i])
		return bk_fail(b, BK_CORRUPT, "a file twice in the archive");
	rs->seen[i] = true;
	if (i == N_CARRIED) {
		struct pg_target t = {.dsn = rs->conninfo};

		rs->psql = pg_spawn(b, rs->cfg->pg_bin_dir, "psql", args, &t,
				    true, &rs->fd);
		return rs->psql < 0 ? -1 : 0;
	}
	snprintf(path, sizeof(path), "%s/%s", rs->tmp, name);
	rs->fd =
		open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     0600);
	if (rs->fd < 0)
		return bk_fail(b, BK_IO, "unable to create '%s': %s", path,
			       strerror(errno));
	return 0;
}

static int rs_records(struct bk *b, struct restore *rs, struct bk_r *r)
{
	int n;

	while ((n = r_next(b, r)) == 1) {
		const char *body = (const char *)r->pt + 1;

		switch (r->pt[0]) {
		case 'F':
			if (rs_open(b, rs, body))
				return -1;
			break;
		case 'C':
			if (rs->fd < 0)
				return bk_fail(b, BK_CORRUPT,
					       "data outside a file");
			if (write_all(rs->fd, body, r->len - 1))
				return bk_fail(b, BK_DATABASE,
					       "unable to write the restored "
					       "data: %s",
					       strerror(errno));
			break;
		case 'E':
			if (rs_close(b, rs))
				return -1;
			break;
		default:
			return bk_fail(b, BK_CORRUPT, "unknown record type");
		}
	}
	if (n < 0)
		return -1;
	if (!rs->seen[0] || !rs->seen[N_CARRIED])
		return bk_fail(b, BK_CORRUPT,
			       "the archive lacks the master key or the "
			       "database");
	return 0;
}

static int rs_manifest(struct bk *b, struct bk_r *r)
{
	json_t *m;
	json_int_t format = 0;

	if (r_next(b, r) != 1)
		return -1;
	m = r->pt[0] == 'M' ? json_loads((const char *)r->pt + 1, 0, NULL)
			    : NULL;
	if (m)
		format = json_integer_value(json_object_get(m, "format"));
	json_decref(m);
	if (format != 1)
		return bk_fail(b, BK_CORRUPT,
			       "the archive's manifest is missing or of an "
			       "unknown format");
	return 0;
}

/* The end of DIR/pg.log on stderr. */
static void log_tail(const char *dir)
{
	char path[PATH_LEN], buf[2048];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/pg.log", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (lseek(fd, 0, SEEK_END) > (off_t)sizeof(buf))
		lseek(fd, -(off_t)sizeof(buf), SEEK_END);
	else
		lseek(fd, 0, SEEK_SET);
	n = read_full(fd, buf, sizeof(buf));
	if (n > 0)
		fprintf(stderr, "--- the end of pg.log:\n%.*s\n", (int)n, buf);
	close(fd);
}

static int rs_run(struct bk *b, struct restore *rs, struct bk_r *r)
{
	struct cp_config c = *rs->cfg;
	char err[512];

	c.data_dir = rs->tmp;
	if (cp_pg_start(&c, &rs->pg, rs->conninfo, sizeof(rs->conninfo), err,
			sizeof(err))) {
		log_tail(rs->tmp); /* the directory goes: show why now */
		return bk_fail(b, BK_DATABASE, "%s", err);
	}
	if (rs_records(b, rs, r))
		return -1;
	cp_pg_stop(rs->pg);
	rs->pg = NULL;
	if (rename(rs->tmp, rs->cfg->data_dir) != 0)
		return bk_fail(b, BK_IO, "unable to rename '%s' to '%s': %s",
			       rs->tmp, rs->cfg->data_dir, strerror(errno));
	rs->tmp[0] = '\0';
	return 0;
}

static int cmd_restore(struct bk *b, const struct cp_config *cfg,
		       const char *from, const char *keyfile)
{
	struct restore rs = {.cfg = cfg, .fd = -1};
	struct bk_r r = {.fd = -1};
	unsigned char pk[32], *sk = sodium_malloc(32);
	char parent[PATH_LEN], abs[PATH_MAX];
	int rc = -1;

	if (cfg->database_url) {
		bk_fail(b, BK_USAGE,
			"restore rebuilds an embedded data directory; to load "
			"an external database see docs/operations-backup.md");
		goto out;
	}
	snprintf(parent, sizeof(parent), "%s", cfg->data_dir);
	r.pt = sodium_malloc(REC_MAX + 1);
	r.ct = malloc(CT_MAX);
	if (!sk || !r.pt || !r.ct) {
		bk_fail(b, BK_IO, "out of memory");
		goto out;
	}
	if (dir_check_empty(b, cfg->data_dir) ||
	    seckey_read(b, keyfile, sk, pk))
		goto out;
	r.fd = open(from, O_RDONLY | O_CLOEXEC);
	if (r.fd < 0) {
		bk_fail(b, BK_IO, "unable to open '%s': %s", from,
			strerror(errno));
		goto out;
	}
	if (r_open(b, &r, sk, pk) || rs_manifest(b, &r))
		goto out;
	/* a sibling of DATA_DIR (same file system, short socket path), by
	 * its absolute path: postgres needs one */
	if (!realpath(dirname(parent), abs)) {
		bk_fail(b, BK_IO, "unable to resolve the parent of '%s': %s",
			cfg->data_dir, strerror(errno));
		goto out;
	}
	snprintf(rs.tmp, sizeof(rs.tmp), "%s/.clawrs-XXXXXX", abs);
	if (!mkdtemp(rs.tmp)) {
		bk_fail(b, BK_IO,
			"unable to create a directory beside '%s': %s",
			cfg->data_dir, strerror(errno));
		rs.tmp[0] = '\0';
		goto out;
	}
	rc = rs_run(b, &rs, &r);
	if (!rc)
		printf("restored into %s\n", cfg->data_dir);
out:
	if (rs.psql > 0) {
		kill(rs.psql, SIGKILL); /* before EOF could commit */
		waitpid(rs.psql, NULL, 0);
	}
	if (rs.fd >= 0)
		close(rs.fd);
	cp_pg_stop(rs.pg);
	if (rs.tmp[0])
		nftw(rs.tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (r.fd >= 0)
		close(r.fd);
	if (r.pt)
		sodium_free(r.pt);
	free(r.ct);
	if (sk)
		sodium_free(sk);
	return rc;
}

/* ---- the command line */

struct own_opt {
	const char *name;
	char *val;
};

static const char usage_text[] =
	"  backup-keygen --out FILE\n"
	"      write an X25519 key pair for backups: FILE (secret, 0600; keep "
	"it off the server) and FILE.pub\n"
	"  backup --out FILE [--to-key PUBKEY_FILE] [options]\n"
	"      write an encrypted archive of the database and the key "
	"material (default key DATA_DIR/backup.pub)\n"
	"  restore --from FILE --key SECRET_KEY_FILE --data-dir DIR "
	"[options]\n"
	"      rebuild a new, empty DIR from an archive\n"
	"  (options: as for the daemon, e.g. --database-url, "
	"--master-key-file, --pg-bin-dir; errors: one line \"error CODE: "
	"...\", exit status by code: docs/operations-backup.md)\n";

void cp_backup_usage(FILE *f)
{
	fprintf(f, "\nSubcommands:\n%s", usage_text);
}

bool cp_backup_is_command(const char *arg)
{
	return arg &&
		(!strcmp(arg, "backup") || !strcmp(arg, "restore") ||
		 !strcmp(arg, "backup-keygen"));
}

/* Take own options out of argv[2..] into own[].val; the rest (with argv[0])
 * go to rest for cp_config_load. Returns rest's count, -1 on a usage
 * error, 0 for --help. */
static int split_args(struct bk *b, int argc, char **argv, struct own_opt *own,
		      size_t n_own, char **rest)
{
	int nrest = 0;

	rest[nrest++] = argv[0];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i];
		size_t k = 0, len;

		if (!strcmp(a, "--help") || !strcmp(a, "-h"))
			return 0;
		for (; k < n_own; k++) {
			len = strlen(own[k].name);
			if (!strncmp(a, own[k].name, len) &&
			    (a[len] == '\0' || a[len] == '='))
				break;
		}
		if (k == n_own) {
			rest[nrest++] = argv[i];
			continue;
		}
		if (a[len] == '=')
			own[k].val = (char *)a + len + 1;
		else if (i + 1 < argc)
			own[k].val = argv[++i];
		else
			return bk_fail(b, BK_USAGE, "%s needs a value",
				       own[k].name);
	}
	return nrest;
}

int cp_backup_main(int argc, char **argv)
{
	struct bk b = {.cmd = argv[1]};
	struct own_opt own[] = {{"--out", NULL},
				{"--to-key", NULL},
				{"--from", NULL},
				{"--key", NULL}};
	bool keygen = !strcmp(b.cmd, "backup-keygen");
	bool backup = !strcmp(b.cmd, "backup");
	struct cp_ctx ctx = {0};
	char **rest = calloc((size_t)argc + 1, sizeof(*rest));
	char err[512];
	int nrest;

	signal(SIGPIPE, SIG_IGN); /* a dying psql is an error, not a signal */
	if (!rest || claw_crypto_init() || sodium_init() < 0) {
		free(rest);
		return bk_fail(&b, BK_IO, "unable to initialise"), b.status;
	}
	claw_log_init("controlplane", CLAW_LOG_WARN, NULL);
	nrest = split_args(&b, argc, argv, own, 4, rest);
	if (nrest == 0) {
		printf("usage: claw-controlplane SUBCOMMAND ...\n%s",
		       usage_text);
		free(rest);
		return 0;
	}
	if (nrest < 0)
		goto out;
	if (keygen) {
		if (!own[0].val || own[1].val || own[2].val || own[3].val ||
		    nrest != 1)
			bk_fail(&b, BK_USAGE,
				"usage: backup-keygen --out FILE");
		else
			cmd_keygen(&b, own[0].val);
		goto out;
	}
	if (backup ? (!own[0].val || own[2].val || own[3].val)
		   : (!own[2].val || !own[3].val || own[0].val || own[1].val)) {
		bk_fail(&b, BK_USAGE, "%s",
			backup ? "usage: backup --out FILE [--to-key "
				 "PUBKEY_FILE] [options]"
			       : "usage: restore --from FILE --key "
				 "SECRET_KEY_FILE --data-dir DIR [options]");
		goto out;
	}
	if (cp_config_load(&ctx.cfg, nrest, rest, err, sizeof(err)) !=
	    CLAW_CFG_OK) {
		bk_fail(&b, BK_USAGE, "%s", err);
		goto release;
	}
	ctx.master_key_env = getenv("CLAW_MASTER_KEY");
	if (backup)
		cmd_backup(&b, &ctx, own[0].val, own[1].val);
	else
		cmd_restore(&b, &ctx.cfg, own[2].val, own[3].val);
release:
	cp_config_release(&ctx.cfg);
out:
	free(rest);
	return b.status;
}
