/*
 * gw_load.c - load generator and zero-latency sink for the gateway
 * benchmark (bench.py builds and drives it; it prints figures, asserts
 * nothing).
 *
 *   gw_load sink PORT
 *       answers every POST at once: /v1/messages with a runtime reply,
 *       anything else (the channel APIs) with {"ok":true,"result":{}};
 *       GET /healthz with 200. One thread per connection, keep-alive.
 *   gw_load ack PORT SECRET RATE SECONDS CONNS
 *       Telegram webhook POSTs with distinct updates, dated now (older
 *       ones would be dropped as stale, not journaled), over CONNS
 *       keep-alive connections at RATE messages/s in total (0: as fast
 *       as possible);
 *       prints acknowledgement latency p50/p99/max and accepted msgs/s.
 *   gw_load chat PORT TOKEN SECONDS CLIENTS
 *       CLIENTS loops of POST /v1/chat/completions; prints chats/s, p50,
 *       p99.
 *   gw_load mixed PORT FILE SECONDS CONNS
 *       replays the signed webhook requests of FILE (bench.py writes it:
 *       a line "channels NAME...", then records "INDEX LENGTH\n" and
 *       LENGTH bytes of one whole HTTP request), each once, round robin
 *       over CONNS keep-alive connections, as fast as they are answered,
 *       for SECONDS or until the file is used up; prints accepted msgs/s
 *       and acknowledgement p50/p99/max over all channels at once, and
 *       the accepted count per channel.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Read one HTTP message (head + Content-Length body); returns the status
 * (responses) or 1 (requests), 0 on EOF/error. */
static int read_msg(int fd, char *buf, size_t cap, size_t *have, char *out,
		    size_t outcap)
{
	for (;;) {
		char *end = memmem(buf, *have, "\r\n\r\n", 4);
		if (end) {
			size_t head = (size_t)(end - buf) + 4, clen = 0;
			char *cl = memmem(buf, head, "Content-Length:", 15);
			if (!cl)
				cl = memmem(buf, head, "content-length:", 15);
			if (cl)
				clen = strtoul(cl + 15, NULL, 10);
			while (*have < head + clen) {
				ssize_t r =
					recv(fd, buf + *have, cap - *have, 0);
				if (r <= 0)
					return 0;
				*have += (size_t)r;
			}
			int status = 1;
			if (strncmp(buf, "HTTP/1.", 7) == 0)
				status = (int)strtol(buf + 9, NULL, 10);
			if (out)
				snprintf(out, outcap, "%.*s", (int)head, buf);
			memmove(buf, buf + head + clen, *have - head - clen);
			*have -= head + clen;
			return status;
		}
		if (*have == cap)
			return 0;
		ssize_t r = recv(fd, buf + *have, cap - *have, 0);
		if (r <= 0)
			return 0;
		*have += (size_t)r;
	}
}

static int dial(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		perror("connect");
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* ---------------------------------------------------------------- sink */
static void *sink_conn(void *arg)
{
	int fd = (int)(intptr_t)arg, one = 1;
	static char buf[1 << 20];
	char *b = malloc(1 << 20), head[8192];
	size_t have = 0;
	(void)buf;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	while (read_msg(fd, b, 1 << 20, &have, head, sizeof(head))) {
		const char *body;
		if (strncmp(head, "GET", 3) == 0)
			body = "{\"status\":\"ok\"}";
		else if (strstr(head, " /v1/messages "))
			body = "{\"id\":\"x\",\"reply\":\"ok\",\"usage\":{"
			       "\"input_tokens\":1,\"output_tokens\":1},"
			       "\"truncated\":false}";
		else
			body = "{\"ok\":true,\"result\":{}}";
		char resp[512];
		int n = snprintf(resp, sizeof(resp),
				 "HTTP/1.1 200 OK\r\nContent-Type: "
				 "application/json\r\nContent-Length: %zu\r\n"
				 "\r\n%s",
				 strlen(body), body);
		if (send_all(fd, resp, (size_t)n))
			break;
	}
	free(b);
	close(fd);
	return NULL;
}

static int sink(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((uint16_t)port)};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 512)) {
		perror("sink");
		return 1;
	}
	printf("sink ready\n");
	fflush(stdout);
	for (;;) {
		int c = accept(fd, NULL, NULL);
		pthread_t t;
		pthread_attr_t at;
		if (c < 0)
			continue;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&at, 256 * 1024);
		pthread_create(&t, &at, sink_conn, (void *)(intptr_t)c);
		pthread_attr_destroy(&at);
	}
}

/* --------------------------------------------------------------- mixed */
#define MIX_MAX_CH 16

static int cmp(const void *a, const void *b);

struct mixed {
	int port, nch;
	char names[MIX_MAX_CH][32];
	char **req; /* whole requests */
	size_t *len;
	int *ch;
	long n;
	double until;
	atomic_long next, bad;
	atomic_long ok[MIX_MAX_CH];
	double *lat;
	atomic_long nlat;
};

