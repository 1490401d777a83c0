/*
 * slowloris.c - holds slow connections against a server on loopback and
 * meanwhile measures what normal clients get; bench_slowloris.py builds
 * and drives it. It prints figures and asserts nothing.
 *
 *   slowloris PORT PATH [options]
 *     -t N      slow connections to hold (default 0: the unloaded figure;
 *               at most 4096)
 *     -s A-B    their source addresses: 127.0.0.A to 127.0.0.B, round
 *               robin (default 2-2: all from 127.0.0.2). Loopback only.
 *     -i S      one byte every S seconds on each (default 5)
 *     -w S      seconds to hold them before measuring (default 12)
 *     -d S      seconds to measure (default 15; at most 600)
 *     -c N      normal clients, keep-alive, from 127.0.0.1 (default 8)
 *     -a TOKEN  send Authorization: Bearer TOKEN
 *
 * A slow connection sends a request line and then an endless header, one
 * byte per interval (a reset idle timer never ends it). When the server
 * closes one, it reconnects at its next tick, as slowloris tools do, so
 * the server faces the same number all along. Normal clients loop GET PATH
 * on keep-alive connections and reconnect on an error; one more client
 * opens a fresh connection for every request (every 20 ms), which is what
 * a full server refuses first.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SLOW 4096
#define MAX_CLIENTS 64
#define MAX_SAMPLES (1u << 22)

static unsigned short g_port;
static const char *g_path = "/";
static const char *g_token;
static atomic_bool g_stop_measure, g_stop_slow;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "slowloris: %s must be %ld to %ld\n", what, lo,
			hi);
		exit(2);
	}
	return v;
}

/* A socket to 127.0.0.1:g_port from 127.0.0.<src> (0: any);
 * non-blocking when nb. -1 on failure. */
static int dial(int src, bool nb)
{
	int fd = socket(AF_INET, SOCK_STREAM | (nb ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET};
	if (src) {
		a.sin_addr.s_addr = htonl(0x7f000000u | (unsigned)src);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a))) {
			close(fd);
			return -1;
		}
	}
	a.sin_port = htons(g_port);
	a.sin_addr.s_addr = htonl(0x7f000001u);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ------------------------------------------------------------ slow side */

static const char slow_text[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-a: ";

struct slow {
	int fd;
	int src;
	size_t sent; /* bytes on this connection */
	double next; /* when to send (or reconnect) */
};

static struct {
	int n, src_lo, src_hi;
	double interval;
	struct slow s[MAX_SLOW];
	atomic_int held;         /* connected and not yet closed */
	atomic_long connects;    /* connections made */
	atomic_long closed_fast; /* closed before the first byte got out */
	atomic_long closed_late; /* closed after some bytes */
} slow;

static void slow_open(struct slow *s, double t)
{
	s->fd = dial(s->src, true);
	s->sent = 0;
	s->next = t + slow.interval;
	if (s->fd >= 0) {
		atomic_fetch_add(&slow.connects, 1);
		atomic_fetch_add(&slow.held, 1);
	}
}

static void slow_lost(struct slow *s, double t)
{
	close(s->fd);
	s->fd = -1;
	atomic_fetch_sub(&slow.held, 1);
	atomic_fetch_add(s->sent ? &slow.closed_late : &slow.closed_fast, 1);
	s->next = t + slow.interval; /* reconnect at the next tick */
}

/* Whether the server has closed fd (or reset it). */
static bool slow_closed(int fd)
{
	char buf[512];
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			continue; /* an answer (a 4xx); read on */
		if (n == 0)
			return true;
		return errno != EAGAIN && errno != EWOULDBLOCK;
	}
}

