/*
 * instances.c - Docker operations on tenant containers; see instances.h.
 */
#include "instances.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/log.h"
#include "spec.h"

#define NA_CALL_MS 30000L

enum claw_rc na_inst_inspect(struct na_agent *a, const char *tenant,
			     struct na_inst *in, struct na_docker_err *err)
{
	char path[160], net[64];
	json_t *c = NULL;
	snprintf(path, sizeof(path), "/containers/%s/json", in->id);
	enum claw_rc rc = na_docker_json(&a->docker, "GET", path, NULL, NULL,
					 NA_CALL_MS, &c, err);
	if (rc)
		return rc;
	na_network_name(tenant, net, sizeof(net));
	json_t *ns = json_object_get(c, "NetworkSettings");
	const char *ip = json_string_value(json_object_get(
		json_object_get(json_object_get(ns, "Networks"), net),
		"IPAddress"));
	snprintf(in->ip, sizeof(in->ip), "%s", ip ? ip : "");
	in->host_port = 0;
	json_t *binds = json_object_get(json_object_get(ns, "Ports"),
					"8080/tcp");
	const char *hp = json_string_value(
		json_object_get(json_array_get(binds, 0), "HostPort"));
	if (hp)
		in->host_port = (unsigned)strtoul(hp, NULL, 10);
	json_t *state = json_object_get(c, "State");
	in->running = json_is_true(json_object_get(state, "Running"));
	json_decref(c);
	return CLAW_OK;
}

static enum claw_rc create_once(struct na_agent *a, const char *name,
				json_t *body, char *id, size_t idlen,
				struct na_docker_err *err)
{
	char path[160];
	json_t *out = NULL;
	snprintf(path, sizeof(path), "/containers/create?name=%s", name);
	enum claw_rc rc = na_docker_json(&a->docker, "POST", path, NULL, body,
					 NA_CALL_MS, &out, err);
	if (rc == CLAW_OK) {
		const char *s = json_string_value(json_object_get(out, "Id"));
		snprintf(id, idlen, "%s", s ? s : "");
		if (!s)
			rc = CLAW_ERR_PROTO;
	}
	json_decref(out);
	return rc;
}

enum claw_rc na_inst_create(struct na_agent *a, struct na_tenant *t,
			    const struct na_tenant_spec *spec, enum na_role r,
			    struct na_docker_err *err)
{
	char name[96], cfg[1024], sec[1024], path[300];
	struct na_inst *in = &t->inst[r];
	struct na_spec_paths paths;
	json_t *body, *conn;
	enum claw_rc rc;

	na_container_name(t->name, r, name, sizeof(name));
	na_files_config_path(&a->files, t->name, r, cfg, sizeof(cfg));
	na_files_secrets_path(&a->files, t->name, r, sec, sizeof(sec));
	paths.config_file = cfg;
	paths.secrets_dir = sec;
	paths.publish_ip = a->cfg.publish_ip;
	paths.config_hash = t->files_hash[r];
	paths.node = a->cfg.node_name;
	body = na_spec_container(spec, r, t->pinned[r], &paths);
	if (!body) {
		snprintf(err->message, sizeof(err->message), "out of memory");
		return CLAW_ERR_NOMEM;
	}
	rc = create_once(a, name, body, in->id, sizeof(in->id), err);
	if (rc && err->status == 409) {
		/* A container of that name that we do not track (left over):
		 * it is ours by name, replace it. */
		snprintf(path, sizeof(path), "/containers/%s?force=1&v=0",
			 name);
		na_docker_json(&a->docker, "DELETE", path, NULL, NULL,
			       NA_CALL_MS, NULL, err);
		rc = create_once(a, name, body, in->id, sizeof(in->id), err);
	}
	json_decref(body);
	if (rc)
		return rc;
	in->exists = true;
	in->running = false;
	in->generation = spec->generation;
	snprintf(in->deployment, sizeof(in->deployment), "%s",
		 spec->deployment);
	/* in points into t: snprintf would trip -Werror=restrict at -O2. */
	_Static_assert(sizeof(in->image) == sizeof(t->pinned[r]) &&
			       sizeof(in->cfg_hash) == sizeof(t->files_hash[r]),
		       "same-sized copies");
	memcpy(in->image, t->pinned[r], sizeof(in->image));
	memcpy(in->cfg_hash, t->files_hash[r], sizeof(in->cfg_hash));
	if (r == NA_GATEWAY) {
		snprintf(path, sizeof(path), "/networks/%s/connect",
			 a->cfg.egress_network);
		conn = json_pack("{s:s}", "Container", in->id);
		rc = na_docker_json(&a->docker, "POST", path, NULL, conn,
				    NA_CALL_MS, NULL, err);
		json_decref(conn);
		if (rc)
			return rc;
	}
	return na_inst_start(a, t, r, err);
}

enum claw_rc na_inst_start(struct na_agent *a, struct na_tenant *t,
			   enum na_role r, struct na_docker_err *err)
{
	struct na_inst *in = &t->inst[r];
	char path[160];
	snprintf(path, sizeof(path), "/containers/%s/start", in->id);
	enum claw_rc rc = na_docker_json(&a->docker, "POST", path, NULL, NULL,
					 NA_CALL_MS, NULL, err);
	if (rc && err->status != 304) /* 304: already started */
		return rc;
	in->started_at = na_now();
	in->next_probe = in->started_at;
	in->healthy = false;
	in->probe_fail = 0;
	in->stopped_by_us = false;
	rc = na_inst_inspect(a, t->name, in, err);
	if (rc == CLAW_OK && !in->running) {
		/* Exited between start and inspect: the die event follows. */
		in->running = true;
	}
	return rc;
}

enum claw_rc na_inst_signal(struct na_agent *a, struct na_inst *in,
			    const char *sig, struct na_docker_err *err)
{
	char path[200];
	snprintf(path, sizeof(path), "/containers/%s/kill?signal=%s", in->id,
		 sig);
	return na_docker_json(&a->docker, "POST", path, NULL, NULL, NA_CALL_MS,
			      NULL, err);
}

enum claw_rc na_inst_remove(struct na_agent *a, struct na_inst *in,
			    struct na_docker_err *err)
{
	char path[200];
	enum claw_rc rc = CLAW_OK;
	if (in->id[0]) {
		snprintf(path, sizeof(path), "/containers/%s?force=1&v=0",
			 in->id);
		rc = na_docker_json(&a->docker, "DELETE", path, NULL, NULL,
				    NA_CALL_MS, NULL, err);
		if (rc == CLAW_ERR_NOT_FOUND)
			rc = CLAW_OK;
	}
	if (rc == CLAW_OK) {
		unsigned restarts = in->restarts;
		memset(in, 0, sizeof(*in));
		in->restarts = restarts;
		in->last_exit = -1;
	}
	return rc;
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
