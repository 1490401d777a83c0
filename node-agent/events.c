/*
 * events.c - the events thread: follows Docker's /events for our
 * containers (label claw.managed=1) and queues each one for the reconcile
 * thread, which reacts at once (no polling delay). The stream is read in
 * windows of a few seconds (so the thread notices shutdown) and resumed
 * with "since" the last event, duplicates dropped by their timeNano. When
 * the engine goes away the thread retries with backoff and, once it is
 * back, asks the reconciler for a full re-sync.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "claw/log.h"

#define NA_EVENTS_WINDOW_MS 3000L

struct ev_ctx {
	struct na_agent *a;
	struct na_lines lines;
	int64_t last_nano;
};

static enum claw_rc on_line(const char *line, size_t len, void *cls)
{
	struct ev_ctx *c = cls;
	struct na_event ev;
	if (na_event_parse(&ev, line, len)) {
		log_warn("ignoring a malformed Docker event line");
		return CLAW_OK;
	}
	if (ev.time_nano && ev.time_nano <= c->last_nano)
		return CLAW_OK;
	if (ev.time_nano)
		c->last_nano = ev.time_nano;
	pthread_mutex_lock(&c->a->mu);
	if (c->a->nq < NA_EVENT_QUEUE)
		c->a->queue[c->a->nq++] = ev;
	else
		c->a->queue_overflow = true;
	na_agent_wake(c->a);
	pthread_mutex_unlock(&c->a->mu);
	return CLAW_OK;
}

static int on_data(const char *data, size_t len, void *cls)
{
	struct ev_ctx *c = cls;
	bool stop;
	pthread_mutex_lock(&c->a->mu);
	stop = c->a->stop;
	pthread_mutex_unlock(&c->a->mu);
	if (stop)
		return 1;
	return na_lines_feed(&c->lines, data, len) != CLAW_OK;
}

static bool stopping(struct na_agent *a)
{
	pthread_mutex_lock(&a->mu);
	bool s = a->stop;
	pthread_mutex_unlock(&a->mu);
	return s;
}

void *na_events_main(void *agent)
{
	struct ev_ctx c = {.a = agent};
	struct na_docker d;
	struct na_docker_err err;
	bool connected = false, lost = false;
	unsigned delay_ms = 200;
	char path[1200], prefix[96];

	c.last_nano = (int64_t)time(NULL) * 1000000000;
	while (!stopping(c.a)) {
		if (!connected) {
			if (na_docker_connect(&d, c.a->cfg.docker_socket,
					      &err)) {
				usleep(delay_ms * 1000);
				delay_ms =
					delay_ms < 5000 ? delay_ms * 2 : 5000;
				lost = true;
				continue;
			}
			connected = true;
			delay_ms = 200;
			if (lost) {
				log_info("Docker events stream back: the "
					 "view of Docker is built again");
				pthread_mutex_lock(&c.a->mu);
				c.a->resync = true;
				na_agent_wake(c.a);
				pthread_mutex_unlock(&c.a->mu);
				lost = false;
			}
		}
		snprintf(prefix, sizeof(prefix),
			 "/events?since=%" PRId64 ".%09" PRId64 "&",
			 c.last_nano / 1000000000, c.last_nano % 1000000000);
		if (na_agent_filter_path(c.a, prefix, true, path,
					 sizeof(path))) {
			log_error("node name too long for an events filter");
			break;
		}
		long status = 0;
		na_lines_init(&c.lines, 1u << 16, on_line, &c);
		enum claw_rc rc = na_docker_stream(&d, "GET", path, NULL,
						   NA_EVENTS_WINDOW_MS, on_data,
						   &c, &status, &err);
		na_lines_release(&c.lines);
		if (rc == CLAW_ERR_TIMEOUT && status == 200)
			continue; /* the window closed: resume */
		if (status == 0 || (rc && rc != CLAW_ERR_TIMEOUT)) {
			if (!stopping(c.a))
				log_warn("Docker events stream lost: %s",
					 err.message);
			connected = false;
			lost = true;
		}
	}
	return NULL;
}
