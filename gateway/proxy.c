/*
 * proxy.c - the egress allow-list proxy. The runtime has no route out; it
 * reaches its LLM provider and MCP servers through this HTTP CONNECT proxy
 * on the tenant's internal network. A CONNECT is tunnelled only when the
 * tenant's egress_allow names its host:port (egress.c) and every address
 * the host resolves to is public or itself named by an address or network
 * entry; the proxy then dials exactly the addresses it checked (one
 * resolution, no second lookup by name). Anything else gets 403 and a log
 * line; requests that are not CONNECT get 405 (clients must tunnel;
 * libcurl does with a proxy set).
 *
 * One joinable thread per tunnel, at most MAX_TUNNELS; the acceptor joins
 * the finished ones. The request head has one deadline (not an idle timer
 * that each byte resets), a dial has one per address, bytes are relayed
 * with poll(). gw_proxy_stop shuts down the listening socket and every
 * tunnel's sockets (under the proxy's lock, so never a descriptor a
 * tunnel already closed), which wakes every blocked thread, and joins
 * them all before freeing the proxy.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "claw/log.h"
#include "gw.h"

#define HEAD_MAX 8192
#define HEAD_TIMEOUT_MS 30000
#define DIAL_TIMEOUT_MS 10000
#define MAX_TUNNELS 256
#define IO_TIMEOUT_MS 300000
#define TUNNEL_STACK (128 * 1024)

struct tunnel {
	struct tunnel *next;
	struct gw_proxy *p;
	pthread_t thr;
	int fd, up; /* under p->mu, -1 once closed */
	bool done;  /* under p->mu: the thread is about to return */
	char peer[64];
};

struct gw_proxy {
	struct gw *g;
	int fd;
	uint16_t port;
	pthread_t thr;
	pthread_mutex_t mu;
	bool stop;              /* under mu */
	struct tunnel *tunnels; /* under mu: running or done, not joined */
};

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

/* Read the request head, byte-exact up to the blank line (so any bytes
 * the client sends after it belong to the tunnel), within one deadline
 * for the whole head. */
static enum claw_rc read_head(int fd, char *head, size_t *len_out)
{
	double deadline = gw_now() + HEAD_TIMEOUT_MS / 1000.0;
	size_t len = 0;
	while (len < HEAD_MAX) {
		long left = (long)((deadline - gw_now()) * 1000.0);
		struct pollfd pf = {fd, POLLIN, 0};
		if (left <= 0)
			return CLAW_ERR_TIMEOUT;
		int n = poll(&pf, 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return CLAW_ERR_TIMEOUT;
		ssize_t r = recv(fd, head + len, 1, 0);
		if (r <= 0)
			return CLAW_ERR_IO;
		len++;
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0) {
			head[len] = '\0';
			*len_out = len;
			return CLAW_OK;
		}
	}
	return CLAW_ERR_TOO_LARGE;
}

/* Register (fd >= 0) or forget (-1) the tunnel's upstream socket, so a
 * stop can shut it down; false when the proxy is stopping. */
static bool set_up(struct tunnel *t, int fd)
{
	struct gw_proxy *p = t->p;
	pthread_mutex_lock(&p->mu);
	bool ok = !p->stop || fd < 0;
	if (ok)
		t->up = fd;
	pthread_mutex_unlock(&p->mu);
	return ok;
}

/* Wait for a non-blocking connect: 0 when it is established, else why
 * not (an errno; ETIMEDOUT after DIAL_TIMEOUT_MS). */
static int wait_connected(int fd)
{
	struct pollfd pf = {fd, POLLOUT, 0};
	int err = 0, n;
	socklen_t el = sizeof(err);
	do
		n = poll(&pf, 1, DIAL_TIMEOUT_MS);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno;
	if (n == 0)
		return ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el))
		return errno;
	return err;
}

/* Connect to the checked addresses in order (never the name again);
 * the connected socket (blocking, registered in t->up) or -1 with *why
 * the last address's errno (0: the proxy is stopping). */
static int dial(struct tunnel *t, const struct addrinfo *ai, int *why)
{
	*why = 0;
	for (const struct addrinfo *a = ai; a; a = a->ai_next) {
		int fd = socket(a->ai_family,
				a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
				a->ai_protocol);
		if (fd < 0) {
			*why = errno;
			continue;
		}
		if (!set_up(t, fd)) {
			close(fd);
			*why = 0;
			return -1;
		}
		int err = connect(fd, a->ai_addr, a->ai_addrlen) ? errno : 0;
		if (err == EINPROGRESS)
			err = wait_connected(fd);
		if (!err &&
		    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) != 0)
			err = errno;
		if (!err)
			return fd;
		*why = err;
		set_up(t, -1);
		close(fd);
	}
	return -1;
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