static void *mixed_conn(void *arg)
{
	struct mixed *M = arg;
	int fd = dial(M->port);
	char *buf = malloc(1 << 16);
	size_t have = 0;
	while (now() < M->until) {
		long i = atomic_fetch_add(&M->next, 1);
		if (i >= M->n)
			break;
		double t0 = now();
		if (send_all(fd, M->req[i], M->len[i]))
			break;
		int st = read_msg(fd, buf, 1 << 16, &have, NULL, 0);
		double dt = now() - t0;
		if (st == 200) {
			atomic_fetch_add(&M->ok[M->ch[i]], 1);
			M->lat[atomic_fetch_add(&M->nlat, 1)] = dt;
		} else {
			atomic_fetch_add(&M->bad, 1);
			if (!st)
				break;
		}
	}
	free(buf);
	close(fd);
	return NULL;
}

/* Read FILE's channel names and records. */
static int mixed_read(struct mixed *M, const char *path)
{
	FILE *f = fopen(path, "rb");
	char line[1024], *save = NULL;
	long cap = 0;
	if (!f || !fgets(line, sizeof(line), f) ||
	    strncmp(line, "channels ", 9) != 0) {
		fprintf(stderr, "gw_load: '%s' is not a request file\n", path);
		return -1;
	}
	for (char *w = strtok_r(line + 9, " \n", &save);
	     w && M->nch < MIX_MAX_CH; w = strtok_r(NULL, " \n", &save))
		snprintf(M->names[M->nch++], sizeof(M->names[0]), "%s", w);
	int c;
	size_t n;
	while (fscanf(f, "%d %zu\n", &c, &n) == 2 && c >= 0 && c < M->nch &&
	       n < (1u << 20)) {
		if (M->n == cap) {
			cap = cap ? cap * 2 : 4096;
			M->req = realloc(M->req, sizeof(*M->req) * (size_t)cap);
			M->len = realloc(M->len, sizeof(*M->len) * (size_t)cap);
			M->ch = realloc(M->ch, sizeof(*M->ch) * (size_t)cap);
		}
		M->req[M->n] = malloc(n);
		if (fread(M->req[M->n], 1, n, f) != n)
			break;
		M->len[M->n] = n;
		M->ch[M->n++] = c;
	}
	fclose(f);
	return 0;
}

