/*
 * bootstrap.c - the first admin token.
 *
 * Under a transaction-scoped advisory lock, so two daemons starting at once
 * against one database make one token between them: if no admin token was
 * ever made, make one with its audit row, then write it to
 * DATA_DIR/admin.token (0600) and print it once on stdout.
 */
#include "bootstrap.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "audit.h"
#include "claw/crypto.h"
#include "claw/log.h"
#include "store/store.h"
#include "validate.h"

struct boot {
	char id[CP_ID_MAX];
	char hash[65];
	bool created;
};

static enum claw_rc boot_tx(PGconn *c, void *cls)
{
	struct boot *b = cls;
	struct cp_token_new t = {.id = b->id,
				 .hash = b->hash,
				 .role = "admin",
				 .name = "bootstrap"};
	char target[64];
	bool exists = false;
	enum claw_rc rc;

	b->created = false;
	rc = cp_store_token_bootstrap_lock(c);
	if (!rc)
		rc = cp_store_token_admin_exists(c, &exists);
	if (rc || exists)
		return rc;
	rc = cp_store_token_insert(c, &t, NULL);
	if (rc)
		return rc;
	snprintf(target, sizeof(target), "tokens/%s", b->id);
	rc = cp_audit_request(c, NULL, NULL, "token.bootstrap", target, NULL,
			      json_pack("{s:s}", "role", "admin"));
	b->created = !rc;
	return rc;
}

static int write_token(const char *dir, const char *token, char *path,
		       size_t pathlen)
{
	size_t n = strlen(token);
	int fd;

	snprintf(path, pathlen, "%s/admin.token", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0600) != 0 || write(fd, token, n) != (ssize_t)n ||
	    write(fd, "\n", 1) != 1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

int cp_bootstrap_admin(struct cp_ctx *ctx, char *errbuf, size_t errlen)
{
	struct boot b;
	char token[CP_TOKEN_LEN], path[4200];
	enum claw_rc rc;

	cp_id_new("tok_", b.id, sizeof(b.id));
	claw_random_token(CP_TOKEN_PREFIX, token, sizeof(token));
	claw_blake2b_hex(token, strlen(token), b.hash);
	rc = claw_db_tx(ctx->db, CLAW_DB_READ_COMMITTED, boot_tx, &b);
	if (rc) {
		sodium_memzero(token, sizeof(token));
		snprintf(errbuf, errlen,
			 "unable to create the first admin token: %s (%s)",
			 claw_strerror(rc), claw_db_last_sqlstate());
		return -1;
	}
	if (b.created) {
		if (write_token(ctx->cfg.data_dir, token, path, sizeof(path)))
			log_error("unable to write '%s': %s; the token is "
				  "printed on stdout only",
				  path, strerror(errno));
		else
			log_info("first admin token %s written to %s", b.id,
				 path);
		printf("admin token (shown once; also in %s/admin.token): %s\n",
		       ctx->cfg.data_dir, token);
		fflush(stdout);
	}
	sodium_memzero(token, sizeof(token));
	return 0;
}
