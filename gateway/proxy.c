/*
 * proxy.c - the egress allow-list proxy. The runtime has no route out; it
 * reaches its LLM provider and MCP servers through this HTTP CONNECT proxy
 * on the tenant's internal network. Only "host:port" pairs in the tenant's
 * egress_allow list (exact, or "*.domain:port" for subdomains) are
 * tunnelled; anything else gets 403 and a log line. Requests that are not
 * CONNECT get 405: clients must tunnel (libcurl does with a proxy set).
 * One thread per tunnel, bounded; bytes are relayed with poll().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "claw/log.h"
#include "gw.h"

#define HEAD_MAX 8192
#define MAX_TUNNELS 256
#define IO_TIMEOUT_MS 300000

struct gw_proxy {
	struct gw *g;
	int fd;
	uint16_t port;
	pthread_t thr;
	atomic_int tunnels;
};

struct tunnel {
	struct gw_proxy *p;
	int fd;
	char peer[64];
};

bool gw_egress_allowed(const json_t *allow, const char *host, unsigned port)
{
	size_t i, hl = strlen(host);
	json_t *v;
	json_array_foreach (allow, i, v) {
		const char *e = json_string_value(v);
		const char *colon = e ? strrchr(e, ':') : NULL;
		if (!colon || strtoul(colon + 1, NULL, 10) != port)
			continue;
		size_t el = (size_t)(colon - e);
		if (el == hl && strncasecmp(e, host, hl) == 0)
			return true;
		/* "*.example.com" allows a.example.com, not example.com */
		if (el > 2 && e[0] == '*' && e[1] == '.' && hl > el - 1 &&
		    strncasecmp(host + hl - (el - 1), e + 1, el - 1) == 0)
			return true;
	}
	return false;
}

enum claw_rc gw_proxy_parse_connect(const char *head, size_t len, char *host,
				    size_t hostlen, unsigned *port)
{
	const char *eol = memchr(head, '\n', len);
	if (!eol || len < 8 || memcmp(head, "CONNECT ", 8) != 0)
		return CLAW_ERR_PARSE;
	const char *t = head + 8, *sp = memchr(t, ' ', (size_t)(eol - t));
	if (!sp || sp == t)
		return CLAW_ERR_PARSE;
	const char *rest = sp + 1;
	if ((size_t)(eol - rest) < 8 || memcmp(rest, "HTTP/1.", 7) != 0)
		return CLAW_ERR_PARSE;
	size_t tl = (size_t)(sp - t);
	const char *hs = t, *he;
	const char *pc;
	if (*t == '[') { /* [v6]:port */
		he = memchr(t, ']', tl);
		if (!he || he + 1 >= sp || he[1] != ':')
			return CLAW_ERR_PARSE;
		hs = t + 1;
		pc = he + 1;
	} else {
		pc = NULL;
		for (const char *q = t; q < sp; q++)
			if (*q == ':')
				pc = q;
		if (!pc)
			return CLAW_ERR_PARSE;
		he = pc;
	}
	size_t hl = (size_t)(he - hs);
	if (!hl || hl >= hostlen)
		return CLAW_ERR_PARSE;
	for (size_t i = 0; i < hl; i++) {
		char c = hs[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == ':' || c == '_'))
			return CLAW_ERR_PARSE;
	}
	memcpy(host, hs, hl);
	host[hl] = '\0';
	unsigned long pn = 0;
	const char *d = pc + 1;
	if (d >= sp)
		return CLAW_ERR_PARSE;
	for (; d < sp; d++) {
		if (*d < '0' || *d > '9')
			return CLAW_ERR_PARSE;
		pn = pn * 10 + (unsigned long)(*d - '0');
		if (pn > 65535)
			return CLAW_ERR_PARSE;
	}
	if (!pn)
		return CLAW_ERR_PARSE;
	*port = (unsigned)pn;
	return CLAW_OK;
}

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static int dial(const char *host, unsigned port)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	char ps[8];
	int fd = -1;
	snprintf(ps, sizeof(ps), "%u", port);
	if (getaddrinfo(host, ps, &hints, &ai))
		return -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
			    a->ai_protocol);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* Relay both ways until either side closes or stays idle too long. */
static void relay(int a, int b)
{
	char buf[16384];
	struct pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
	for (;;) {
		int n = poll(p, 2, IO_TIMEOUT_MS);
		if (n <= 0)
			return;
		for (int i = 0; i < 2; i++) {
			if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			ssize_t r = recv(p[i].fd, buf, sizeof(buf), 0);
			if (r <= 0)
				return;
			int to = i ? a : b;
			for (ssize_t off = 0; off < r;) {
				ssize_t w =
					send(to, buf + off, (size_t)(r - off),
					     MSG_NOSIGNAL);
				if (w <= 0)
					return;
				off += w;
			}
		}
	}
}

