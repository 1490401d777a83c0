/*
 * bootstrap.h - the first admin token, created on first start.
 */
#ifndef CP_BOOTSTRAP_H
#define CP_BOOTSTRAP_H

#include <stddef.h>
#include "cp.h"

/* When no admin token exists yet: create one (with its audit row, under an
 * advisory lock so two daemons starting at once make one), write it to
 * DATA_DIR/admin.token (0600) and print it once on stdout. */
int cp_bootstrap_admin(struct cp_ctx *ctx, char *errbuf, size_t errlen);

#endif
