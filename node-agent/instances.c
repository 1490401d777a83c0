/*
 * instances.c - Docker operations on tenant containers; see instances.h.
 */
#include "instances.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "docker_stream.h"

#define NA_CALL_MS 30000L
/* the youngest a running container is when it is sent SIGTERM */
#define NA_STOP_MIN_AGE_MS 1000L

enum claw_rc na_inst_inspect(const struct na_docker *d, const char *id,
			     const char *net, char *ip, size_t iplen,
			     const char *edge, char *edge_ip, size_t edge_iplen,
			     unsigned *host_port, bool *running,
			     struct na_docker_err *err)
{
	char path[160];
	json_t *c = NULL;
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	enum claw_rc rc =
		na_docker_json(d, "GET", path, NULL, NULL, NA_CALL_MS, &c, err);
	if (rc)
		return rc;
	json_t *ns = json_object_get(c, "NetworkSettings");
	const char *s = json_string_value(json_object_get(
		json_object_get(json_object_get(ns, "Networks"), net),
		"IPAddress"));
	snprintf(ip, iplen, "%s", s ? s : "");
	if (edge_ip) {
		s = edge ? json_string_value(json_object_get(
				   json_object_get(
					   json_object_get(ns, "Networks"),
					   edge),
				   "IPAddress"))
			 : NULL;
		snprintf(edge_ip, edge_iplen, "%s", s ? s : "");
	}
	*host_port = 0;
	json_t *binds =
		json_object_get(json_object_get(ns, "Ports"), "8080/tcp");
	const char *hp = json_string_value(
		json_object_get(json_array_get(binds, 0), "HostPort"));
	if (hp)
		*host_port = (unsigned)strtoul(hp, NULL, 10);
	*running = json_is_true(
		json_object_get(json_object_get(c, "State"), "Running"));
	json_decref(c);
	return CLAW_OK;
}

static enum claw_rc create_once(const struct na_docker *d, const char *name,
				const json_t *body, char *id, size_t idlen,
				struct na_docker_err *err)
{
	char path[160];
	json_t *out = NULL;
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	enum claw_rc rc = na_docker_json(d, "POST", path, NULL, body,
					 NA_CALL_MS, &out, err);
	if (rc == CLAW_OK) {
		const char *s = json_string_value(json_object_get(out, "Id"));
		snprintf(id, idlen, "%s", s ? s : "");
		if (!s) {
			err->status = 200;
			snprintf(err->message, sizeof(err->message),
				 "the engine created '%s' without an id", name);
			rc = CLAW_ERR_PROTO;
		}
	}
	json_decref(out);
	return rc;
}

static enum claw_rc connect_net(const struct na_docker *d, const char *net,
				const char *id, struct na_docker_err *err)
{
	char path[300];
	snprintf(path, sizeof(path), "/networks/%s/connect", net);
	json_t *conn = json_pack("{s:s}", "Container", id);
	enum claw_rc rc = na_docker_json(d, "POST", path, NULL, conn,
					 NA_CALL_MS, NULL, err);
	json_decref(conn);
	return rc;
}

enum claw_rc na_inst_create(const struct na_docker *d, const char *name,
			    const json_t *body, const char *egress,
			    const char *edge, char *id, size_t idlen,
			    struct na_docker_err *err)
{
	char path[300];
	enum claw_rc rc = create_once(d, name, body, id, idlen, err);
	if (rc && err->status == 409) {
		/* A container of that name that we do not track (left over):
		 * it is ours by name, replace it. */
		snprintf(path, sizeof(path), "/containers/%s?force=1&v=0",
			 name);
		na_docker_json(d, "DELETE", path, NULL, NULL, NA_CALL_MS, NULL,
			       err);
		rc = create_once(d, name, body, id, idlen, err);
	}
	if (rc == CLAW_OK && egress)
		rc = connect_net(d, egress, id, err);
	if (rc == CLAW_OK && edge)
		rc = connect_net(d, edge, id, err);
	return rc;
}

/* METHOD /containers/ID + what; a failure with a status in fine (a list
 * ending in 0, or NULL) is a success: the container is already so. */
static enum claw_rc container_call(const struct na_docker *d,
				   const char *method, const char *id,
				   const char *what, long timeout_ms,
				   const long *fine, struct na_docker_err *err)
{
	char path[256];
	snprintf(path, sizeof(path), "/containers/%s%s", id, what);
	enum claw_rc rc = na_docker_json(d, method, path, NULL, NULL,
					 timeout_ms, NULL, err);
	for (; rc && fine && *fine; fine++)
		if (err->status == *fine)
			rc = CLAW_OK;
	return rc;
}

