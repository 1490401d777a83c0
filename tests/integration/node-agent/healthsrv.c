/*
 * healthsrv.c - the tiny HTTP server baked into the node agent's test image
 * (before the real gateway and runtime images exist). It listens on the
 * gateway's and the runtime's ports (8080 and 8081) and answers:
 *   GET /healthz            200 {"status":"ok"} (503 with --unhealthy)
 *   GET /readyz             200 {"status":"ready"}; 503 with --unhealthy,
 *                           and while --flap READY_MS:UNREADY_MS:N says so:
 *                           for the first N cycles after its start, ready
 *                           READY_MS then not ready UNREADY_MS
 *   GET /file?path=P        the content of file P (secrets, configs)
 *   GET /env                the process environment, one variable a line
 *   GET /connect?to=IP:PORT "reachable" or "unreachable" (a TCP connect with
 *                           a one second timeout), for isolation tests
 *   GET /hup                how many SIGHUPs arrived
 *   GET /say?text=T         writes T and a newline to stdout (stderr with
 *                           /say?err=1&text=T), for log tests
 *   GET /id                 "UID GID" of the process
 *   GET /syscall?name=N     "ok" or "errno E" for a harmless call of N
 *                           (ptrace, io_uring_setup, unshare, keyctl), for
 *                           seccomp tests: a filtered call fails with EPERM
 *                           where the kernel would say ESRCH, EFAULT...
 *   GET /write?path=P&bytes=N  writes N bytes to file P: "wrote N", or
 *                           "errno E" and how many were written
 *   GET /metrics            "claw_gateway_journal_depth N", N from the file
 *                           /var/lib/claw/journal-depth (0 without it), as
 *                           the gateway's gauge of unanswered messages
 *   GET /depth?n=N          writes N to that file (drain tests)
 *   GET /v1/usage           the runtime's usage counters, as the runtime
 *                           serves them: a boot_id of this process, and
 *                           for the tenant its config names
 *                           ("usage_tenant" in /etc/claw/runtime.json)
 *                           K turns, messages in and out, provider
 *                           "openai" K requests, 10 K input and 5 K output
 *                           tokens, K the number of /v1/usage requests so
 *                           far; beside it a tenant "intruder" with 1000
 *                           turns (a runtime must not report for others)
 * On the gateway's proxy port (3128) it answers anything with 405, as the
 * gateway's egress proxy answers a request that is not CONNECT; with
 * --proxy-after-ms N it listens there only from N ms after its start.
 * --crash-after-ms N --exit-code C make it exit with C after N ms (crash
 * loops); SIGTERM ends it at once (it runs as PID 1), after writing
 * "SIGTERM" to /var/lib/claw/terminated; with --signals-after-ms N only
 * from N ms after its start (before, as PID 1 without a handler, it loses
 * SIGTERM, as a process still starting does). Other arguments (the
 * contract's --config, --listen...) are accepted and ignored.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static volatile sig_atomic_t hups;
static long flap_ready_ms, flap_unready_ms, flaps; /* --flap */
static struct timespec start;
static long usage_asked; /* /v1/usage requests */

/* The tenant named by "usage_tenant" in the runtime's config, or "". */
static void usage_tenant(char *out, size_t len)
{
	char cfg[4096];
	const char *key = "\"usage_tenant\": \"";
	int f = open("/etc/claw/runtime.json", O_RDONLY);
	ssize_t n = f >= 0 ? read(f, cfg, sizeof(cfg) - 1) : -1;
	const char *p;
	size_t k = 0;
	if (f >= 0)
		close(f);
	cfg[n > 0 ? n : 0] = 0;
	p = strstr(cfg, key);
	if (p)
		for (p += strlen(key); p[k] && p[k] != '"' && k + 1 < len; k++)
			out[k] = p[k];
	out[k] = 0;
}

static long since_start_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start.tv_sec) * 1000 +
		(now.tv_nsec - start.tv_nsec) / 1000000;
}

/* Inside an unready part of the --flap cycles. */
static int flapped_out(void)
{
	long cycle = flap_ready_ms + flap_unready_ms;
	long t = since_start_ms();
	if (!flaps || cycle <= 0 || t >= flaps * cycle)
		return 0;
	return t % cycle >= flap_ready_ms;
}

/* SIGTERM leaves its mark in the data volume (a container replaced
 * gracefully, not killed: its successor reads /var/lib/claw/terminated
 * with /file). Only async-signal-safe calls. */