static void *slow_main(void *arg)
{
	static struct pollfd pfd[MAX_SLOW];
	static int who[MAX_SLOW];
	(void)arg;
	double t0 = now();
	/* open them over the first second, their ticks spread over the
	 * interval */
	for (int i = 0; i < slow.n; i++) {
		struct slow *s = &slow.s[i];
		s->src = slow.src_lo + i % (slow.src_hi - slow.src_lo + 1);
		s->fd = -1;
		s->next = t0 + (double)i / slow.n;
	}
	while (!atomic_load(&g_stop_slow)) {
		/* wait up to 20 ms for a server to close one */
		int np = 0;
		for (int i = 0; i < slow.n; i++)
			if (slow.s[i].fd >= 0) {
				pfd[np] = (struct pollfd){.fd = slow.s[i].fd,
							  .events = POLLIN};
				who[np++] = i;
			}
		int ready = poll(pfd, (nfds_t)np, 20);
		double t = now();
		for (int k = 0; ready > 0 && k < np; k++)
			if (pfd[k].revents && slow_closed(pfd[k].fd))
				slow_lost(&slow.s[who[k]], t);
		if (!np)
			usleep(20000);
		for (int i = 0; i < slow.n; i++) {
			struct slow *s = &slow.s[i];
			if (t < s->next)
				continue;
			if (s->fd < 0) {
				slow_open(s, t);
				continue;
			}
			char c = s->sent < sizeof(slow_text) - 1
				? slow_text[s->sent]
				: 'a';
			ssize_t w = send(s->fd, &c, 1, MSG_NOSIGNAL);
			if (w == 1) {
				s->sent++;
				s->next = t + slow.interval;
			} else if (w < 0 && errno != EAGAIN &&
				   errno != ENOTCONN) {
				slow_lost(s, t);
			} else {
				s->next = t + 0.05; /* still connecting */
			}
		}
	}
	for (int i = 0; i < slow.n; i++)
		if (slow.s[i].fd >= 0)
			close(slow.s[i].fd);
	return NULL;
}

/* ------------------------------------------------------------ normal side */

static double *g_lat;
static atomic_uint g_nlat;
static atomic_long g_ok, g_fail;
static atomic_long g_fresh_ok, g_fresh_fail;

static void record(double secs)
{
	unsigned i = atomic_fetch_add(&g_nlat, 1);
	if (i < MAX_SAMPLES)
		g_lat[i] = secs;
}

/* Send req on fd and read one response (head + Content-Length body);
 * its status, or 0 on EOF/error/timeout. */
static int roundtrip(int fd, const char *req, size_t len)
{
	char buf[16384];
	size_t have = 0;
	if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
		return 0;
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0)
			return 0;
		ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (n <= 0)
			return 0;
		have += (size_t)n;
		buf[have] = '\0';
		char *end = strstr(buf, "\r\n\r\n");
		if (!end) {
			if (have == sizeof(buf) - 1)
				return 0;
			continue;
		}
		size_t head = (size_t)(end + 4 - buf);
		long clen = 0;
		char *cl = strcasestr(buf, "\r\nContent-Length:");
		if (cl && cl < end)
			clen = strtol(cl + 17, NULL, 10);
		if (have - head >= (size_t)clen) {
			if (strncmp(buf, "HTTP/1.1 ", 9) != 0)
				return 0;
			return (int)strtol(buf + 9, NULL, 10);
		}
		if (head + (size_t)clen >= sizeof(buf) - 1)
			return 0; /* bigger than this bench expects */
	}
}

