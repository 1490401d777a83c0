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
 *
 * Threads. HTTP is http.c's event loop: the handlers and every stream
 * write run on its thread. The reader thread (the child's stdout) queues
 * messages on the streams and wakes the loop, which flushes them
 * (flush_streams); the main thread runs claw_daemon (signals, the tick,
 * SIGCHLD) and wakes the loop the same way. Messages to the child go
 * through a bounded queue and a writer thread per child, so a server that
 * does not read its stdin never blocks the loop.
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
#include "claw/deadline.h"
#include "claw/log.h"
#include "claw/secret.h"
#include "framing.h"
#include "http.h"

#define MB_QUEUE_MAX 1024       /* messages waiting on one stream */
#define MB_IN_MAX (16u << 20)   /* bytes waiting for the child's stdin */
#define MB_MAX_BODY (1u << 20)  /* a request body (413 past it) */
#define MB_MAX_HEAD (16u << 10) /* a request head */
#define MB_IDLE_S 30            /* a connection without an open stream */

/* One SSE stream: a POSTed request's (id set) or the GET stream. */
struct mb_stream {
	json_t *id; /* the request's id; NULL for the GET stream */
	json_t *q[MB_QUEUE_MAX];
	size_t qh, qn;
	int done;   /* response queued: end after the queue drains */
	int closed; /* the client went away */
	struct mb_http_stream *hs; /* the loop thread's only */
	struct mb_stream *next;
};

/* What waits for the child's stdin, under W.mu (never held together with
 * B.mu): lines, each with its newline, written by the current child's
 * writer thread; at most MB_IN_MAX bytes. */
struct mb_line {
	struct mb_line *next;
	size_t n;
	char s[];
};
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct mb_line *head, **tail;
	size_t bytes;
	unsigned gen; /* the child whose writer may write; bumped at exit */
	int open;     /* a child reads them */
} W = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .cv = PTHREAD_COND_INITIALIZER,
       .tail = &W.head};

static struct {
	pthread_mutex_t mu;
	char **argv;
	pid_t pid;
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
	struct mb_http *http;    /* set before the first child starts */
} B = {.mu = PTHREAD_MUTEX_INITIALIZER, .pid = -1};

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
				mb_http_wake(B.http);
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
	mb_http_wake(B.http);
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
	mb_http_wake(B.http);
}

static int write_child(json_t *m);

