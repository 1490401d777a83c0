/*
 * listen.h - a server's listen address, "ADDRESS:PORT" with a numeric
 * address ("127.0.0.1:7070", "[::1]:7070"; port 0: any free one), as the
 * daemons' --listen options take it. Numeric only: no resolver is called
 * (the static bridge has none).
 */
#ifndef CLAW_LISTEN_H
#define CLAW_LISTEN_H

#include <stddef.h>
#include <sys/socket.h>

/* listen as a socket address in *ss (its size in *len); -1 with err set
 * (the address quoted, and what a valid one looks like). */
int claw_listen_addr(const char *listen, struct sockaddr_storage *ss,
		     socklen_t *len, char *err, size_t errlen);

#endif