/* Is host:port allowed, by name and by every address it resolves to?
 * *ai: the addresses to dial when it is. Logs and counts the decision. */
static enum gw_proxy_decision decide(struct tunnel *t, const char *host,
				     unsigned port, struct addrinfo **ai)
{
	char why[160];
	struct gw_conf *c = gw_conf_get(t->p->g);
	enum gw_proxy_decision d = GW_PROXY_NOT_LISTED;
	*ai = NULL;
	if (gw_egress_allowed(c->egress_allow, host, port)) {
		enum claw_rc rc = gw_egress_resolve(c->egress_allow, host, port,
						    ai, why, sizeof(why));
		d = rc == CLAW_ERR_INVALID ? GW_PROXY_INTERNAL
					   : GW_PROXY_ALLOWED;
		if (rc == CLAW_ERR_NOT_FOUND)
			log_warn("egress proxy: %s (for %s)", why, t->peer);
	}
	gw_conf_put(c);
	gw_metrics_proxy(d);
	if (d == GW_PROXY_NOT_LISTED)
		log_warn("egress proxy: refused %s:%u from %s (not in "
			 "egress_allow)",
			 host, port, t->peer);
	else if (d == GW_PROXY_INTERNAL)
		log_warn("egress proxy: refused %s:%u from %s (%s; name the "
			 "address in egress_allow to allow it)",
			 host, port, t->peer, why);
	return d;
}

static const char forbidden[] =
	"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n"
	"Content-Type: text/plain\r\nContent-Length: 37\r\n"
	"\r\nthis host is not in the allow-list.\r\n";
static const char bad_gateway[] = "HTTP/1.1 502 Bad Gateway\r\n"
				  "Connection: close\r\n"
				  "Content-Length: 0\r\n\r\n";
static const char unavailable[] = "HTTP/1.1 503 Service Unavailable\r\n"
				  "Connection: close\r\n"
				  "Content-Length: 0\r\n\r\n";

/* One CONNECT: the head, the decision, the dial, then the relay. */
static void serve(struct tunnel *t)
{
	char head[HEAD_MAX + 1], host[256];
	size_t len = 0;
	unsigned port = 0;
	struct addrinfo *ai = NULL;
	enum claw_rc rc = read_head(t->fd, head, &len);
	if (rc == CLAW_ERR_TOO_LARGE)
		send_str(t->fd,
			 "HTTP/1.1 431 Request Header Fields Too Large\r\n"
			 "Connection: close\r\n\r\n");
	if (rc)
		return;
	if (gw_proxy_parse_connect(head, len, host, sizeof(host), &port)) {
		send_str(t->fd,
			 "HTTP/1.1 405 Method Not Allowed\r\nAllow: "
			 "CONNECT\r\nConnection: close\r\n"
			 "Content-Length: 0\r\n\r\n");
		log_warn("egress proxy: refused a request that is not CONNECT "
			 "from %s",
			 t->peer);
		return;
	}
	if (decide(t, host, port, &ai) != GW_PROXY_ALLOWED) {
		send_str(t->fd, forbidden);
		return;
	}
	bool resolved = ai;
	int why = 0, up = resolved ? dial(t, ai, &why) : -1;
	if (resolved)
		freeaddrinfo(ai);
	if (up < 0) {
		const char *cause = "the name did not resolve";
		if (why)
			cause = strerror(why);
		else if (resolved)
			cause = "the proxy is stopping";
		log_warn("egress proxy: unable to reach %s:%u: %s", host, port,
			 cause);
		send_str(t->fd, bad_gateway);
		return;
	}
	log_info("egress proxy: tunnel to %s:%u for %s", host, port, t->peer);
	send_str(t->fd, "HTTP/1.1 200 Connection Established\r\n\r\n");
	relay(t->fd, up);
}

static void *tunnel_run(void *arg)
{
	struct tunnel *t = arg;
	struct gw_proxy *p = t->p;
	serve(t);
	pthread_mutex_lock(&p->mu);
	int fd = t->fd, up = t->up;
	t->fd = t->up = -1;
	t->done = true;
	pthread_mutex_unlock(&p->mu);
	if (up >= 0)
		close(up);
	close(fd);
	return NULL;
}

