/*
 * main.c - claw-mcp-bridge: starts a stdio MCP server (the argv after
 * `--`) and serves its stdio as MCP Streamable HTTP on /mcp, behind a
 * bearer token read from a secret file.
 *
 * One child, one session: initialize issues an Mcp-Session-Id, every later
 * request must carry it, DELETE ends it. A POSTed request is written to the
 * child's stdin and answered with an SSE stream that carries the messages
 * the child writes until the response with that id (server-to-client
 * requests and notifications sent while a request is open go on that
 * request's stream; the others on the GET stream). POSTed notifications
 * and responses (the client's answers to elicitation, sampling, roots,
 * ping) are written to the child and answered 202.
 *
 * Lines from the child are framed by framing.c (bounded; a non-JSON line
 * is dropped and counted). Each stream's queue is bounded too. The child's
 * exit is reaped by the daemon's SIGCHLD callback: /readyz answers 503,
 * open requests get a JSON-RPC error, the session ends (clients
 * re-initialize) and the child is restarted after a backoff that doubles
 * from --restart-backoff-ms (250 ms) to 30 s and resets once a child has run 30 s.
 *
 * Readiness is MCP-level: each child is sent an `initialize` of the
 * bridge's own (id "claw-mcp-bridge-init-GEN", never sent on to a client;
 * no `notifications/initialized` follows, so the server waits for the
 * client's own initialize) and /readyz turns 200 only once the child has
 * answered it. A child that does not answer within --init-timeout-ms, or
 * answers with an error, is killed and restarted with the same backoff;
 * /readyz's 503 and the log say why ("timed out waiting for initialize").
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "claw/cfg.h"
#include "claw/crypto.h"
#include "claw/daemon.h"
#include "claw/httpd.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "framing.h"

#define MB_QUEUE_MAX 1024 /* messages waiting on one stream */

/* One SSE stream: a POSTed request's (id set) or the GET stream. */
struct mb_stream {
	json_t *id; /* the request's id; NULL for the GET stream */
	json_t *q[MB_QUEUE_MAX];
	size_t qh, qn;
	char *out; /* the event being sent */
	size_t out_len, out_off;
	int done;   /* response queued: end after the queue drains */
	int closed; /* the client went away */
	struct mb_stream *next;
};

/* Writes to the child's stdin and in_fd itself are under wmu, never under
 * B.mu: a write blocked on a full pipe must not stop the reader thread
 * (which takes B.mu) from draining the child's stdout. */
static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **argv;
	pid_t pid;
	int in_fd;
	unsigned gen; /* bumped per child */
	time_t started;
	struct timespec restart_at;
	unsigned backoff_ms;
	char session[65];          /* "" when none */
	struct mb_stream *streams; /* open POST streams, newest first */
	struct mb_stream *get;     /* the GET stream or NULL */
	char *token;
	long max_line;
	long backoff_min_ms;
	unsigned long long dropped, exits;
	struct mb_framer fr;
	long init_timeout_ms;
	char init_id[48];        /* the probe's id while it waits, or "" */
	struct timespec init_by; /* when the wait ends */
	int initialized;         /* this child answered the probe */
	char last_error[200];    /* why the last child was not ready */
	int killed;              /* the bridge killed it (last_error) */
} B = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .pid = -1,
       .in_fd = -1};

static void queue_push(struct mb_stream *s, json_t *m)
{
	if (s->qn == MB_QUEUE_MAX) {
		json_decref(m);
		B.dropped++;
		return;
	}
	s->q[(s->qh + s->qn) % MB_QUEUE_MAX] = m;
	s->qn++;
}

/* The answer to the bridge's own initialize (B.mu held): ready, or the
 * child is killed (on_child restarts it). */
static void on_probe_answer(const json_t *m)
{
	const json_t *err = json_object_get(m, "error");
	B.init_id[0] = '\0';
	if (!err && json_is_object(json_object_get(m, "result"))) {
		B.initialized = 1;
		B.last_error[0] = '\0';
		log_info("the server answered initialize: ready");
		claw_daemon_set_ready(true);
		return;
	}
	const char *why = json_string_value(json_object_get(err, "message"));
	snprintf(B.last_error, sizeof(B.last_error),
		 "the server refused initialize: %.120s",
		 why           ? why
			 : err ? "an error"
			       : "no result");
	log_warn("%s; restarting it", B.last_error);
	B.killed = 1;
	if (B.pid > 0)
		kill(-B.pid, SIGKILL);
}

