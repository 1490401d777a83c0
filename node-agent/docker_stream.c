/*
 * docker_stream.c - incremental parsers of Docker's streams; see
 * docker_stream.h. Design: each parser is a small state machine fed with
 * arbitrary chunks; only a partial line (bounded) or a partial 8-byte frame
 * header is ever held, payloads are handed on as they come.
 */
#include "docker_stream.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

#define NA_LINE_MAX_DEFAULT (1u << 20)

void na_lines_init(struct na_lines *l, size_t max_line, na_line_fn fn,
		   void *cls)
{
	claw_buf_init(&l->partial, max_line ? max_line : NA_LINE_MAX_DEFAULT);
	l->fn = fn;
	l->cls = cls;
}

static enum claw_rc lines_emit(struct na_lines *l, const char *line, size_t len)
{
	if (len && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return CLAW_OK;
	/* The callback gets a NUL-terminated copy. */
	struct claw_buf one;
	enum claw_rc rc;
	claw_buf_init(&one, 0);
	rc = claw_buf_append(&one, line, len);
	if (rc == CLAW_OK)
		rc = l->fn(one.data, len, l->cls);
	claw_buf_release(&one);
	return rc;
}

enum claw_rc na_lines_feed(struct na_lines *l, const char *data, size_t len)
{
	enum claw_rc rc;
	while (len) {
		const char *nl = memchr(data, '\n', len);
		size_t take = nl ? (size_t)(nl - data) : len;
		if (!nl)
			return claw_buf_append(&l->partial, data, take);
		if (l->partial.len) {
			rc = claw_buf_append(&l->partial, data, take);
			if (rc)
				return rc;
			rc = lines_emit(l, l->partial.data, l->partial.len);
			claw_buf_reset(&l->partial);
		} else {
			if (l->partial.max && take > l->partial.max)
				return CLAW_ERR_TOO_LARGE;
			rc = lines_emit(l, data, take);
		}
		if (rc)
			return rc;
		data += take + 1;
		len -= take + 1;
	}
	return CLAW_OK;
}

enum claw_rc na_lines_finish(struct na_lines *l)
{
	enum claw_rc rc = CLAW_OK;
	if (l->partial.len)
		rc = lines_emit(l, l->partial.data, l->partial.len);
	claw_buf_reset(&l->partial);
	return rc;
}

void na_lines_release(struct na_lines *l)
{
	claw_buf_release(&l->partial);
}

static json_t *parse_obj(const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (o && !json_is_object(o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static void copy_str(char *out, size_t outlen, const json_t *v)
{
	const char *s = json_string_value(v);
	snprintf(out, outlen, "%s", s ? s : "");
}

/* Statuses Docker gives a layer of a pull (by its short id). */
static const char *const layer_status[] = {
	"Pulling fs layer",   "Waiting",           "Downloading",
	"Verifying Checksum", "Download complete", "Extracting",
	"Pull complete",      "Already exists",
};

static void layer_line(struct na_progress *p, const char *status,
		       const json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	struct na_layer *l = NULL;
	size_t k;
	for (k = 0; k < sizeof(layer_status) / sizeof(layer_status[0]); k++)
		if (strcmp(status, layer_status[k]) == 0)
			break;
	if (!id || k == sizeof(layer_status) / sizeof(layer_status[0]))
		return;
	for (unsigned i = 0; i < p->n_layers && !l; i++)
		if (strncmp(p->layers[i].id, id, sizeof(l->id) - 1) == 0)
			l = &p->layers[i];
	if (!l) {
		if (p->n_layers == NA_PROGRESS_LAYERS)
			return;
		l = &p->layers[p->n_layers++];
		memset(l, 0, sizeof(*l));
		snprintf(l->id, sizeof(l->id), "%s", id);
	}
	json_t *detail = json_object_get(o, "progressDetail");
	json_int_t cur = json_integer_value(json_object_get(detail, "current"));
	json_int_t tot = json_integer_value(json_object_get(detail, "total"));
	if (strcmp(status, "Downloading") == 0) {
		if (cur >= 0)
			l->current = (uint64_t)cur;
		if (tot > 0)
			l->total = (uint64_t)tot;
	} else if (strcmp(status, "Download complete") == 0) {
		l->current = l->total;
	} else if (strcmp(status, "Pull complete") == 0 ||
		   strcmp(status, "Already exists") == 0) {
		l->current = l->total;
		l->done = true;
	}
}

void na_progress_add_totals(const struct na_progress *p,
			    struct na_pull_totals *t)
{
	for (unsigned i = 0; i < p->n_layers; i++) {
		const struct na_layer *l = &p->layers[i];
		t->layers_total++;
		t->layers_done += l->done;
		t->bytes_total += l->total;
		t->bytes_done += l->current < l->total ? l->current : l->total;
	}
}

enum claw_rc na_progress_line(struct na_progress *p, const char *line,
			      size_t len)
{
	json_t *o = parse_obj(line, len);
	if (!o)
		return CLAW_ERR_PARSE;
	p->lines++;
	json_t *err = json_object_get(o, "error");
	json_t *detail = json_object_get(o, "errorDetail");
	/* An error answer (status >= 400) is one {"message": ...} object. */
	json_t *message = json_object_get(o, "message");
	if (!err && !detail && json_is_string(message))
		err = message;
	if (err || detail) {
		const char *msg = json_string_value(err);
		if (!msg && json_is_object(detail))
			msg = json_string_value(
				json_object_get(detail, "message"));
		p->failed = true;
		snprintf(p->error, sizeof(p->error), "%s",
			 msg && *msg ? msg : "the engine reported an error");
	}
	const char *status = json_string_value(json_object_get(o, "status"));
	if (status) {
		snprintf(p->last_status, sizeof(p->last_status), "%s", status);
		layer_line(p, status, o);
		const char *d = strstr(status, "Digest: sha256:");
		if (d) {
			d += strlen("Digest: ");
			size_t n = strspn(d + 7, "0123456789abcdef");
			if (n == 64)
				snprintf(p->digest, sizeof(p->digest), "%.71s",
					 d);
		}
	}
	json_decref(o);
	return CLAW_OK;
}

enum claw_rc na_event_parse(struct na_event *ev, const char *line, size_t len)
{
	json_t *o = parse_obj(line, len);
	if (!o)
		return CLAW_ERR_PARSE;
	memset(ev, 0, sizeof(*ev));
	ev->exit_code = -1;
	copy_str(ev->type, sizeof(ev->type), json_object_get(o, "Type"));
	copy_str(ev->action, sizeof(ev->action), json_object_get(o, "Action"));
	json_t *actor = json_object_get(o, "Actor");
	json_t *attrs = json_object_get(actor, "Attributes");
	copy_str(ev->id, sizeof(ev->id), json_object_get(actor, "ID"));
	copy_str(ev->tenant, sizeof(ev->tenant),
		 json_object_get(attrs, "claw.tenant"));
	copy_str(ev->role, sizeof(ev->role),
		 json_object_get(attrs, "claw.role"));
	const char *code =
		json_string_value(json_object_get(attrs, "exitCode"));
	if (code) {
		char *end;
		long v = strtol(code, &end, 10);
		if (end != code && *end == 0 && v >= 0 && v <= 255)
			ev->exit_code = (int)v;
	}
	json_t *tn = json_object_get(o, "timeNano");
	if (json_is_integer(tn))
		ev->time_nano = json_integer_value(tn);
	enum claw_rc rc =
		ev->type[0] && ev->action[0] ? CLAW_OK : CLAW_ERR_PARSE;
	json_decref(o);
	return rc;
}

void na_mux_init(struct na_mux *m, na_mux_fn fn, void *cls)
{
	memset(m, 0, sizeof(*m));
	m->fn = fn;
	m->cls = cls;
}

enum claw_rc na_mux_feed(struct na_mux *m, const char *data, size_t len)
{
	enum claw_rc rc;
	while (len) {
		if (m->left == 0) {
			size_t need = sizeof(m->head) - m->head_len;
			size_t take = len < need ? len : need;
			memcpy(m->head + m->head_len, data, take);
			m->head_len += take;
			data += take;
			len -= take;
			if (m->head_len < sizeof(m->head))
				return CLAW_OK;
			m->head_len = 0;
			if (m->head[0] > 2 || m->head[1] || m->head[2] ||
			    m->head[3])
				return CLAW_ERR_PROTO;
			m->stream = m->head[0];
			m->left = (uint32_t)m->head[4] << 24 |
				(uint32_t)m->head[5] << 16 |
				(uint32_t)m->head[6] << 8 | m->head[7];
			continue;
		}
		size_t take = len < m->left ? len : m->left;
		rc = m->fn(m->stream, data, take, m->cls);
		if (rc)
			return rc;
		m->left -= (uint32_t)take;
		data += take;
		len -= take;
	}
	return CLAW_OK;
}

bool na_mux_clean_end(const struct na_mux *m)
{
	return m->left == 0 && m->head_len == 0;
}
