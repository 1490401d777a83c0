/*
 * mcp_int.h - internals shared by the MCP client core (mcp.c) and its two
 * transports (mcp_stdio.c, mcp_http.c). Not for other files.
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

struct mcp_pending {
	json_int_t id;
	json_t *msg; /* the response, once it came */
	bool done;
	char error[200]; /* transport failure while waiting */
	struct mcp_pending *next;
};

struct rt_mcp {
	const struct rt_mcp_server_cfg *cfg;
	const struct rt_mcp_net *net;
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

	/* stdio */
	pid_t pid;
	int in_fd, out_fd, err_fd;
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t write_mu;

	/* http */
	char session_id[256];
	char last_event_id[256];
	long retry_ms;
	pthread_t getter;
	bool getter_started;
	atomic_bool stop;
};

/* Handle one incoming message text (a line, an SSE data, a JSON body). */
void mcp_dispatch(struct rt_mcp *m, const char *data, size_t len);
/* Mark the transport dead and fail every pending request. */
void mcp_transport_failed(struct rt_mcp *m, const char *why);
/* Whether request id has its answer. */
bool mcp_pending_done(struct rt_mcp *m, json_int_t id);
void mcp_unref(struct rt_mcp *m);

/* Start the server's program with its reader thread. CLAW_OK, or with err
 * set: CLAW_ERR_NOT_FOUND (no such program, or not executable),
 * CLAW_ERR_IO (pipes, fork, thread). */
enum claw_rc mcp_stdio_connect(struct rt_mcp *m, char *err, size_t errlen);
/* Write one message line. CLAW_OK, or CLAW_ERR_IO with err set. */
enum claw_rc mcp_stdio_send(struct rt_mcp *m, const char *msg, size_t len,
			    char *err, size_t errlen);
void mcp_stdio_disconnect(struct rt_mcp *m);

/* POST one message; answers that come with it are dispatched before this
 * returns. id: the request's id whose answer this POST should bring, or 0.
 * CLAW_OK, or with err set: claw_httpc_do's code (CLAW_ERR_IO,
 * CLAW_ERR_TIMEOUT, ...) when no response came, CLAW_ERR_IO when the
 * server ended the session, CLAW_ERR_PROTO for an unexpected HTTP status,
 * CLAW_ERR_NOMEM. */
enum claw_rc mcp_http_send(struct rt_mcp *m, const char *msg, size_t len,
			   json_int_t id, long timeout_ms, char *err,
			   size_t errlen);
void mcp_http_start_listen(struct rt_mcp *m);
void mcp_http_disconnect(struct rt_mcp *m);

#endif