static void on_term(int sig)
{
	int f = open("/var/lib/claw/terminated",
		     O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	(void)sig;
	if (f >= 0) {
		ssize_t n = write(f, "SIGTERM", 7);
		(void)n;
		close(f);
	}
	_exit(0);
}

static void on_hup(int sig)
{
	(void)sig;
	hups++;
}

static int listen_on(int port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons((unsigned short)port)};
	int one = 1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 64)) {
		close(fd);
		return -1;
	}
	return fd;
}

static void reply(int fd, int status, const char *body, size_t len)
{
	char head[256];
	int n = snprintf(
		head, sizeof(head),
		"HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
		"Content-Type: text/plain\r\nConnection: close\r\n\r\n",
		status, status == 200 ? "OK" : "Error", len);
	if (write(fd, head, (size_t)n) < 0 || write(fd, body, len) < 0)
		return;
}

/* s as a whole decimal number in [min, max]; 0, or -1 when it is not. */
static int parse_long(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end || errno || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int try_connect(const char *to)
{
	char host[64];
	const char *colon = strrchr(to, ':');
	struct sockaddr_in a = {.sin_family = AF_INET};
	struct pollfd p;
	int fd, rc = 0, err = 0;
	long port;
	socklen_t el = sizeof(err);

	if (!colon || (size_t)(colon - to) >= sizeof(host) ||
	    parse_long(colon + 1, 0, 65535, &port))
		return 0;
	memcpy(host, to, (size_t)(colon - to));
	host[colon - to] = 0;
	a.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		return 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
		rc = 1;
	} else if (errno == EINPROGRESS) {
		p.fd = fd;
		p.events = POLLOUT;
		if (poll(&p, 1, 1000) == 1 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
		    err == 0)
			rc = 1;
	}
	close(fd);
	return rc;
}

/* A call of name that changes nothing: 0 when the kernel ran it (and it
 * failed for its own reasons or not), else the errno seccomp gave. */
static int probe_syscall(const char *name, char *out, size_t outlen)
{
	long r;
	errno = 0;
	if (strcmp(name, "ptrace") == 0)
		/* PTRACE_GETEVENTMSG of a process we do not trace: ESRCH. */
		r = syscall(SYS_ptrace, 0x4201, (long)getpid(), 0L, 0L);
	else if (strcmp(name, "io_uring_setup") == 0)
		r = syscall(SYS_io_uring_setup, 1L, NULL); /* EFAULT */
	else if (strcmp(name, "unshare") == 0)
		r = syscall(SYS_unshare, 0L); /* flags 0: nothing to do */
	else if (strcmp(name, "keyctl") == 0)
		r = syscall(SYS_keyctl, -1L, 0L, 0L, 0L, 0L); /* EOPNOTSUPP */
	else
		return -1;
	if (r == -1 && errno == EPERM)
		snprintf(out, outlen, "errno %d", errno);
	else
		snprintf(out, outlen, "ok");
	return 0;
}

static void write_file(const char *q, char *out, size_t outlen)
{
	char path[512];
	static char zeros[65536];
	const char *b = strstr(q, "&bytes=");
	long n = 0, done = 0;
	if (!b || (size_t)(b - q) >= sizeof(path) ||
	    parse_long(b + 7, 0, 1L << 30, &n)) {
		snprintf(out, outlen, "bad request");
		return;
	}
	memcpy(path, q, (size_t)(b - q));
	path[b - q] = 0;
	int f = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (f < 0) {
		snprintf(out, outlen, "errno %d", errno);
		return;
	}
	while (done < n) {
		size_t k = (size_t)(n - done) < sizeof(zeros)
			? (size_t)(n - done)
			: sizeof(zeros);
		ssize_t w = write(f, zeros, k);
		if (w <= 0) {
			snprintf(out, outlen, "errno %d after %ld", errno,
				 done);
			close(f);
			return;
		}
		done += w;
	}
	if (fsync(f) || close(f)) {
		snprintf(out, outlen, "errno %d after %ld", errno, done);
		return;
	}
	snprintf(out, outlen, "wrote %ld", done);
}