/* A message from the child (reader thread, B.mu held). */
static void on_child_msg(json_t *m, void *cls)
{
	(void)cls;
	json_t *id = json_object_get(m, "id");
	int is_resp = !json_object_get(m, "method") && id;
	struct mb_stream *s;
	if (is_resp && B.init_id[0] && json_is_string(id) &&
	    !strcmp(json_string_value(id), B.init_id)) {
		on_probe_answer(m);
		json_decref(m);
		return;
	}
	if (is_resp) {
		for (s = B.streams; s; s = s->next)
			if (!s->done && s->id && json_equal(s->id, id)) {
				queue_push(s, m);
				s->done = 1;
				pthread_cond_broadcast(&B.cv);
				return;
			}
		json_decref(m); /* nobody waits for it */
		B.dropped++;
		return;
	}
	for (s = B.streams; s; s = s->next)
		if (!s->done && !s->closed)
			break;
	if (!s)
		s = B.get;
	if (!s) {
		json_decref(m);
		B.dropped++;
		return;
	}
	queue_push(s, m);
	pthread_cond_broadcast(&B.cv);
}

static void *reader(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pthread_mutex_lock(&B.mu);
		if (mb_framer_feed(&B.fr, buf, (size_t)n, on_child_msg, NULL))
			log_error("out of memory framing the child's output");
		pthread_mutex_unlock(&B.mu);
	}
	close(fd);
	return NULL;
}

/* Fail every open request with a JSON-RPC error (B.mu held). */
static void fail_open(const char *why)
{
	for (struct mb_stream *s = B.streams; s; s = s->next) {
		if (s->done || !s->id)
			continue;
		queue_push(s,
			   json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc",
				     "2.0", "id", s->id, "error", "code",
				     -32603, "message", why));
		s->done = 1;
	}
	if (B.get)
		B.get->done = 1;
	B.session[0] = '\0';
	pthread_cond_broadcast(&B.cv);
}

static int write_child(json_t *m);

/* The deadline ms from now on the monotonic clock. */
static void deadline_in(struct timespec *t, long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

static int passed(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
		(now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

/* The bridge's own initialize to a new child (its readiness probe). */
static void probe_child(void)
{
	char id[sizeof(B.init_id)];
	pthread_mutex_lock(&B.mu);
	snprintf(B.init_id, sizeof(B.init_id), "claw-mcp-bridge-init-%u",
		 B.gen);
	snprintf(id, sizeof(id), "%s", B.init_id);
	deadline_in(&B.init_by, B.init_timeout_ms);
	pthread_mutex_unlock(&B.mu);
	json_t *m = json_pack("{s:s, s:s, s:s, s:{s:s, s:{}, s:{s:s, s:s}}}",
			      "jsonrpc", "2.0", "id", id, "method",
			      "initialize", "params", "protocolVersion",
			      "2025-06-18", "capabilities", "clientInfo",
			      "name", "claw-mcp-bridge", "version", "1");
	if (!m || write_child(m))
		log_warn("unable to send initialize to the server");
	json_decref(m);
}

static int start_child(void)
{
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC))
		return -1;
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		pthread_sigmask(SIG_SETMASK, &all, NULL);
		setpgid(0, 0); /* its own group: killed with what it started */
		dup2(in[0], 0);
		dup2(out[1], 1);
		execvp(B.argv[0], B.argv);
		_exit(127);
	}
	setpgid(pid, pid); /* whichever of the two runs first */
	close(in[0]);
	close(out[1]);
	pthread_mutex_lock(&B.mu);
	mb_framer_release(&B.fr);
	mb_framer_init(&B.fr, (size_t)B.max_line);
	B.pid = pid;
	B.gen++;
	B.started = time(NULL);
	B.initialized = 0;
	pthread_mutex_unlock(&B.mu);
	pthread_mutex_lock(&wmu);
	B.in_fd = in[1];
	pthread_mutex_unlock(&wmu);
	pthread_t t;
	if (pthread_create(&t, NULL, reader, (void *)(long)out[0])) {
		close(out[0]);
		return -1;
	}
	pthread_detach(t);
	log_info("started the server (pid %d)", (int)pid);
	probe_child();
	return 0;
}