static void *tunnel_run(void *arg)
{
	struct tunnel *t = arg;
	struct gw_proxy *p = t->p;
	char head[HEAD_MAX + 1], host[256];
	size_t len = 0;
	unsigned port = 0;
	int up = -1;
	struct timeval tv = {30, 0};
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	/* read the request head, byte-exact up to the blank line, so any
	 * bytes the client sends after it belong to the tunnel */
	while (len < HEAD_MAX) {
		ssize_t r = recv(t->fd, head + len, 1, 0);
		if (r <= 0)
			goto out;
		len++;
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[len] = '\0';
	if (len >= HEAD_MAX) {
		send_str(t->fd,
			 "HTTP/1.1 431 Request Header Fields Too Large\r\n"
			 "Connection: close\r\n\r\n");
		goto out;
	}
	if (gw_proxy_parse_connect(head, len, host, sizeof(host), &port)) {
		send_str(t->fd,
			 "HTTP/1.1 405 Method Not Allowed\r\nAllow: "
			 "CONNECT\r\nConnection: close\r\n"
			 "Content-Length: 0\r\n\r\n");
		log_warn("egress proxy: refused a request that is not CONNECT "
			 "from %s",
			 t->peer);
		goto out;
	}
	struct gw_conf *c = gw_conf_get(p->g);
	bool ok = gw_egress_allowed(c->egress_allow, host, port);
	gw_conf_put(c);
	gw_metrics_proxy(ok);
	if (!ok) {
		log_warn("egress proxy: refused %s:%u from %s (not in "
			 "egress_allow)",
			 host, port, t->peer);
		send_str(t->fd,
			 "HTTP/1.1 403 Forbidden\r\nConnection: close\r\n"
			 "Content-Type: text/plain\r\nContent-Length: 37\r\n"
			 "\r\nthis host is not in the allow-list.\r\n");
		goto out;
	}
	up = dial(host, port);
	if (up < 0) {
		log_warn("egress proxy: unable to reach %s:%u", host, port);
		send_str(t->fd,
			 "HTTP/1.1 502 Bad Gateway\r\nConnection: close\r\n"
			 "Content-Length: 0\r\n\r\n");
		goto out;
	}
	log_info("egress proxy: tunnel to %s:%u for %s", host, port, t->peer);
	send_str(t->fd, "HTTP/1.1 200 Connection Established\r\n\r\n");
	tv.tv_sec = 0;
	setsockopt(t->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	relay(t->fd, up);
out:
	if (up >= 0)
		close(up);
	close(t->fd);
	atomic_fetch_sub(&p->tunnels, 1);
	free(t);
	return NULL;
}

static void *acceptor(void *arg)
{
	struct gw_proxy *p = arg;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(p->fd, (struct sockaddr *)&ss, &sl,
				 SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (atomic_load(&p->g->stopping) || errno == EBADF ||
			    errno == EINVAL)
				return NULL;
			continue;
		}
		struct tunnel *t = calloc(1, sizeof(*t));
		pthread_t th;
		pthread_attr_t at;
		if (!t || atomic_fetch_add(&p->tunnels, 1) >= MAX_TUNNELS) {
			if (t)
				atomic_fetch_sub(&p->tunnels, 1);
			free(t);
			send_str(fd,
				 "HTTP/1.1 503 Service Unavailable\r\n"
				 "Connection: close\r\n\r\n");
			close(fd);
			continue;
		}
		t->p = p;
		t->fd = fd;
		getnameinfo((struct sockaddr *)&ss, sl, t->peer,
			    sizeof(t->peer), NULL, 0, NI_NUMERICHOST);
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 128 * 1024);
		if (pthread_create(&th, &at, tunnel_run, t)) {
			close(fd);
			free(t);
			atomic_fetch_sub(&p->tunnels, 1);
		}
		pthread_attr_destroy(&at);
	}
}

enum claw_rc gw_proxy_start(struct gw *g, const char *listen_addr,
			    struct gw_proxy **out, char *errbuf, size_t errlen)
{
	char host[128];
	const char *colon = strrchr(listen_addr, ':');
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST},
			*ai = NULL;
	if (!colon || (size_t)(colon - listen_addr) >= sizeof(host)) {
		snprintf(errbuf, errlen, "--proxy-listen must be ADDR:PORT");
		return CLAW_ERR_INVALID;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - listen_addr),
		 listen_addr);
	char *h = host;
	if (h[0] == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	if (getaddrinfo(h, colon + 1, &hints, &ai)) {
		snprintf(errbuf, errlen,
			 "--proxy-listen '%s' is not a numeric "
			 "ADDR:PORT",
			 listen_addr);
		return CLAW_ERR_INVALID;
	}
	struct gw_proxy *p = calloc(1, sizeof(*p));
	int one = 1;
	if (!p) {
		freeaddrinfo(ai);
		return CLAW_ERR_NOMEM;
	}
	p->g = g;
	p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (p->fd < 0 || bind(p->fd, ai->ai_addr, ai->ai_addrlen) ||
	    listen(p->fd, 128)) {
		snprintf(errbuf, errlen, "unable to listen on %s: %s",
			 listen_addr, strerror(errno));
		freeaddrinfo(ai);
		if (p->fd >= 0)
			close(p->fd);
		free(p);
		return CLAW_ERR_IO;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getsockname(p->fd, (struct sockaddr *)&ss, &sl);
	p->port = ntohs(ss.ss_family == AF_INET6
				? ((struct sockaddr_in6 *)&ss)->sin6_port
				: ((struct sockaddr_in *)&ss)->sin_port);
	if (pthread_create(&p->thr, NULL, acceptor, p)) {
		close(p->fd);
		free(p);
		return CLAW_ERR_INTERNAL;
	}
	*out = p;
	return CLAW_OK;
}

uint16_t gw_proxy_port(const struct gw_proxy *p)
{
	return p->port;
}

void gw_proxy_stop(struct gw_proxy *p)
{
	if (!p)
		return;
	shutdown(p->fd, SHUT_RDWR);
	close(p->fd);
	pthread_join(p->thr, NULL);
	free(p);
}
