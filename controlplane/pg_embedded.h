/*
 * pg_embedded.h - the private PostgreSQL cluster the daemon runs when it
 * has no database URL.
 */
#ifndef CP_PG_EMBEDDED_H
#define CP_PG_EMBEDDED_H

#include <stddef.h>
#include <sys/types.h>
#include "cp.h"

struct cp_pg;

/* Create the cluster under DATA_DIR/pg on first start (initdb), clear what
 * a crashed run left (a stale postmaster.pid, a postmaster still shutting
 * down), start postgres as a child on a unix socket only and wait until it
 * accepts connections. Under root, postgres runs as cfg->pg_user. conninfo
 * gets the libpq string to reach it. Returns 0, or -1 with errbuf. */
int cp_pg_start(const struct cp_config *cfg, struct cp_pg **out, char *conninfo,
		size_t conninfo_len, char *errbuf, size_t errlen);
/* The postmaster's pid (to notice its death). */
pid_t cp_pg_pid(const struct cp_pg *pg);
/* Note that the postmaster exited (reaped by the caller). */
void cp_pg_exited(struct cp_pg *pg);
/* Fast shutdown (active transactions roll back), wait, free. NULL: no-op. */
void cp_pg_stop(struct cp_pg *pg);

#endif