static enum claw_rc on_child(void *cls)
{
	(void)cls;
	int st = 0, any;
	pid_t w;
	bool mine = false;
	/* As the container's PID 1 the bridge inherits the orphans of what
	 * the server started: reaped here too. */
	while ((w = waitpid(-1, &any, WNOHANG)) > 0)
		if (w == B.pid) {
			st = any;
			mine = true;
		}
	if (!mine)
		return CLAW_OK;
	claw_daemon_set_ready(false);
	pthread_mutex_lock(&wmu);
	if (B.in_fd >= 0)
		close(B.in_fd);
	B.in_fd = -1;
	pthread_mutex_unlock(&wmu);
	pthread_mutex_lock(&B.mu);
	B.exits++;
	B.pid = -1;
	B.initialized = 0;
	B.init_id[0] = '\0';
	if (!B.killed && WIFEXITED(st))
		snprintf(B.last_error, sizeof(B.last_error),
			 "the server exited with status %d", WEXITSTATUS(st));
	else if (!B.killed)
		snprintf(B.last_error, sizeof(B.last_error),
			 "the server was killed by signal %d",
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	int killed = B.killed;
	B.killed = 0;
	if (time(NULL) - B.started >= 30)
		B.backoff_ms = 0;
	B.backoff_ms =
		B.backoff_ms ? B.backoff_ms * 2 : (unsigned)B.backoff_min_ms;
	if (B.backoff_ms > 30000)
		B.backoff_ms = 30000;
	deadline_in(&B.restart_at, (long)B.backoff_ms);
	fail_open("the MCP server exited");
	pthread_mutex_unlock(&B.mu);
	if (killed)
		log_info("the server was stopped by the bridge; restart in %u "
			 "ms",
			 B.backoff_ms);
	else if (WIFEXITED(st))
		log_warn("the server exited with status %d; restart in %u ms",
			 WEXITSTATUS(st), B.backoff_ms);
	else
		log_warn("the server was killed by signal %d; restart in %u ms",
			 WIFSIGNALED(st) ? WTERMSIG(st) : 0, B.backoff_ms);
	return CLAW_OK;
}

/* A child that has not answered the probe in time is killed (B.mu
 * held): on_child restarts it with the backoff. */
static void init_timed_out(void)
{
	snprintf(B.last_error, sizeof(B.last_error),
		 "timed out waiting for initialize (%ld ms)",
		 B.init_timeout_ms);
	B.init_id[0] = '\0';
	log_warn("the server %s; restarting it", B.last_error);
	B.killed = 1;
	kill(-B.pid, SIGKILL);
}

static void on_tick(void *cls)
{
	(void)cls;
	if (B.pid > 0) {
		pthread_mutex_lock(&B.mu);
		if (B.init_id[0] && passed(&B.init_by))
			init_timed_out();
		pthread_mutex_unlock(&B.mu);
		return;
	}
	if (!passed(&B.restart_at))
		return;
	if (start_child())
		log_error("unable to start the server: %s", strerror(errno));
}

static int authorized(struct claw_http_req *r)
{
	const char *h = claw_http_header(r, "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) != 0 ||
	    !claw_ct_streq(h + 7, B.token)) {
		claw_http_reply_std(r, CLAW_HE_UNAUTHORIZED,
				    "a valid bearer token is required");
		return 0;
	}
	return 1;
}

/* B.mu held. */
static int session_ok(struct claw_http_req *r)
{
	const char *sid = claw_http_header(r, "Mcp-Session-Id");
	if (!sid) {
		claw_http_reply_std(r, CLAW_HE_BAD_REQUEST,
				    "Mcp-Session-Id is required");
		return 0;
	}
	if (!B.session[0] || !claw_ct_streq(sid, B.session)) {
		claw_http_reply_std(r, CLAW_HE_NOT_FOUND,
				    "no such session: initialize again");
		return 0;
	}
	return 1;
}

/* B.mu not held (see wmu). */
static int write_child(json_t *m)
{
	char *s = json_dumps(m, JSON_COMPACT);
	if (!s)
		return -1;
	pthread_mutex_lock(&wmu);
	if (B.in_fd < 0) {
		pthread_mutex_unlock(&wmu);
		free(s);
		return -1;
	}
	size_t n = strlen(s);
	int rc = 0;
	const char *p = s;
	size_t left = n;
	while (left && rc == 0) {
		ssize_t w = write(B.in_fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			rc = -1;
		else {
			p += w;
			left -= (size_t)w;
		}
	}
	while (rc == 0 && write(B.in_fd, "\n", 1) != 1)
		if (errno != EINTR)
			rc = -1;
	pthread_mutex_unlock(&wmu);
	free(s);
	return rc;
}

static void stream_free(void *p)
{
	struct mb_stream *s = p;
	pthread_mutex_lock(&B.mu);
	for (struct mb_stream **pp = &B.streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (B.get == s)
		B.get = NULL;
	pthread_mutex_unlock(&B.mu);
	while (s->qn) {
		json_decref(s->q[s->qh]);
		s->qh = (s->qh + 1) % MB_QUEUE_MAX;
		s->qn--;
	}
	json_decref(s->id);
	free(s->out);
	free(s);
}

static ssize_t stream_fn(void *cls, char *out, size_t max)
{
	struct mb_stream *s = cls;
	pthread_mutex_lock(&B.mu);
	if (!s->out) {
		if (!s->qn && !s->done) {
			struct timespec t;
			clock_gettime(CLOCK_REALTIME, &t);
			t.tv_sec += 1;
			pthread_cond_timedwait(&B.cv, &B.mu, &t);
		}
		if (s->qn) {
			json_t *m = s->q[s->qh];
			s->qh = (s->qh + 1) % MB_QUEUE_MAX;
			s->qn--;
			char *d = json_dumps(m, JSON_COMPACT);
			json_decref(m);
			if (d) {
				size_t dl = strlen(d);
				s->out = malloc(dl + 32);
				if (s->out) {
					int k = snprintf(s->out, dl + 32,
							 "event: message\n"
							 "data: %s\n\n",
							 d);
					s->out_len = k > 0 ? (size_t)k : 0;
					s->out_off = 0;
				}
				free(d);
			}
		} else if (s->done) {
			pthread_mutex_unlock(&B.mu);
			return -1;
		}
	}
	pthread_mutex_unlock(&B.mu);
	if (!s->out)
		return 0;
	size_t n = s->out_len - s->out_off;
	if (n > max)
		n = max;
	memcpy(out, s->out + s->out_off, n);
	s->out_off += n;
	if (s->out_off == s->out_len) {
		free(s->out);
		s->out = NULL;
	}
	return (ssize_t)n;
}

static void h_post(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	if (!authorized(r))
		return;
	size_t len;
	const char *body = claw_http_body(r, &len);
	json_t *m =
		json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	if (!m || !json_is_object(m)) {
		json_decref(m);
		claw_http_reply_std(r, CLAW_HE_BAD_JSON,
				    "the body must be one JSON-RPC message");
		return;
	}
	const char *method = json_string_value(json_object_get(m, "method"));
	json_t *id = json_object_get(m, "id");
	int init = method && strcmp(method, "initialize") == 0;
	pthread_mutex_lock(&B.mu);
	if (B.pid <= 0) {
		pthread_mutex_unlock(&B.mu);
		json_decref(m);
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
				    "the MCP server is not running");
		return;
	}
	if (!init && !session_ok(r)) {
		pthread_mutex_unlock(&B.mu);
		json_decref(m);
		return;
	}
	if (!method || !id) { /* a notification or a response */
		pthread_mutex_unlock(&B.mu);
		int rc = write_child(m);
		json_decref(m);
		if (rc)
			claw_http_reply_std(r, CLAW_HE_UNAVAILABLE,
					    "the MCP server is not running");
		else
			claw_http_reply_empty(r, 202);
		return;
	}
	struct mb_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&B.mu);
		json_decref(m);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	s->id = json_incref(id);
	if (init) {
		claw_random_hex(16, B.session);
	}
	s->next = B.streams;
	B.streams = s;
	if (init)
		claw_http_add_header(r, "Mcp-Session-Id", B.session);
	pthread_mutex_unlock(&B.mu);
	if (write_child(m)) {
		pthread_mutex_lock(&B.mu);
		if (!s->done) {
			s->done = 1;
			queue_push(s,
				   json_pack("{s:s, s:O, s:{s:i, s:s}}",
					     "jsonrpc", "2.0", "id", id,
					     "error", "code", -32603, "message",
					     "the MCP server is not running"));
		}
		pthread_mutex_unlock(&B.mu);
	}
	json_decref(m);
	claw_http_reply_stream(r, 200, "text/event-stream", stream_fn, s,
			       stream_free);
}

/* An authorized request of the open session: 1 with B.mu held, or 0 once
 * the refusal is sent (B.mu not held). */
static int session_enter(struct claw_http_req *r)
{
	if (!authorized(r))
		return 0;
	pthread_mutex_lock(&B.mu);
	if (!session_ok(r)) {
		pthread_mutex_unlock(&B.mu);
		return 0;
	}
	return 1;
}

static void h_get(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	if (!session_enter(r))
		return;
	if (B.get) {
		pthread_mutex_unlock(&B.mu);
		claw_http_reply_std(r, CLAW_HE_CONFLICT,
				    "a GET stream is already open");
		return;
	}
	struct mb_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&B.mu);
		claw_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	B.get = s;
	pthread_mutex_unlock(&B.mu);
	claw_http_reply_stream(r, 200, "text/event-stream", stream_fn, s,
			       stream_free);
}