/* The bridge's own initialize to a new child (its readiness probe). */
static void probe_child(void)
{
	char id[sizeof(B.init_id)];
	pthread_mutex_lock(&B.mu);
	snprintf(B.init_id, sizeof(B.init_id), "claw-mcp-bridge-init-%u",
		 B.gen);
	snprintf(id, sizeof(id), "%s", B.init_id);
	B.init_by = claw_deadline_ms(CLOCK_MONOTONIC, B.init_timeout_ms);
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

/* Drop what waits for the child's stdin (W.mu held). */
static void lines_drop(void)
{
	while (W.head) {
		struct mb_line *l = W.head;
		W.head = l->next;
		free(l);
	}
	W.tail = &W.head;
	W.bytes = 0;
}

/* One per child: writes the queued lines to its stdin until the child
 * exits (W.gen moves on) or a write fails, then closes it. */
struct mb_writer {
	int fd;
	unsigned gen;
};

static void *writer(void *arg)
{
	struct mb_writer w = *(struct mb_writer *)arg;
	free(arg);
	pthread_mutex_lock(&W.mu);
	for (;;) {
		while (W.gen == w.gen && !W.head)
			pthread_cond_wait(&W.cv, &W.mu);
		if (W.gen != w.gen)
			break;
		struct mb_line *l = W.head;
		W.head = l->next;
		if (!W.head)
			W.tail = &W.head;
		W.bytes -= l->n;
		pthread_mutex_unlock(&W.mu);
		size_t off = 0, len = l->n;
		while (off < len) {
			ssize_t n = write(w.fd, l->s + off, len - off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			off += (size_t)n;
		}
		free(l);
		pthread_mutex_lock(&W.mu);
		if (off < len) { /* its stdin is closed: nothing more goes */
			if (W.gen == w.gen) {
				W.open = 0;
				lines_drop();
			}
			break;
		}
	}
	pthread_mutex_unlock(&W.mu);
	close(w.fd);
	return NULL;
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
	pthread_t t;
	struct mb_writer *w = malloc(sizeof(*w));
	int ok = 0;
	pthread_mutex_lock(&W.mu);
	lines_drop();
	W.gen++;
	if (w) {
		w->fd = in[1];
		w->gen = W.gen;
		ok = !pthread_create(&t, NULL, writer, w);
	}
	W.open = ok;
	pthread_mutex_unlock(&W.mu);
	if (!ok) {
		free(w);
		close(in[1]);
		close(out[0]);
		return -1;
	}
	pthread_detach(t);
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
	pthread_mutex_lock(&W.mu); /* its writer stops and closes stdin */
	W.gen++;
	W.open = 0;
	lines_drop();
	pthread_cond_broadcast(&W.cv);
	pthread_mutex_unlock(&W.mu);
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
	B.restart_at = claw_deadline_ms(CLOCK_MONOTONIC, (long)B.backoff_ms);
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
		if (B.init_id[0] &&
		    claw_deadline_passed(CLOCK_MONOTONIC, &B.init_by))
			init_timed_out();
		pthread_mutex_unlock(&B.mu);
		return;
	}
	if (!claw_deadline_passed(CLOCK_MONOTONIC, &B.restart_at))
		return;
	if (start_child())
		log_error("unable to start the server: %s", strerror(errno));
}

static int authorized(struct mb_http_req *r)
{
	const char *h = mb_http_header(r, "Authorization");
	if (!h || strncmp(h, "Bearer ", 7) != 0 ||
	    !claw_ct_streq(h + 7, B.token)) {
		mb_http_reply_std(r, CLAW_HE_UNAUTHORIZED,
				  "a valid bearer token is required");
		return 0;
	}
	return 1;
}

/* B.mu held. */
static int session_ok(struct mb_http_req *r)
{
	const char *sid = mb_http_header(r, "Mcp-Session-Id");
	if (!sid) {
		mb_http_reply_std(r, CLAW_HE_BAD_REQUEST,
				  "Mcp-Session-Id is required");
		return 0;
	}
	if (!B.session[0] || !claw_ct_streq(sid, B.session)) {
		mb_http_reply_std(r, CLAW_HE_NOT_FOUND,
				  "no such session: initialize again");
		return 0;
	}
	return 1;
}

/* Queue m for the child's stdin (any thread; B.mu not held): 0, -1 when
 * no child reads it, -2 when too much already waits. */
static int write_child(json_t *m)
{
	char *d = json_dumps(m, JSON_COMPACT);
	if (!d)
		return -1;
	size_t n = strlen(d);
	struct mb_line *l = malloc(sizeof(*l) + n + 1);
	if (!l) {
		free(d);
		return -1;
	}
	memcpy(l->s, d, n);
	l->s[n] = '\n';
	l->n = n + 1;
	l->next = NULL;
	free(d);
	int rc = 0;
	pthread_mutex_lock(&W.mu);
	if (!W.open)
		rc = -1;
	else if (W.bytes + l->n > MB_IN_MAX)
		rc = -2;
	else {
		*W.tail = l;
		W.tail = &l->next;
		W.bytes += l->n;
		l = NULL;
		pthread_cond_broadcast(&W.cv);
	}
	pthread_mutex_unlock(&W.mu);
	free(l);
	return rc;
}

static const char *write_error(int rc)
{
	return rc == -2 ? "the MCP server is not reading its input"
			: "the MCP server is not running";
}

/* Free a stream taken out of B's lists (the loop thread, or main once
 * the loop is gone). */
static void stream_free(struct mb_stream *s)
{
	while (s->qn) {
		json_decref(s->q[s->qh]);
		s->qh = (s->qh + 1) % MB_QUEUE_MAX;
		s->qn--;
	}
	json_decref(s->id);
	mb_http_stream_end(s->hs);
	free(s);
}

/* Prepend B.get to list and clear it (B.mu held). */
static struct mb_stream *get_onto(struct mb_stream *list)
{
	if (B.get) {
		B.get->next = list;
		list = B.get;
		B.get = NULL;
	}
	return list;
}

static void streams_free(struct mb_stream *list)
{
	struct mb_stream *s;
	while ((s = list)) {
		list = s->next;
		stream_free(s);
	}
}

/* Send what s has queued while its client takes it (B.mu held, the loop
 * thread): 1 once the stream is over (its response sent, or its client
 * gone), else 0. */
static int stream_flush(struct mb_stream *s)
{
	int st;
	while ((st = mb_http_stream_state(s->hs)) == 0 && s->qn) {
		json_t *m = s->q[s->qh];
		s->qh = (s->qh + 1) % MB_QUEUE_MAX;
		s->qn--;
		char *d = json_dumps(m, JSON_COMPACT);
		json_decref(m);
		size_t dl = d ? strlen(d) : 0;
		char *ev = d ? malloc(dl + 32) : NULL;
		int k = ev ? snprintf(ev, dl + 32,
				      "event: message\ndata: %s\n\n", d)
			   : 0;
		if (k > 0)
			mb_http_stream_send(s->hs, ev, (size_t)k);
		else
			B.dropped++;
		free(ev);
		free(d);
	}
	if (st < 0) {
		s->closed = 1;
		return 1;
	}
	return s->done && !s->qn;
}

/* http.c's wake callback (the loop thread): flush every stream, end
 * those that are over. */
static void flush_streams(void *ctx)
{
	(void)ctx;
	struct mb_stream *over = NULL, *s;
	pthread_mutex_lock(&B.mu);
	for (struct mb_stream **pp = &B.streams; (s = *pp);) {
		if (s->hs && stream_flush(s)) {
			*pp = s->next;
			s->next = over;
			over = s;
		} else {
			pp = &s->next;
		}
	}
	if (B.get && B.get->hs && stream_flush(B.get))
		over = get_onto(over);
	pthread_mutex_unlock(&B.mu);
	streams_free(over);
}

/* Unlink s (B.mu not held): its reply could not start. */
static void stream_drop(struct mb_stream *s)
{
	pthread_mutex_lock(&B.mu);
	for (struct mb_stream **pp = &B.streams; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	if (B.get == s)
		B.get = NULL;
	pthread_mutex_unlock(&B.mu);
	stream_free(s);
}

/* Start s's SSE reply (s is in B's lists already). */
static void stream_start(struct mb_http_req *r, struct mb_stream *s)
{
	struct mb_http_stream *hs =
		mb_http_reply_stream(r, "text/event-stream");
	if (!hs) {
		stream_drop(s);
		return;
	}
	s->hs = hs;
	pthread_mutex_lock(&B.mu);
	mb_http_wake(B.http); /* what is queued already */
	pthread_mutex_unlock(&B.mu);
}

static void h_post(struct mb_http_req *r, void *ctx)
{
	(void)ctx;
	if (!authorized(r))
		return;
	size_t len;
	const char *body = mb_http_body(r, &len);
	json_t *m =
		json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, NULL);
	if (!m || !json_is_object(m)) {
		json_decref(m);
		mb_http_reply_std(r, CLAW_HE_BAD_JSON,
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
		mb_http_reply_std(r, CLAW_HE_UNAVAILABLE,
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
			mb_http_reply_std(r, CLAW_HE_UNAVAILABLE,
					  write_error(rc));
		else
			mb_http_reply_empty(r, 202);
		return;
	}
	struct mb_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&B.mu);
		json_decref(m);
		mb_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	s->id = json_incref(id);
	if (init) {
		claw_random_hex(16, B.session);
	}
	s->next = B.streams;
	B.streams = s;
	if (init)
		mb_http_add_header(r, "Mcp-Session-Id", B.session);
	pthread_mutex_unlock(&B.mu);
	int rc = write_child(m);
	if (rc) {
		pthread_mutex_lock(&B.mu);
		if (!s->done) {
			s->done = 1;
			queue_push(s,
				   json_pack("{s:s, s:O, s:{s:i, s:s}}",
					     "jsonrpc", "2.0", "id", id,
					     "error", "code", -32603, "message",
					     write_error(rc)));
		}
		pthread_mutex_unlock(&B.mu);
	}
	json_decref(m);
	stream_start(r, s);
}

/* An authorized request of the open session: 1 with B.mu held, or 0 once
 * the refusal is sent (B.mu not held). */
static int session_enter(struct mb_http_req *r)
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

static void h_get(struct mb_http_req *r, void *ctx)
{
	(void)ctx;
	if (!session_enter(r))
		return;
	if (B.get) {
		pthread_mutex_unlock(&B.mu);
		mb_http_reply_std(r, CLAW_HE_CONFLICT,
				  "a GET stream is already open");
		return;
	}
	struct mb_stream *s = calloc(1, sizeof(*s));
	if (!s) {
		pthread_mutex_unlock(&B.mu);
		mb_http_reply_std(r, CLAW_HE_INTERNAL, NULL);
		return;
	}
	B.get = s;
	pthread_mutex_unlock(&B.mu);
	stream_start(r, s);
}

static void h_delete(struct mb_http_req *r, void *ctx)
{
	(void)ctx;
	if (!session_enter(r))
		return;
	B.session[0] = '\0';
	if (B.get)
		B.get->done = 1;
	mb_http_wake(B.http);
	pthread_mutex_unlock(&B.mu);
	mb_http_reply_empty(r, 204);
}

static void h_healthz(struct mb_http_req *r, void *ctx)
{
	(void)ctx;
	mb_http_reply_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

static void h_readyz(struct mb_http_req *r, void *ctx)
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
		mb_http_reply_std(r, CLAW_HE_UNAVAILABLE, why);
		return;
	}
	mb_http_reply_json(r, 200,
			   json_pack("{s:s, s:I, s:I, s:I, s:I}", "status",
				     "ready", "exits", (json_int_t)exits,
				     "dropped", (json_int_t)dropped, "not_json",
				     (json_int_t)nj, "too_long",
				     (json_int_t)tl));
}

static const struct mb_http_route routes[] = {
	{"POST", "/mcp", h_post},     {"GET", "/mcp", h_get},
	{"DELETE", "/mcp", h_delete}, {"GET", "/healthz", h_healthz},
	{"GET", "/readyz", h_readyz},
};

/* Stop serving (the streams get up to 2 s to end), then free the streams
 * the loop left: no thread reaches them once B.http is NULL. */
static void stop_http(struct mb_http *h)
{
	pthread_mutex_lock(&B.mu);
	B.http = NULL; /* the reader wakes no freed server */
	pthread_mutex_unlock(&B.mu);
	mb_http_stop(h, 2000);
	pthread_mutex_lock(&B.mu);
	struct mb_stream *left = get_onto(B.streams);
	B.streams = NULL;
	pthread_mutex_unlock(&B.mu);
	streams_free(left);
}

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
	long max_conns = 0;
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
		{"max-connections", CLAW_CFG_INT, &max_conns, "256", 1, 65536,
		 "most connections open at once; more are closed at accept"},
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
	const struct mb_http_config hc = {
		.listen = listen,
		.routes = routes,
		.n_routes = sizeof(routes) / sizeof(routes[0]),
		.max_body = MB_MAX_BODY,
		.max_headers = MB_MAX_HEAD,
		.idle_timeout_s = MB_IDLE_S,
		/* SSE streams stay open while idle */
		.stream_timeout_s = 3600,
		.max_connections = (unsigned)max_conns,
		.wake = flush_streams,
	};
	struct mb_http *h;
	if (mb_http_start(&hc, &h, err, sizeof(err))) {
		fprintf(stderr, "claw-mcp-bridge: %s\n", err);
		goto out;
	}
	pthread_mutex_lock(&B.mu);
	B.http = h;
	pthread_mutex_unlock(&B.mu);
	if (start_child()) {
		fprintf(stderr, "claw-mcp-bridge: unable to start %s\n",
			B.argv[0]);
		stop_http(h);
		goto out;
	}
	log_info("MCP bridge listening on port %u", mb_http_port(h));
	rc = claw_daemon_run() ? 1 : 0;
	pthread_mutex_lock(&B.mu);
	fail_open("the bridge is stopping");
	pid_t pid = B.pid;
	pthread_mutex_unlock(&B.mu);
	if (pid > 0)
		kill(-pid, SIGTERM);
	stop_http(h);
	claw_daemon_stopped();
out:
	claw_secret_free(B.token);
	claw_cfg_release(opts);
	return rc;
}