enum claw_rc na_inst_start(const struct na_docker *d, const char *id,
			   struct na_docker_err *err)
{
	static const long started[] = {304, 0}; /* already started */
	return container_call(d, "POST", id, "/start", NA_CALL_MS, started,
			      err);
}

/* How long ago (ms) the running container id started; -1 when it does
 * not run or that is not known. */
static long running_for_ms(const struct na_docker *d, const char *id)
{
	char path[160];
	json_t *c = NULL;
	struct na_docker_err ignored;
	long ms = -1;
	snprintf(path, sizeof(path), "/containers/%s/json", id);
	if (na_docker_json(d, "GET", path, NULL, NULL, NA_CALL_MS, &c,
			   &ignored))
		return -1;
	json_t *st = json_object_get(c, "State");
	const char *at = json_string_value(json_object_get(st, "StartedAt"));
	int64_t ns = at ? na_docker_time_ns(at, strlen(at)) : -1;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (ns > 0 && json_is_true(json_object_get(st, "Running")))
		ms = (long)(((int64_t)now.tv_sec * 1000000000 + now.tv_nsec -
			     ns) /
			    1000000);
	json_decref(c);
	return ms;
}

enum claw_rc na_inst_stop(const struct na_docker *d, const char *id,
			  int timeout_s, struct na_docker_err *err)
{
	static const long stopped[] = {304, 404, 0}; /* already, or gone */
	char what[32];
	/* A process that has not yet blocked or caught SIGTERM loses it: as
	 * a container's PID 1 the kernel drops a signal it has no handler
	 * for, and Docker kills it only after the whole grace (a gateway
	 * just restarted and replaced at once took 20 s: docs/reliability.md,
	 * finding 20). A container this young is given the rest of
	 * NA_STOP_MIN_AGE_MS first. */
	long age = running_for_ms(d, id);
	if (age >= 0 && age < NA_STOP_MIN_AGE_MS) {
		long left = NA_STOP_MIN_AGE_MS - age;
		struct timespec ts = {left / 1000, (left % 1000) * 1000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	snprintf(what, sizeof(what), "/stop?t=%d", timeout_s);
	return container_call(d, "POST", id, what,
			      NA_CALL_MS + timeout_s * 1000L, stopped, err);
}

enum claw_rc na_inst_signal(const struct na_docker *d, const char *id,
			    const char *sig, struct na_docker_err *err)
{
	char what[48];
	snprintf(what, sizeof(what), "/kill?signal=%s", sig);
	return container_call(d, "POST", id, what, NA_CALL_MS, NULL, err);
}

enum claw_rc na_inst_remove(const struct na_docker *d, const char *id,
			    struct na_docker_err *err)
{
	static const long gone[] = {404, 0};
	return container_call(d, "DELETE", id, "?force=1&v=0", NA_CALL_MS, gone,
			      err);
}

struct tail_ctx {
	struct na_mux mux;
	struct claw_buf text;
};

static enum claw_rc on_frame(int stream, const char *data, size_t len,
			     void *cls)
{
	struct tail_ctx *t = cls;
	(void)stream;
	/* Over its ceiling: keep what fits, the rest is dropped. */
	claw_buf_append(&t->text, data, len);
	return CLAW_OK;
}

static int on_log_data(const char *data, size_t len, void *cls)
{
	struct tail_ctx *t = cls;
	return na_mux_feed(&t->mux, data, len) != CLAW_OK;
}

enum claw_rc na_inst_log_tail(const struct na_docker *d, const char *id,
			      unsigned lines, char *out, size_t outlen)
{
	char path[200];
	struct tail_ctx t;
	struct na_docker_err err;
	long status = 0;
	enum claw_rc rc;

	out[0] = 0;
	snprintf(path, sizeof(path),
		 "/containers/%s/logs?stdout=1&stderr=1&tail=%u", id, lines);
	na_mux_init(&t.mux, on_frame, &t);
	claw_buf_init(&t.text, 64u << 10);
	rc = na_docker_stream(d, "GET", path, NULL, 10000, on_log_data, &t,
			      &status, &err);
	if (rc == CLAW_OK && status != 200)
		rc = status == 404 ? CLAW_ERR_NOT_FOUND : CLAW_ERR_INVALID;
	if (rc == CLAW_OK && t.text.len) {
		/* The last outlen-1 bytes. */
		size_t n = t.text.len < outlen - 1 ? t.text.len : outlen - 1;
		memcpy(out, t.text.data + t.text.len - n, n);
		out[n] = 0;
	}
	claw_buf_release(&t.text);
	return rc;
}