static void h_delete(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	if (!session_enter(r))
		return;
	B.session[0] = '\0';
	if (B.get)
		B.get->done = 1;
	pthread_cond_broadcast(&B.cv);
	pthread_mutex_unlock(&B.mu);
	claw_http_reply_empty(r, 204);
}

static void h_healthz(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	claw_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct claw_http_req *r, void *ctx)
{
	(void)ctx;
	char why[320];
	pthread_mutex_lock(&B.mu);
	int up = B.pid > 0 && B.initialized;
	unsigned long long exits = B.exits, dropped = B.dropped;
	unsigned long long nj = B.fr.not_json, tl = B.fr.too_long;
	snprintf(why, sizeof(why), "%s%s%s",
		 B.pid <= 0 ? "the MCP server is not running"
			    : "the MCP server has not answered initialize yet",
		 B.last_error[0] ? "; last: " : "", B.last_error);
	pthread_mutex_unlock(&B.mu);
	if (!up) {
		claw_http_reply_std(r, CLAW_HE_UNAVAILABLE, why);
		return;
	}
	claw_http_reply_json(r, 200,
			     json_pack("{s:s, s:I, s:I, s:I, s:I}", "status",
				       "ready", "exits", (json_int_t)exits,
				       "dropped", (json_int_t)dropped,
				       "not_json", (json_int_t)nj, "too_long",
				       (json_int_t)tl));
}