static void serve(int fd, int unhealthy)
{
	char req[2048], path[1024], body[8192];
	ssize_t n = read(fd, req, sizeof(req) - 1);
	size_t len = 0;

	if (n <= 0)
		return;
	req[n] = 0;
	if (sscanf(req, "GET %1023s", path) != 1) {
		reply(fd, 400, "bad request\n", 12);
		return;
	}
	if (strcmp(path, "/readyz") == 0) {
		if (unhealthy || flapped_out())
			reply(fd, 503, "{\"status\":\"unready\"}", 20);
		else
			reply(fd, 200, "{\"status\":\"ready\"}", 18);
	} else if (strcmp(path, "/healthz") == 0) {
		if (unhealthy)
			reply(fd, 503, "{\"status\":\"down\"}", 17);
		else
			reply(fd, 200, "{\"status\":\"ok\"}", 15);
	} else if (strncmp(path, "/file?path=", 11) == 0) {
		int f = open(path + 11, O_RDONLY);
		ssize_t r;
		if (f < 0) {
			reply(fd, 404, "no such file\n", 13);
			return;
		}
		r = read(f, body, sizeof(body));
		close(f);
		reply(fd, 200, body, r > 0 ? (size_t)r : 0);
	} else if (strcmp(path, "/env") == 0) {
		for (char **e = environ; *e; e++) {
			int w = snprintf(body + len, sizeof(body) - len, "%s\n",
					 *e);
			if (w < 0 || (size_t)w >= sizeof(body) - len)
				break;
			len += (size_t)w;
		}
		reply(fd, 200, body, len);
	} else if (strncmp(path, "/connect?to=", 12) == 0) {
		if (try_connect(path + 12))
			reply(fd, 200, "reachable", 9);
		else
			reply(fd, 200, "unreachable", 11);
	} else if (strncmp(path, "/say?", 5) == 0) {
		const char *t = strstr(path, "text=");
		FILE *out = strstr(path, "err=1") ? stderr : stdout;
		if (!t) {
			reply(fd, 400, "no text\n", 8);
			return;
		}
		fprintf(out, "%s\n", t + 5);
		fflush(out);
		reply(fd, 200, "said", 4);
	} else if (strcmp(path, "/id") == 0) {
		len = (size_t)snprintf(body, sizeof(body), "%u %u",
				       (unsigned)getuid(), (unsigned)getgid());
		reply(fd, 200, body, len);
	} else if (strncmp(path, "/syscall?name=", 14) == 0) {
		if (probe_syscall(path + 14, body, sizeof(body))) {
			reply(fd, 404, "unknown call\n", 13);
			return;
		}
		reply(fd, 200, body, strlen(body));
	} else if (strncmp(path, "/write?path=", 12) == 0) {
		write_file(path + 12, body, sizeof(body));
		reply(fd, 200, body, strlen(body));
	} else if (strcmp(path, "/metrics") == 0) {
		long depth = 0;
		FILE *f = fopen("/var/lib/claw/journal-depth", "r");
		if (f) {
			if (fscanf(f, "%ld", &depth) != 1)
				depth = 0;
			fclose(f);
		}
		len = (size_t)snprintf(
			body, sizeof(body),
			"# TYPE claw_gateway_journal_depth "
			"gauge\nclaw_gateway_journal_depth %ld\n",
			depth);
		reply(fd, 200, body, len);
	} else if (strncmp(path, "/depth?n=", 9) == 0) {
		FILE *f = fopen("/var/lib/claw/journal-depth", "w");
		int bad = !f;
		if (f) {
			bad |= fprintf(f, "%ld\n", strtol(path + 9, NULL, 10)) <
				0;
			bad |= fclose(f) != 0;
		}
		if (bad) {
			reply(fd, 500, "unwritable\n", 11);
			return;
		}
		reply(fd, 200, "ok", 2);
	} else if (strcmp(path, "/v1/usage") == 0) {
		char tenant[64];
		long k = ++usage_asked;
		usage_tenant(tenant, sizeof(tenant));
		len = (size_t)snprintf(
			body, sizeof(body),
			"{\"boot_id\":\"boot-%ld-%ld\",\"started_at\":"
			"\"2026-12-06T00:00:00Z\",\"tenants\":{\"%s\":{"
			"\"turns\":%ld,\"messages_in\":%ld,\"messages_out\":"
			"%ld,\"tool_calls\":0,\"tool_errors\":0,\"providers\":"
			"{\"openai\":{\"requests\":%ld,\"errors\":0,"
			"\"input_tokens\":%ld,\"output_tokens\":%ld}}},"
			"\"intruder\":{\"turns\":1000}}}",
			(long)getpid(), (long)start.tv_nsec, tenant, k, k, k, k,
			10 * k, 5 * k);
		reply(fd, 200, body, len);
	} else if (strcmp(path, "/hup") == 0) {
		len = (size_t)snprintf(body, sizeof(body), "%d", (int)hups);
		reply(fd, 200, body, len);
	} else {
		reply(fd, 404, "not found\n", 10);
	}
}

