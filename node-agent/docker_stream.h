/*
 * docker_stream.h - incremental parsers for what the Docker Engine API
 * streams: newline-delimited JSON (pull/push progress, /events) and the
 * multiplexed stdout/stderr framing of container logs. They take bytes in
 * any chunking (a line or a frame may straddle chunks), hold no more than a
 * ceiling, and never touch the network, so they are fuzzed on their own.
 */
#ifndef NA_DOCKER_STREAM_H
#define NA_DOCKER_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "claw/buf.h"
#include "claw/err.h"

/* ---- newline-delimited lines (a trailing CR is stripped) -------------- */

/* Called for each complete line (NUL-terminated, without its newline);
 * return CLAW_OK to go on, anything else stops the feed with that code. */
typedef enum claw_rc (*na_line_fn)(const char *line, size_t len, void *cls);

struct na_lines {
	struct claw_buf partial; /* bytes of the line not yet complete */
	na_line_fn fn;
	void *cls;
};

/* max_line: ceiling on one line (0: 1 MiB). */
void na_lines_init(struct na_lines *l, size_t max_line, na_line_fn fn,
		   void *cls);
enum claw_rc na_lines_feed(struct na_lines *l, const char *data, size_t len);
/* End of stream: hands a last unterminated line to the callback. */
enum claw_rc na_lines_finish(struct na_lines *l);
void na_lines_release(struct na_lines *l);

/* ---- pull progress ----------------------------------------------------- */

#define NA_PROGRESS_LAYERS 64

/* One layer of a pull, by the short id Docker gives it. */
struct na_layer {
	char id[72];
	bool done;        /* "Pull complete" or "Already exists" */
	uint64_t current; /* bytes downloaded */
	uint64_t total;   /* bytes to download (0 until known) */
};

struct na_progress {
	bool failed;           /* a line carried "error" or "errorDetail" */
	char error[512];       /* its message (Docker's words) */
	char digest[80];       /* "sha256:..." from "Digest: ..." when seen */
	unsigned lines;        /* progress lines seen */
	char last_status[128]; /* the last "status" text, for reports */
	unsigned n_layers;     /* layers seen (at most NA_PROGRESS_LAYERS) */
	struct na_layer layers[NA_PROGRESS_LAYERS];
};

/* What a pull has done so far, for reports. */
struct na_pull_totals {
	unsigned layers_done, layers_total;
	uint64_t bytes_done, bytes_total;
};

/* Check one progress line (a JSON object). A line that is not JSON is a
 * protocol error (CLAW_ERR_PARSE); an error line sets p->failed and
 * returns CLAW_OK so the caller reads the rest of the stream. */
enum claw_rc na_progress_line(struct na_progress *p, const char *line,
			      size_t len);
/* Add p's layers and bytes to *t (a layer past the table is not counted;
 * bytes of a finished layer count whole). */
void na_progress_add_totals(const struct na_progress *p,
			    struct na_pull_totals *t);

/* ---- /events ----------------------------------------------------------- */

struct na_event {
	char type[16];     /* "container", "network", ... */
	char action[48];   /* "die", "start", "oom", "destroy", ... */
	char id[72];       /* the actor's id */
	char tenant[64];   /* its claw.tenant label, or "" */
	char role[16];     /* its claw.role label, or "" */
	int exit_code;     /* the exitCode attribute, or -1 */
	int64_t time_nano; /* timeNano, or 0 */
};

/* Parse one /events line. CLAW_ERR_PARSE when it is not an event object. */
enum claw_rc na_event_parse(struct na_event *ev, const char *line, size_t len);

/* ---- multiplexed log stream ------------------------------------------- */

/* stream: 0 stdin, 1 stdout, 2 stderr. Called for each piece of a frame's
 * payload as it arrives (a frame may be handed over in several pieces). */
typedef enum claw_rc (*na_mux_fn)(int stream, const char *data, size_t len,
				  void *cls);

struct na_mux {
	unsigned char head[8];
	size_t head_len; /* bytes of the current header held */
	uint32_t left;   /* payload bytes of the current frame still due */
	int stream;
	na_mux_fn fn;
	void *cls;
};

void na_mux_init(struct na_mux *m, na_mux_fn fn, void *cls);
/* CLAW_ERR_PROTO on a header that is not Docker's framing (stream byte
 * over 2, non-zero padding). */
enum claw_rc na_mux_feed(struct na_mux *m, const char *data, size_t len);
/* True when the stream ended between frames (not inside one). */
bool na_mux_clean_end(const struct na_mux *m);

#endif