static const struct claw_route routes[] = {
	{"POST", "/mcp", h_post, NULL},
	{"GET", "/mcp", h_get, NULL},
	{"DELETE", "/mcp", h_delete, NULL},
	{"GET", "/healthz", h_healthz, NULL},
	{"GET", "/readyz", h_readyz, NULL},
};

static char *read_token(const char *path, char *err, size_t errlen)
{
	char *copy = strdup(path);
	if (!copy)
		return NULL;
	char *slash = strrchr(copy, '/');
	const char *dir = ".", *name = copy;
	if (slash) {
		*slash = '\0';
		dir = slash == copy ? "/" : copy;
		name = slash + 1;
	}
	char *tok = NULL;
	if (claw_secret_read(dir, name, &tok, NULL, err, errlen))
		tok = NULL;
	else if (!tok[0]) {
		snprintf(err, errlen, "the token file %s is empty", path);
		claw_secret_free(tok);
		tok = NULL;
	}
	free(copy);
	return tok;
}

int main(int argc, char **argv)
{
	char *listen = NULL, *token_file = NULL, *log_level = NULL;
	int nargc = argc;
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			nargc = i;
			B.argv = argv + i + 1;
			break;
		}
	const struct claw_cfg_opt opts[] = {
		{"listen", CLAW_CFG_STRING, &listen, "127.0.0.1:8080", 0, 0,
		 "address and port to serve /mcp on (the tenant's internal "
		 "network)"},
		{"token-file", CLAW_CFG_STRING, &token_file, NULL, 0, 0,
		 "file holding the bearer token clients must send "
		 "(required)"},
		{"max-line", CLAW_CFG_INT, &B.max_line, "4194304", 1024,
		 1L << 30, "longest line the server may write, in bytes"},
		{"restart-backoff-ms", CLAW_CFG_INT, &B.backoff_min_ms, "250",
		 10, 30000,
		 "first delay before restarting a server that exited; it "
		 "doubles per exit up to 30 s and resets after 30 s up"},
		{"init-timeout-ms", CLAW_CFG_INT, &B.init_timeout_ms, "60000",
		 100, 600000,
		 "how long a started server has to answer the bridge's "
		 "initialize before it is restarted (/readyz is 503 until "
		 "it has)"},
		{"log-level", CLAW_CFG_STRING, &log_level, "info", 0, 0,
		 "debug, info, warn or error"},
		{NULL, 0, NULL, NULL, 0, 0, NULL},
	};
	char err[512];
	int rc = 2;
	switch (claw_cfg_load(opts, "CLAW_MCP_BRIDGE",
			      "claw-mcp-bridge [OPTIONS] -- COMMAND [ARGS...]: "
			      "starts COMMAND, a stdio MCP server, and serves "
			      "it as MCP Streamable HTTP on /mcp behind a "
			      "bearer token (GET /readyz: 503 until it has "
			      "answered initialize and while it is down; it "
			      "is restarted with backoff).",
			      nargc, argv, err, sizeof(err))) {
	case CLAW_CFG_HELP:
		return 0;
	case CLAW_CFG_ERROR:
		fprintf(stderr, "claw-mcp-bridge: %s\n", err);
		return 2;
	case CLAW_CFG_OK:
		break;
	}
	int level = claw_log_level_parse(log_level);
	if (level < 0) {
		fprintf(stderr, "claw-mcp-bridge: unknown log level '%s'\n",
			log_level);
		goto out;
	}
	if (!B.argv || !B.argv[0]) {
		fprintf(stderr, "claw-mcp-bridge: no command after --\n");
		goto out;
	}
	if (!token_file) {
		fprintf(stderr, "claw-mcp-bridge: --token-file is required\n");
		goto out;
	}
	claw_log_init("mcp-bridge", (enum claw_log_level)level, NULL);
	claw_crypto_init();
	if (!(B.token = read_token(token_file, err, sizeof(err)))) {
		fprintf(stderr, "claw-mcp-bridge: %s\n", err);
		goto out;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = 1;
	const struct claw_daemon_config dc = {.tick = on_tick,
					      .tick_ms = 100,
					      .child = on_child,
					      .stop_timeout_ms = 10000};
	if (claw_daemon_init(&dc)) {
		fprintf(stderr, "claw-mcp-bridge: unable to block signals\n");
		goto out;
	}
	struct claw_httpd_config hc = {
		.listen = listen,
		.routes = routes,
		.n_routes = sizeof(routes) / sizeof(routes[0]),
		/* SSE streams stay open while idle */
		.connection_timeout_s = 3600,
	};
	struct claw_httpd *h;
	if (start_child()) {
		fprintf(stderr, "claw-mcp-bridge: unable to start %s\n",
			B.argv[0]);
		goto out;
	}
	if (claw_httpd_start(&hc, &h, err, sizeof(err))) {
		fprintf(stderr, "claw-mcp-bridge: %s\n", err);
		goto out;
	}
	log_info("MCP bridge listening on port %u", claw_httpd_port(h));
	rc = claw_daemon_run() ? 1 : 0;
	pthread_mutex_lock(&B.mu);
	fail_open("the bridge is stopping");
	pid_t pid = B.pid;
	pthread_mutex_unlock(&B.mu);
	if (pid > 0)
		kill(-pid, SIGTERM);
	claw_httpd_shutdown(h, 2000);
	claw_daemon_stopped();
out:
	claw_secret_free(B.token);
	claw_cfg_release(opts);
	return rc;
}
