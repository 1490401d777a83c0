/*
 * test_gw_proxy.c - the egress proxy, live on 127.0.0.1 with an echo
 * server: a name on the list that resolves to loopback is refused (and
 * counted) until the address itself is listed; each CONNECT resolves its
 * name once (a counting stand-in resolver); an IPv4-mapped literal is
 * named by its IPv4 entry; gw_proxy_stop ends open tunnels and a
 * connection still sending its head, and waits for their threads (ASan
 * would report a tunnel touching the freed proxy); a failed thread start
 * is refused with 503, and a proxy whose acceptor cannot start is not
 * started.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <sodium.h>

#include "claw/log.h"
#include "gw.h"
#include "gw_testutil.h"

/* ------------------------------------------------------- echo server */
struct echo {
	int fd;
	uint16_t port;
	pthread_t thr;
};

static void *echo_run(void *arg)
{
	struct echo *e = arg;
	char buf[512];
	for (;;) {
		int c = accept(e->fd, NULL, NULL);
		if (c < 0)
			return NULL;
		ssize_t n;
		while ((n = recv(c, buf, sizeof(buf), 0)) > 0)
			if (send(c, buf, (size_t)n, MSG_NOSIGNAL) != n)
				break;
		close(c);
	}
}

static void echo_start(struct echo *e)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	e->fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(e->fd >= 0);
	assert_int_equal(bind(e->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(e->fd, 8), 0);
	getsockname(e->fd, (struct sockaddr *)&sa, &sl);
	e->port = ntohs(sa.sin_port);
	assert_int_equal(pthread_create(&e->thr, NULL, echo_run, e), 0);
}

static void echo_stop(struct echo *e)
{
	shutdown(e->fd, SHUT_RDWR);
	pthread_join(e->thr, NULL);
	close(e->fd);
}

/* ------------------------------------------------------------ helpers */
static struct gw g;

static void set_allow(const char *a, const char *b, unsigned port)
{
	char text[300], err[300];
	struct gw_conf *c = calloc(1, sizeof(*c));
	assert_non_null(c);
	atomic_init(&c->refs, 1);
	if (b)
		snprintf(text, sizeof(text),
			 "{\"tenant\":\"t\",\"channels\":{},\"egress_allow\":"
			 "[\"%s:%u\",\"%s:%u\"]}",
			 a, port, b, port);
	else
		snprintf(text, sizeof(text),
			 "{\"tenant\":\"t\",\"channels\":{},\"egress_allow\":"
			 "[\"%s:%u\"]}",
			 a, port);
	c->root = json_loads(text, 0, NULL);
	assert_non_null(c->root);
	assert_int_equal(gw_conf_check(c->root, c, err, sizeof(err)), CLAW_OK);
	if (g.conf)
		gw_conf_swap(&g, c);
	else
		g.conf = c;
}

static int resolver_calls;

static int fake_resolve(const char *node, const char *service,
			const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo h = *hints;
	resolver_calls++;
	h.ai_flags |= AI_NUMERICHOST;
	if (strcmp(node, "svc.test") == 0)
		return getaddrinfo("127.0.0.1", service, &h, res);
	return getaddrinfo(node, service, hints, res);
}

/* Connect to the proxy and send CONNECT target; the status line's code
 * (0 when the proxy closed without one); *fd_out the open socket. */
static int connect_via(uint16_t proxy, const char *target, int *fd_out)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct timeval tv = {10, 0};
	char req[300], head[1024];
	size_t len = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(proxy);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	snprintf(req, sizeof(req), "CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n",
		 target, target);
	assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL),
			 (ssize_t)strlen(req));
	while (len < sizeof(head) - 1) {
		ssize_t r = recv(fd, head + len, 1, 0);
		if (r <= 0)
			break;
		len++;
		if (len >= 4 && memcmp(head + len - 4, "\r\n\r\n", 4) == 0)
			break;
	}
	head[len] = '\0';
	*fd_out = fd;
	return len > 12 && strncmp(head, "HTTP/1.1 ", 9) == 0
		? (int)strtol(head + 9, NULL, 10)
		: 0;
}

static void assert_echo(int fd)
{
	char buf[16] = "";
	assert_int_equal(send(fd, "ping", 4, MSG_NOSIGNAL), 4);
	assert_int_equal(recv(fd, buf, 4, MSG_WAITALL), 4);
	assert_memory_equal(buf, "ping", 4);
}

static unsigned long metric(const char *line_start)
{
	char *text = gw_metrics_render_new(0, true);
	const char *p = strstr(text, line_start);
	unsigned long v = p ? strtoul(p + strlen(line_start), NULL, 10) : 0;
	free(text);
	return v;
}

