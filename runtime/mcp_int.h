/*
 * mcp_int.h - internals shared by the MCP client core (mcp.c, mcp_serve.c)
 * and its two transports (mcp_stdio.c, mcp_http.c). Not for other files.
 */
#ifndef RT_MCP_INT_H
#define RT_MCP_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "claw/buf.h"
#include "mcp.h"

#define MCP_MAX_MESSAGE (16u << 20)
#define MCP_MAX_WORKERS 8 /* server requests answered at once */

struct mcp_pending {
	json_int_t id;
	json_t *msg; /* the response, once it came */
	bool done;
	enum claw_rc rc; /* with error: the transport's code */
	char error[200]; /* transport failure while waiting */
	bool tool_call;
	void *call_ctx;     /* tool calls: for the elicit callback */
	int asking;         /* the user is being asked for this call */
	long long deadline; /* monotonic ms; moved on by the time asked */
	struct mcp_pending *next;
};

enum mcp_listen_state {
	MCP_LISTEN_NONE,    /* no stream (not HTTP, or the server has none) */
	MCP_LISTEN_OPENING, /* the GET is on its way */
	MCP_LISTEN_OPEN,    /* the stream answered */
};

struct rt_mcp {
	const struct rt_mcp_server_cfg *cfg;
	struct rt_mcp_net net;
	/* Own copies for the HTTP threads, which may outlive cfg: */
	char *name, *url, *proxy, *ca_file;
	char **headers; /* sodium memory (secrets inside) */
	long timeout_ms;
	bool listen; /* open the HTTP GET stream */
	atomic_int refs;

	pthread_mutex_t mu; /* pending list, state below */
	pthread_cond_t cond;
	pthread_mutex_t conn_mu; /* one connect at a time */
	struct mcp_pending *pending;
	json_int_t next_id;
	bool up;   /* initialized and not known dead */
	bool dead; /* the transport failed; reconnect before use */
	bool tools_stale;
	char version[16];
	json_t *tools; /* last tools/list */
	long long next_attempt_ms, backoff_ms, up_since_ms;
	int workers; /* threads answering server requests */

	/* stdio */
	pid_t pid;
	int in_fd, out_fd, err_fd;
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t write_mu;

	/* http */
	char session_id[256];
	unsigned long session_gen; /* a new session ends the old listener */
	enum mcp_listen_state listen_state;
	atomic_bool stop;
};

/* Handle one incoming message text (a line, an SSE data, a JSON body).
 * stream_req: the id of the request whose POST stream brought it, or 0
 * (the standalone GET stream, stdio). */
void mcp_dispatch(struct rt_mcp *m, const char *data, size_t len,
		  json_int_t stream_req);
/* Mark the transport dead and fail every pending request. */
void mcp_transport_failed(struct rt_mcp *m, const char *why);
/* Fail one pending request (a POST that brought no answer) with rc. */
void mcp_pending_fail(struct rt_mcp *m, json_int_t id, enum claw_rc rc,
		      const char *why);
/* Whether request id has its answer (or is gone). */
bool mcp_pending_done(struct rt_mcp *m, json_int_t id);
/* Send one message over the server's transport; the transport's code.
 * For an HTTP request (id not 0) the POST runs on a thread of its own and
 * its failure reaches the pending request. */
enum claw_rc mcp_send_json(struct rt_mcp *m, json_t *msg, json_int_t id,
			   long timeout_ms, char *err, size_t errlen);
void mcp_unref(struct rt_mcp *m);

/* mcp_serve.c: answer a request of the server (borrowed); stream_req as
 * for mcp_dispatch. */
void mcp_serve_request(struct rt_mcp *m, json_t *id, const char *method,
		       json_t *params, json_int_t stream_req);
/* Wait until no thread answers a server request any more. */
void mcp_serve_drain(struct rt_mcp *m);

/* Start the server's program with its reader thread. CLAW_OK, or with err
 * set: CLAW_ERR_NOT_FOUND (no such program, or not executable),
 * CLAW_ERR_IO (pipes, fork, thread). */
enum claw_rc mcp_stdio_connect(struct rt_mcp *m, char *err, size_t errlen);
/* Write one message line. CLAW_OK, or CLAW_ERR_IO with err set. */
enum claw_rc mcp_stdio_send(struct rt_mcp *m, const char *msg, size_t len,
			    char *err, size_t errlen);
void mcp_stdio_disconnect(struct rt_mcp *m);

/* POST one message. id 0 (a notification or an answer): synchronous;
 * CLAW_OK, or with err set: claw_httpc_do's code (CLAW_ERR_IO,
 * CLAW_ERR_TIMEOUT, ...) when no response came, CLAW_ERR_IO when the
 * server ended the session, CLAW_ERR_PROTO for an unexpected HTTP status,
 * CLAW_ERR_NOMEM. A request (id not 0): the POST runs on a thread of its
 * own (answers are dispatched as they come, a broken stream is resumed)
 * and its failure goes to mcp_pending_fail; CLAW_OK, or CLAW_ERR_NOMEM /
 * CLAW_ERR_IO when the thread cannot start. */
enum claw_rc mcp_http_send(struct rt_mcp *m, const char *msg, size_t len,
			   json_int_t id, long timeout_ms, char *err,
			   size_t errlen);
/* Open the standalone GET stream of this session and wait (briefly) until
 * the server answered it, so that what it sends there is not lost. */
void mcp_http_start_listen(struct rt_mcp *m);
void mcp_http_disconnect(struct rt_mcp *m);
/* Copies of the HTTP settings (url, headers, proxy, CA file, name) for
 * threads that may outlive cfg. CLAW_OK or CLAW_ERR_NOMEM. */
enum claw_rc mcp_http_copy_cfg(struct rt_mcp *m);
void mcp_http_free_cfg(struct rt_mcp *m);

#endif