static size_t build_req(char *out, size_t cap, bool close_it)
{
	int n = snprintf(out, cap,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s%s%s%s\r\n",
			 g_path, g_token ? "Authorization: Bearer " : "",
			 g_token ? g_token : "", g_token ? "\r\n" : "",
			 close_it ? "Connection: close\r\n" : "");
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void *client_main(void *arg)
{
	(void)arg;
	char req[1024];
	size_t len = build_req(req, sizeof(req), false);
	int fd = -1;
	while (!atomic_load(&g_stop_measure)) {
		if (fd < 0 && (fd = dial(0, false)) < 0) {
			atomic_fetch_add(&g_fail, 1);
			usleep(10000);
			continue;
		}
		double t = now();
		int st = roundtrip(fd, req, len);
		if (st >= 200 && st < 300) {
			record(now() - t);
			atomic_fetch_add(&g_ok, 1);
		} else {
			atomic_fetch_add(&g_fail, 1);
			close(fd);
			fd = -1;
		}
	}
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void *fresh_main(void *arg)
{
	(void)arg;
	char req[1024];
	size_t len = build_req(req, sizeof(req), true);
	while (!atomic_load(&g_stop_measure)) {
		int fd = dial(0, false);
		int st = fd >= 0 ? roundtrip(fd, req, len) : 0;
		if (fd >= 0)
			close(fd);
		atomic_fetch_add(
			st >= 200 && st < 300 ? &g_fresh_ok : &g_fresh_fail, 1);
		usleep(20000);
	}
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int clients = 8, opt;
	double warm = 12, secs = 15;
	slow.src_lo = slow.src_hi = 2;
	slow.interval = 5;
	if (argc < 3) {
		fprintf(stderr,
			"usage: slowloris PORT PATH [-t N] [-s A-B] "
			"[-i S] [-w S] [-d S] [-c N] [-a TOKEN]\n");
		return 2;
	}
	g_port = (unsigned short)num(argv[1], 1, 65535, "PORT");
	g_path = argv[2];
	optind = 3;
	while ((opt = getopt(argc, argv, "t:s:i:w:d:c:a:")) != -1) {
		switch (opt) {
		case 't':
			slow.n = (int)num(optarg, 0, MAX_SLOW, "-t");
			break;
		case 's': {
			char lo[8], *dash = strchr(optarg, '-');
			if (!dash || dash - optarg >= (long)sizeof(lo)) {
				fprintf(stderr, "slowloris: -s takes A-B\n");
				return 2;
			}
			memcpy(lo, optarg, (size_t)(dash - optarg));
			lo[dash - optarg] = '\0';
			slow.src_lo = (int)num(lo, 2, 254, "-s A");
			slow.src_hi =
				(int)num(dash + 1, slow.src_lo, 254, "-s B");
			break;
		}
		case 'i':
			slow.interval = (double)num(optarg, 1, 60, "-i");
			break;
		case 'w':
			warm = (double)num(optarg, 0, 120, "-w");
			break;
		case 'd':
			secs = (double)num(optarg, 1, 600, "-d");
			break;
		case 'c':
			clients = (int)num(optarg, 1, MAX_CLIENTS, "-c");
			break;
		case 'a':
			g_token = optarg;
			break;
		default:
			return 2;
		}
	}
	/* room for every slow connection and the clients */
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	g_lat = calloc(MAX_SAMPLES, sizeof(double));
	if (!g_lat)
		return 1;

	pthread_t st, ft, ct[MAX_CLIENTS];
	if (slow.n) {
		if (pthread_create(&st, NULL, slow_main, NULL))
			return 1;
		sleep((unsigned)warm);
	}
	long c0 = atomic_load(&slow.connects),
	     fast0 = atomic_load(&slow.closed_fast),
	     late0 = atomic_load(&slow.closed_late);
	int held0 = atomic_load(&slow.held), held_min = held0, held_max = held0;
	double t0 = now();
	for (int i = 0; i < clients; i++)
		if (pthread_create(&ct[i], NULL, client_main, NULL))
			return 1;
	if (pthread_create(&ft, NULL, fresh_main, NULL))
		return 1;
	while (now() - t0 < secs) {
		usleep(100000);
		int h = atomic_load(&slow.held);
		held_min = h < held_min ? h : held_min;
		held_max = h > held_max ? h : held_max;
	}
	atomic_store(&g_stop_measure, true);
	for (int i = 0; i < clients; i++)
		pthread_join(ct[i], NULL);
	pthread_join(ft, NULL);
	double el = now() - t0;
	atomic_store(&g_stop_slow, true);
	if (slow.n)
		pthread_join(st, NULL);

	unsigned n = atomic_load(&g_nlat);
	if (n > MAX_SAMPLES)
		n = MAX_SAMPLES;
	qsort(g_lat, n, sizeof(double), cmp_double);
	double p50 = n ? g_lat[n / 2] : 0,
	       p99 = n ? g_lat[(size_t)((n - 1) * 0.99)] : 0;
	/* one line of key=value figures for the driver, then a summary */
	printf("rate=%.1f p50_ms=%.3f p99_ms=%.3f ok=%ld fail=%ld "
	       "fresh_ok=%ld fresh_fail=%ld slow=%d held_start=%d "
	       "held_min=%d held_max=%d slow_connects=%ld slow_cut=%ld "
	       "slow_refused=%ld seconds=%.1f\n",
	       (double)atomic_load(&g_ok) / el, p50 * 1e3, p99 * 1e3,
	       atomic_load(&g_ok), atomic_load(&g_fail),
	       atomic_load(&g_fresh_ok), atomic_load(&g_fresh_fail), slow.n,
	       held0, held_min, held_max, atomic_load(&slow.connects) - c0,
	       atomic_load(&slow.closed_late) - late0,
	       atomic_load(&slow.closed_fast) - fast0, el);
	free(g_lat);
	return 0;
}
