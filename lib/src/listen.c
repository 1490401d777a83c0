/*
 * listen.c - a server's numeric listen address (see listen.h).
 */
#include "claw/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* host (brackets removed for IPv6) and port into ss; -1 when not numeric */
static int to_sockaddr(char *host, long port, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	size_t hl = strlen(host);

	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		if (hl < 2 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return inet_pton(AF_INET6, host + 1, &s6->sin6_addr) == 1 ? 0
									  : -1;
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	*len = sizeof(*s4);
	return inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
}

int claw_listen_addr(const char *listen, struct sockaddr_storage *ss,
		     socklen_t *len, char *err, size_t errlen)
{
	char host[128], *end;
	const char *colon = strrchr(listen, ':');
	long port = -1;

	memset(ss, 0, sizeof(*ss));
	if (colon && (size_t)(colon - listen) < sizeof(host)) {
		memcpy(host, listen, (size_t)(colon - listen));
		host[colon - listen] = '\0';
		errno = 0;
		port = strtol(colon + 1, &end, 10);
		if (errno || end == colon + 1 || *end || port > 65535)
			port = -1;
	}
	if (port >= 0 && !to_sockaddr(host, port, ss, len))
		return 0;
	snprintf(err, errlen,
		 "invalid listen address '%.100s'; use a numeric ADDRESS:PORT "
		 "such as 127.0.0.1:7070 or [::1]:7070",
		 listen);
	return -1;
}