static int mixed(int port, const char *path, double secs, int conns)
{
	struct mixed M = {.port = port};
	if (mixed_read(&M, path))
		return 1;
	pthread_t *t = calloc((size_t)conns, sizeof(*t));
	M.lat = malloc(sizeof(double) * (size_t)(M.n ? M.n : 1));
	double t0 = now();
	M.until = t0 + secs;
	for (int i = 0; i < conns; i++)
		pthread_create(&t[i], NULL, mixed_conn, &M);
	for (int i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	double el = now() - t0;
	long n = atomic_load(&M.nlat), total = 0;
	qsort(M.lat, (size_t)n, sizeof(double), cmp);
	for (int c = 0; c < M.nch; c++)
		total += atomic_load(&M.ok[c]);
	printf("mixed (%d channels): %ld accepted, %ld failed in %.1f s = "
	       "%.0f/s; ack p50 %.2f ms p99 %.2f ms max %.2f ms%s\n",
	       M.nch, total, atomic_load(&M.bad), el, (double)total / el,
	       n ? M.lat[n / 2] * 1e3 : 0, n ? M.lat[n * 99 / 100] * 1e3 : 0,
	       n ? M.lat[n - 1] * 1e3 : 0,
	       atomic_load(&M.next) >= M.n ? " (all requests used)" : "");
	for (int c = 0; c < M.nch; c++)
		printf("  %-11s %ld accepted\n", M.names[c],
		       atomic_load(&M.ok[c]));
	for (long i = 0; i < M.n; i++)
		free(M.req[i]);
	free(M.req);
	free(M.len);
	free(M.ch);
	free(M.lat);
	free(t);
	return 0;
}

/* ---------------------------------------------------------------- load */
struct load {
	int port, conns, mode; /* 0 ack, 1 chat */
	const char *secret;
	double rate, until;
	atomic_long seq, ok, bad;
	double *lat;
	atomic_long nlat;
	long maxlat;
};

static void *load_conn(void *arg)
{
	struct load *L = arg;
	int fd = dial(L->port);
	char *buf = malloc(1 << 16), req[2048], body[1024];
	size_t have = 0;
	double per = L->rate > 0 ? (double)L->conns / L->rate : 0, next = now();
	while (now() < L->until) {
		long s = atomic_fetch_add(&L->seq, 1);
		int bl;
		if (L->mode == 0)
			bl = snprintf(
				body, sizeof(body),
				"{\"update_id\":%ld,\"message\":{"
				"\"message_id\":%ld,\"date\":%lld,"
				"\"from\":{\"id\":%ld,\"is_bot\":false,"
				"\"first_name\":\"B\"},\"chat\":{\"id\":%ld,"
				"\"type\":\"private\"},\"text\":\"bench "
				"%ld\"}}",
				s, s, (long long)time(NULL), 1000 + s % 5000,
				1000 + s % 5000, s);
		else
			bl = snprintf(
				body, sizeof(body),
				"{\"model\":\"agent\",\"messages\":[{"
				"\"role\":\"user\",\"content\":\"hi %ld\"}]}",
				s);
		int rl = snprintf(req, sizeof(req),
				  "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
				  "Content-Type: application/json\r\n"
				  "%s%s\r\nContent-Length: %d\r\n\r\n%s",
				  L->mode ? "/v1/chat/completions"
					  : "/telegram/webhook",
				  L->mode ? "Authorization: Bearer "
					  : "X-Telegram-Bot-Api-Secret-Token: ",
				  L->secret, bl, body);
		if (per > 0) {
			double w = next - now();
			if (w > 0)
				usleep((useconds_t)(w * 1e6));
			next += per;
		}
		double t0 = now();
		if (send_all(fd, req, (size_t)rl))
			break;
		int st = read_msg(fd, buf, 1 << 16, &have, NULL, 0);
		double dt = now() - t0;
		if (st == 200) {
			atomic_fetch_add(&L->ok, 1);
			long i = atomic_fetch_add(&L->nlat, 1);
			if (i < L->maxlat)
				L->lat[i] = dt;
		} else {
			atomic_fetch_add(&L->bad, 1);
			if (!st)
				break;
		}
	}
	free(buf);
	close(fd);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int load(int mode, int port, const char *secret, double rate,
		double secs, int conns)
{
	struct load L = {.port = port,
			 .conns = conns,
			 .mode = mode,
			 .secret = secret,
			 .rate = rate,
			 .maxlat = 10000000};
	pthread_t *t = calloc((size_t)conns, sizeof(*t));
	L.lat = malloc(sizeof(double) * (size_t)L.maxlat);
	double t0 = now();
	L.until = t0 + secs;
	for (int i = 0; i < conns; i++)
		pthread_create(&t[i], NULL, load_conn, &L);
	for (int i = 0; i < conns; i++)
		pthread_join(t[i], NULL);
	double el = now() - t0;
	long n = atomic_load(&L.nlat) < L.maxlat ? atomic_load(&L.nlat)
						 : L.maxlat;
	qsort(L.lat, (size_t)n, sizeof(double), cmp);
	printf("%s: %ld ok, %ld failed in %.1f s = %.0f/s; latency p50 %.2f ms "
	       "p99 %.2f ms max %.2f ms\n",
	       mode ? "chat" : "ack", atomic_load(&L.ok), atomic_load(&L.bad),
	       el, (double)atomic_load(&L.ok) / el, n ? L.lat[n / 2] * 1e3 : 0,
	       n ? L.lat[n * 99 / 100] * 1e3 : 0, n ? L.lat[n - 1] * 1e3 : 0);
	free(L.lat);
	free(t);
	return 0;
}

/* argv[i] as a number in [lo, hi], or exit with a message. */
static double num_arg(const char *s, double lo, double hi, const char *what)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr,
			"gw_load: %s must be a number in %g..%g, not "
			"'%s'\n",
			what, lo, hi, s);
		exit(2);
	}
	return v;
}

static int int_arg(const char *s, int lo, int hi, const char *what)
{
	double v = num_arg(s, lo, hi, what);
	if (v != (double)(int)v) {
		fprintf(stderr,
			"gw_load: %s must be a whole number, not '%s'\n", what,
			s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "sink") == 0)
		return sink(int_arg(argv[2], 1, 65535, "PORT"));
	if (argc == 7 && strcmp(argv[1], "ack") == 0)
		return load(0, int_arg(argv[2], 1, 65535, "PORT"), argv[3],
			    num_arg(argv[4], 0, 1e9, "RATE"),
			    num_arg(argv[5], 0, 1e6, "SECONDS"),
			    int_arg(argv[6], 1, 10000, "CONNS"));
	if (argc == 6 && strcmp(argv[1], "chat") == 0)
		return load(1, int_arg(argv[2], 1, 65535, "PORT"), argv[3], 0,
			    num_arg(argv[4], 0, 1e6, "SECONDS"),
			    int_arg(argv[5], 1, 10000, "CLIENTS"));
	if (argc == 6 && strcmp(argv[1], "mixed") == 0)
		return mixed(int_arg(argv[2], 1, 65535, "PORT"), argv[3],
			     num_arg(argv[4], 0, 1e6, "SECONDS"),
			     int_arg(argv[5], 1, 10000, "CONNS"));
	fprintf(stderr, "usage: see the comment at the top of gw_load.c\n");
	return 2;
}