int main(int argc, char **argv)
{
	long crash_ms = -1, proxy_ms = 0, signals_ms = 0;
	char req[2048];
	int exit_code = 1, unhealthy = 0;
	struct pollfd p[3];

	for (int i = 1; i < argc; i++) {
		long v;

		if (strcmp(argv[i], "--crash-after-ms") == 0 && i + 1 < argc) {
			if (parse_long(argv[++i], 0, 86400000L, &crash_ms)) {
				fputs("healthsrv: --crash-after-ms takes "
				      "0..86400000\n",
				      stderr);
				return 2;
			}
		} else if (strcmp(argv[i], "--exit-code") == 0 &&
			   i + 1 < argc) {
			if (parse_long(argv[++i], 0, 255, &v)) {
				fputs("healthsrv: --exit-code takes 0..255\n",
				      stderr);
				return 2;
			}
			exit_code = (int)v;
		} else if (strcmp(argv[i], "--unhealthy") == 0) {
			unhealthy = 1;
		} else if (strcmp(argv[i], "--proxy-after-ms") == 0 &&
			   i + 1 < argc) {
			if (parse_long(argv[++i], 0, 86400000L, &proxy_ms)) {
				fputs("healthsrv: --proxy-after-ms takes "
				      "0..86400000\n",
				      stderr);
				return 2;
			}
		} else if (strcmp(argv[i], "--signals-after-ms") == 0 &&
			   i + 1 < argc) {
			if (parse_long(argv[++i], 0, 60000L, &signals_ms)) {
				fputs("healthsrv: --signals-after-ms takes "
				      "0..60000\n",
				      stderr);
				return 2;
			}
		} else if (strcmp(argv[i], "--flap") == 0 && i + 1 < argc) {
			if (sscanf(argv[++i], "%ld:%ld:%ld", &flap_ready_ms,
				   &flap_unready_ms, &flaps) != 3 ||
			    flap_ready_ms < 0 || flap_unready_ms < 0 ||
			    flaps < 0) {
				fputs("healthsrv: --flap takes "
				      "READY_MS:UNREADY_MS:N\n",
				      stderr);
				return 2;
			}
		}
	}
	if (signals_ms > 0) { /* a slow start: SIGTERM is lost until then */
		struct timespec ts = {signals_ms / 1000,
				      (signals_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	signal(SIGTERM, on_term);
	signal(SIGINT, on_term);
	signal(SIGHUP, on_hup);
	signal(SIGPIPE, SIG_IGN);
	printf("healthsrv starting\n");
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &start);
	p[0].fd = listen_on(8080);
	p[1].fd = listen_on(8081);
	p[2].fd = -1; /* the proxy port, from proxy_ms on */
	if (p[0].fd < 0 || p[1].fd < 0) {
		perror("healthsrv: listen");
		return 1;
	}
	p[0].events = p[1].events = p[2].events = POLLIN;
	for (;;) {
		int r = poll(p, 3, 50);
		if (p[2].fd < 0 && since_start_ms() >= proxy_ms &&
		    (p[2].fd = listen_on(3128)) < 0) {
			perror("healthsrv: listen on 3128");
			return 1;
		}
		if (crash_ms >= 0) {
			if (since_start_ms() >= crash_ms) {
				fprintf(stderr, "healthsrv: crashing with %d\n",
					exit_code);
				return exit_code;
			}
		}
		if (r <= 0)
			continue;
		for (int i = 0; i < 3; i++) {
			if (p[i].fd < 0 || !(p[i].revents & POLLIN))
				continue;
			int c = accept(p[i].fd, NULL, NULL);
			if (c < 0)
				continue;
			if (i == 2 && read(c, req, sizeof(req)) >= 0)
				reply(c, 405, "CONNECT only\n", 13);
			else if (i != 2)
				serve(c, unhealthy);
			close(c);
		}
	}
}