#define INTERNAL                                                               \
	"claw_gateway_proxy_refused_total{reason=\"internal_address\"} "
#define REFUSED "claw_gateway_proxy_connections_total{decision=\"refused\"} "

static struct gw_proxy *proxy_start(void)
{
	struct gw_proxy *p = NULL;
	char err[300];
	assert_int_equal(
		gw_proxy_start(&g, "127.0.0.1:0", &p, err, sizeof(err)),
		CLAW_OK);
	return p;
}

/* ---------------------------------------------------------------- tests */
static void internal_addresses_need_naming(void **state)
{
	(void)state;
	struct echo e;
	char target[64];
	int fd;
	echo_start(&e);
	gw_egress_getaddrinfo = fake_resolve;
	set_allow("svc.test", NULL, e.port);
	struct gw_proxy *p = proxy_start();
	unsigned long internal = metric(INTERNAL), refused = metric(REFUSED);

	/* listed by name, resolves to loopback: refused, counted */
	snprintf(target, sizeof(target), "svc.test:%u", e.port);
	resolver_calls = 0;
	assert_int_equal(connect_via(gw_proxy_port(p), target, &fd), 403);
	close(fd);
	assert_int_equal(resolver_calls, 1);
	assert_int_equal(metric(INTERNAL), internal + 1);
	assert_int_equal(metric(REFUSED), refused + 1);

	/* the address itself listed: the same name is tunnelled, dialled
	 * at the address its one lookup returned */
	set_allow("svc.test", "127.0.0.1", e.port);
	assert_int_equal(connect_via(gw_proxy_port(p), target, &fd), 200);
	assert_echo(fd);
	close(fd);
	assert_int_equal(resolver_calls, 2);

	/* an IPv4-mapped literal is named by the IPv4 entry */
	snprintf(target, sizeof(target), "[::ffff:127.0.0.1]:%u", e.port);
	assert_int_equal(connect_via(gw_proxy_port(p), target, &fd), 200);
	assert_echo(fd);
	close(fd);
	/* ... and an unlisted loopback address is not */
	snprintf(target, sizeof(target), "127.0.0.2:%u", e.port);
	assert_int_equal(connect_via(gw_proxy_port(p), target, &fd), 403);
	close(fd);

	gw_proxy_stop(p);
	gw_egress_getaddrinfo = getaddrinfo;
	echo_stop(&e);
}

static void stop_ends_tunnels(void **state)
{
	(void)state;
	struct echo e;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char target[64], c;
	int fd;
	echo_start(&e);
	set_allow("127.0.0.1", NULL, e.port);
	struct gw_proxy *p = proxy_start();
	snprintf(target, sizeof(target), "127.0.0.1:%u", e.port);
	assert_int_equal(connect_via(gw_proxy_port(p), target, &fd), 200);
	assert_echo(fd);
	/* a second client still sending its head */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(gw_proxy_port(p));
	int slow = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {10, 0};
	setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(slow, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(send(slow, "CONNECT ", 8, MSG_NOSIGNAL), 8);

	/* returns only after every tunnel thread ended: both see EOF now,
	 * without closing their side first */
	gw_proxy_stop(p);
	errno = 0;
	assert_int_equal(recv(fd, &c, 1, 0), 0);
	ssize_t r = recv(slow, &c, 1, 0);
	if (!(r == 0 || (r < 0 && errno == ECONNRESET)))
		fail_msg("the slow client is still open (%zd, %s)", r,
			 strerror(errno));
	close(fd);
	close(slow);
	echo_stop(&e);
}

static void thread_failures(void **state)
{
	(void)state;
	struct gw_proxy *p = NULL;
	char err[300], target[64];
	int fd;
	set_allow("127.0.0.1", NULL, 9);
	gw_thread_create = gw_test_fail_create;
	assert_int_equal(
		gw_proxy_start(&g, "127.0.0.1:0", &p, err, sizeof(err)),
		CLAW_ERR_INTERNAL);
	assert_null(p);
	assert_non_null(strstr(err, "thread"));
	gw_thread_create = pthread_create;
	p = proxy_start();
	gw_thread_create = gw_test_fail_create;
	snprintf(target, sizeof(target), "127.0.0.1:9");
	assert_int_equal(connect_via(gw_proxy_port(p), target, &fd), 503);
	close(fd);
	gw_thread_create = pthread_create;
	gw_proxy_stop(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(internal_addresses_need_naming),
		cmocka_unit_test(stop_ends_tunnels),
		cmocka_unit_test(thread_failures),
	};
	if (sodium_init() < 0)
		return 1;
	claw_log_init("test", CLAW_LOG_ERROR, NULL);
	pthread_mutex_init(&g.conf_mu, NULL);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	gw_conf_put(g.conf);
	return rc;
}
