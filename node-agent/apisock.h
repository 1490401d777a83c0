/*
 * apisock.h - the unix socket the node agent's local API listens on.
 *
 * The API serves every tenant's container logs (customers' conversations),
 * so only the agent's owner (root) may connect, and the members of one
 * configured group when there is one: the socket is mode 0600 (0660 with a
 * group, owned by it). It is created safely:
 *   - the directory it lives in must belong to the agent's user (or root)
 *     and must not be writable by group or others, so nobody else can put
 *     something in its place;
 *   - it is bound inside a fresh private directory (0700), given its mode
 *     and group there, and only then renamed to its path, so there is no
 *     moment at which it exists with looser permissions;
 *   - a lock (flock on PATH.lock, held while the agent runs) says whether
 *     another agent serves that path: then the start is refused. Without
 *     one, a socket left at the path (an agent that died) is replaced;
 *     anything there that is not a socket is refused.
 * Removed at shutdown only when the path still names the socket made here.
 */
#ifndef NA_APISOCK_H
#define NA_APISOCK_H

#include <stddef.h>
#include <sys/types.h>

#include "claw/err.h"

struct na_apisock {
	int fd;         /* listening, non-blocking, close-on-exec */
	int lock_fd;    /* PATH.lock, flock'ed */
	char path[108]; /* sun_path */
	dev_t dev;      /* the socket file made here */
	ino_t ino;
};

/* Make the listening socket at path (parent directories created 0755 when
 * missing). group: -1 for mode 0600, else a gid for 0660 with that group.
 * msg says why it failed (the caller logs it); s->fd is -1 then. */
enum claw_rc na_apisock_open(struct na_apisock *s, const char *path, long group,
			     char *msg, size_t msglen);

/* Unlink the socket file when the path still names the one made here and
 * release the lock. Does not close fd (the HTTP server owns it once it
 * serves it). */
void na_apisock_close(struct na_apisock *s);

/* Resolve a group name or number ("claw-ops", "1001") to a gid. */
enum claw_rc na_apisock_group(const char *name, gid_t *gid);

#endif