/* Join and free the finished tunnels (all of them: wait for each). */
static void reap(struct gw_proxy *p, bool all)
{
	struct tunnel *gone = NULL;
	pthread_mutex_lock(&p->mu);
	for (struct tunnel **tp = &p->tunnels; *tp;) {
		struct tunnel *t = *tp;
		if (all || t->done) {
			*tp = t->next;
			t->next = gone;
			gone = t;
		} else {
			tp = &t->next;
		}
	}
	pthread_mutex_unlock(&p->mu);
	while (gone) {
		struct tunnel *t = gone;
		gone = t->next;
		pthread_join(t->thr, NULL);
		free(t);
	}
}

/* A thread for one accepted connection (fd is the thread's, or closed
 * here with a 503 when there is no room or no thread). */
static void start_tunnel(struct gw_proxy *p, int fd,
			 const struct sockaddr_storage *ss, socklen_t sl)
{
	pthread_attr_t at;
	size_t n = 0;
	struct tunnel *t = calloc(1, sizeof(*t));
	if (t) {
		t->p = p;
		t->fd = fd;
		t->up = -1;
		getnameinfo((const struct sockaddr *)ss, sl, t->peer,
			    sizeof(t->peer), NULL, 0, NI_NUMERICHOST);
	}
	pthread_attr_init(&at);
	pthread_attr_setstacksize(&at, TUNNEL_STACK);
	pthread_mutex_lock(&p->mu);
	for (struct tunnel *x = p->tunnels; x; x = x->next)
		n++;
	int err;
	if (!t)
		err = ENOMEM;
	else if (p->stop)
		err = ECANCELED;
	else if (n >= MAX_TUNNELS)
		err = EAGAIN;
	else
		err = gw_thread_create(&t->thr, &at, tunnel_run, t);
	if (!err) {
		t->next = p->tunnels;
		p->tunnels = t;
	}
	pthread_mutex_unlock(&p->mu);
	pthread_attr_destroy(&at);
	if (!err)
		return;
	if (n >= MAX_TUNNELS)
		log_warn("egress proxy: %d tunnels open; refused a connection",
			 MAX_TUNNELS);
	else if (err != ECANCELED)
		log_error("egress proxy: unable to start a tunnel thread: %s",
			  strerror(err));
	if (err != ECANCELED) /* a stopping proxy just closes */
		send_str(fd, unavailable);
	close(fd);
	free(t);
}

static void *acceptor(void *arg)
{
	struct gw_proxy *p = arg;
	for (;;) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(p->fd, (struct sockaddr *)&ss, &sl,
				 SOCK_CLOEXEC);
		pthread_mutex_lock(&p->mu);
		bool stop = p->stop;
		pthread_mutex_unlock(&p->mu);
		if (fd < 0) {
			if (stop || errno == EBADF || errno == EINVAL)
				return NULL;
			if (errno != EINTR && errno != ECONNABORTED)
				poll(NULL, 0, 100); /* EMFILE...: not a spin */
			continue;
		}
		reap(p, false);
		start_tunnel(p, fd, &ss, sl);
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
	pthread_mutex_init(&p->mu, NULL);
	p->fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (p->fd < 0 || bind(p->fd, ai->ai_addr, ai->ai_addrlen) ||
	    listen(p->fd, 128)) {
		snprintf(errbuf, errlen, "unable to listen on %s: %s",
			 listen_addr, strerror(errno));
		freeaddrinfo(ai);
		if (p->fd >= 0)
			close(p->fd);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return CLAW_ERR_IO;
	}
	freeaddrinfo(ai);
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);
	if (getsockname(p->fd, (struct sockaddr *)&ss, &sl) != 0) {
		snprintf(errbuf, errlen, "unable to read the proxy's port: %s",
			 strerror(errno));
		close(p->fd);
		pthread_mutex_destroy(&p->mu);
		free(p);
		return CLAW_ERR_IO;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 s6;
		memcpy(&s6, &ss, sizeof(s6));
		p->port = ntohs(s6.sin6_port);
	} else {
		struct sockaddr_in s4;
		memcpy(&s4, &ss, sizeof(s4));
		p->port = ntohs(s4.sin_port);
	}
	int err = gw_thread_create(&p->thr, NULL, acceptor, p);
	if (err) {
		snprintf(errbuf, errlen,
			 "unable to start the egress proxy's thread: %s",
			 strerror(err));
		close(p->fd);
		pthread_mutex_destroy(&p->mu);
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
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	shutdown(p->fd, SHUT_RDWR);
	for (struct tunnel *t = p->tunnels; t; t = t->next) {
		if (t->fd >= 0)
			shutdown(t->fd, SHUT_RDWR);
		if (t->up >= 0)
			shutdown(t->up, SHUT_RDWR);
	}
	pthread_mutex_unlock(&p->mu);
	pthread_join(p->thr, NULL);
	reap(p, true);
	close(p->fd);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
