/*
 * session.c - the conversation table and transcripts; see session.h.
 *
 * The table is a hash of conversation keys to entries. Each entry has a
 * ticket counter: rt_session_queue takes the next ticket under the table
 * lock, rt_session_wait sleeps until that ticket is served, and
 * rt_session_leave serves the next, so requests run in arrival order.
 * Entries nobody holds are kept as an LRU list of loaded histories; past
 * cache_max the oldest history is dropped from memory (the file stays).
 */
#include "session.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/log.h"

#define NBUCKETS 4096

struct rt_session {
	struct rt_sessions *tab;
	struct rt_session *next; /* bucket chain */
	struct rt_session *lru_prev, *lru_next;
	char *key;
	char path[4096];
	unsigned long next_ticket, serving;
	unsigned refs;
	pthread_cond_t cond;
	json_t *history; /* NULL until loaded */
	size_t bytes;    /* serialised size of history */
	char *summary;   /* of what came before history, or NULL */
	size_t hidden;   /* messages since the summary trimmed from memory */
};

struct rt_sessions {
	pthread_mutex_t mu;
	char *dir;
	size_t cache_max, max_bytes, known, loaded;
	struct rt_session *buckets[NBUCKETS];
	struct rt_session *lru_head, *lru_tail; /* idle loaded sessions */
};

/* A held session is handed out as a small ticket wrapper. */
struct rt_session_ticket {
	struct rt_session *s;
	unsigned long ticket;
};

static unsigned long hash_key(const char *k)
{
	unsigned long h = 1469598103934665603UL;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211UL;
	return h;
}

enum claw_rc rt_sessions_open(const char *dir, size_t cache_max,
			      size_t max_bytes, struct rt_sessions **out,
			      char *err, size_t errlen)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "unable to create '%s': %s", dir,
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	struct rt_sessions *s = calloc(1, sizeof(*s));
	if (!s || !(s->dir = strdup(dir))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	s->cache_max = cache_max ? cache_max : 1;
	s->max_bytes = max_bytes;
	*out = s;
	return CLAW_OK;
}

static void session_free(struct rt_session *e)
{
	pthread_cond_destroy(&e->cond);
	json_decref(e->history);
	free(e->summary);
	free(e->key);
	free(e);
}

void rt_sessions_close(struct rt_sessions *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < NBUCKETS; i++) {
		struct rt_session *e = s->buckets[i];
		while (e) {
			struct rt_session *n = e->next;
			session_free(e);
			e = n;
		}
	}
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}

void rt_sessions_counts(struct rt_sessions *s, size_t *known, size_t *loaded)
{
	pthread_mutex_lock(&s->mu);
	*known = s->known;
	*loaded = s->loaded;
	pthread_mutex_unlock(&s->mu);
}

static void lru_unlink(struct rt_sessions *s, struct rt_session *e)
{
	if (s->lru_head == e)
		s->lru_head = e->lru_next;
	if (s->lru_tail == e)
		s->lru_tail = e->lru_prev;
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void bucket_remove(struct rt_sessions *s, struct rt_session *e)
{
	struct rt_session **pp = &s->buckets[hash_key(e->key) % NBUCKETS];
	while (*pp && *pp != e)
		pp = &(*pp)->next;
	if (*pp)
		*pp = e->next;
}

/* Drop idle histories past the cache size; free idle entries whole. */
static void cache_trim(struct rt_sessions *s)
{
	while (s->loaded > s->cache_max && s->lru_head) {
		struct rt_session *e = s->lru_head;
		lru_unlink(s, e);
		bucket_remove(s, e);
		s->loaded--;
		s->known--;
		session_free(e);
	}
}

struct rt_session *rt_session_queue(struct rt_sessions *s, const char *key)
{
	unsigned long b = hash_key(key) % NBUCKETS;
	struct rt_session_ticket *t = malloc(sizeof(*t));
	if (!t)
		return NULL;
	pthread_mutex_lock(&s->mu);
	struct rt_session *e = s->buckets[b];
	while (e && strcmp(e->key, key) != 0)
		e = e->next;
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->key = strdup(key))) {
			free(e);
			free(t);
			pthread_mutex_unlock(&s->mu);
			return NULL;
		}
		char hex[65];
		claw_blake2b_hex(key, strlen(key), hex);
		snprintf(e->path, sizeof(e->path), "%s/%s.jsonl", s->dir, hex);
		pthread_cond_init(&e->cond, NULL);
		e->tab = s;
		e->next = s->buckets[b];
		s->buckets[b] = e;
		s->known++;
	}
	if (e->refs++ == 0 && e->history)
		lru_unlink(s, e);
	t->s = e;
	t->ticket = e->next_ticket++;
	pthread_mutex_unlock(&s->mu);
	return (struct rt_session *)t;
}

void rt_session_wait(struct rt_session *ss)
{
	struct rt_session_ticket *t = (struct rt_session_ticket *)ss;
	struct rt_session *e = t->s;
	pthread_mutex_lock(&e->tab->mu);
	while (e->serving != t->ticket)
		pthread_cond_wait(&e->cond, &e->tab->mu);
	pthread_mutex_unlock(&e->tab->mu);
}

void rt_session_leave(struct rt_session *ss)
{
	struct rt_session_ticket *t = (struct rt_session_ticket *)ss;
	struct rt_session *e = t->s;
	struct rt_sessions *s = e->tab;
	pthread_mutex_lock(&s->mu);
	e->serving++;
	pthread_cond_broadcast(&e->cond);
	if (--e->refs == 0) {
		if (e->history) {
			e->lru_prev = s->lru_tail;
			if (s->lru_tail)
				s->lru_tail->lru_next = e;
			else
				s->lru_head = e;
			s->lru_tail = e;
			cache_trim(s);
		} else {
			bucket_remove(s, e);
			s->known--;
			session_free(e);
		}
	}
	pthread_mutex_unlock(&s->mu);
	free(t);
}

json_t *rt_transcript_read(const char *path, char **summary, char *err,
			   size_t errlen)
{
	json_t *hist = json_array();
	char *sum = NULL;
	FILE *f = fopen(path, "re");
	if (summary)
		*summary = NULL;
	if (!f) {
		if (errno == ENOENT)
			return hist;
		snprintf(err, errlen, "unable to open transcript '%s': %s",
			 path, strerror(errno));
		json_decref(hist);
		return NULL;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		json_error_t jerr;
		json_t *m = json_loadb(line, (size_t)n, 0, &jerr);
		json_t *tp = json_object_get(m, "type");
		const char *type = json_string_value(tp);
		if (!json_is_object(m)) {
			log_warn("transcript %s line %zu is damaged (%s); "
				 "skipped",
				 path, lineno, jerr.text);
		} else if (type && strcmp(type, "reset") == 0) {
			json_array_clear(hist);
			free(sum);
			sum = NULL;
		} else if (type && strcmp(type, "summary") == 0) {
			const char *text = json_string_value(
				json_object_get(m, "content"));
			json_t *kept = json_object_get(m, "kept");
			size_t have = json_array_size(hist);
			size_t keep = json_is_integer(kept) &&
					json_integer_value(kept) >= 0
				? (size_t)json_integer_value(kept)
				: 0;
			if (keep > have)
				keep = have;
			for (size_t i = 0; i < have - keep; i++)
				json_array_remove(hist, 0);
			free(sum);
			sum = text ? strdup(text) : NULL;
		} else if (!tp) {
			json_array_append(hist, m);
		} /* other typed lines are notes for the record */
		json_decref(m);
	}
	free(line);
	fclose(f);
	if (summary)
		*summary = sum;
	else
		free(sum);
	return hist;
}

static size_t msg_bytes(json_t *m)
{
	return json_dumpb(m, NULL, 0, JSON_COMPACT) + 1;
}

static bool msg_is_user(json_t *m)
{
	const char *r = json_string_value(json_object_get(m, "role"));
	return r && strcmp(r, "user") == 0;
}

/* Drop the oldest whole turns while the history is over its bound, but
 * keep the last turn; counted in e->hidden (the prompt says so). */
static void history_trim(struct rt_session *e)
{
	while (e->tab->max_bytes && e->bytes > e->tab->max_bytes) {
		size_t n = json_array_size(e->history), cut = 1;
		while (cut < n && !msg_is_user(json_array_get(e->history, cut)))
			cut++;
		if (cut >= n)
			break;
		for (size_t i = 0; i < cut; i++) {
			e->bytes -= msg_bytes(json_array_get(e->history, 0));
			json_array_remove(e->history, 0);
		}
		e->hidden += cut;
	}
}

json_t *rt_session_history(struct rt_session *ss, char *err, size_t errlen)
{
	struct rt_session *e = ((struct rt_session_ticket *)ss)->s;
	if (e->history)
		return e->history;
	char *summary = NULL;
	json_t *h = rt_transcript_read(e->path, &summary, err, errlen);
	if (!h) {
		free(summary);
		return NULL;
	}
	json_t *m;
	size_t i;
	free(e->summary);
	e->summary = summary;
	e->hidden = 0;
	e->bytes = 0;
	json_array_foreach(h, i, m)
		e->bytes += msg_bytes(m);
	pthread_mutex_lock(&e->tab->mu);
	e->history = h;
	e->tab->loaded++;
	pthread_mutex_unlock(&e->tab->mu);
	history_trim(e);
	return h;
}

/* Append data with one write (as far as the kernel allows), then fsync.
 * CLAW_ERR_IO with err set. */
static enum claw_rc transcript_write(const char *path, const char *data,
				     size_t len, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "unable to open transcript: %s",
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			snprintf(err, errlen, "unable to write transcript: %s",
				 strerror(errno));
			close(fd);
			return CLAW_ERR_IO;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0) {
		snprintf(err, errlen, "unable to sync transcript: %s",
			 strerror(errno));
		close(fd);
		return CLAW_ERR_IO;
	}
	close(fd);
	return CLAW_OK;
}

enum claw_rc rt_session_append(struct rt_session *ss, json_t *msgs, char *err,
			       size_t errlen)
{
	struct rt_session *e = ((struct rt_session_ticket *)ss)->s;
	json_t *hist = rt_session_history(ss, err, errlen), *m;
	struct claw_buf out;
	size_t i;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	if (!hist)
		return CLAW_ERR_IO;
	claw_buf_init(&out, 0);
	json_array_foreach(msgs, i, m) {
		char *line = json_dumps(m, JSON_COMPACT);
		if (!line || claw_buf_puts(&out, line) ||
		    claw_buf_puts(&out, "\n")) {
			free(line);
			snprintf(err, errlen, "out of memory");
			goto out;
		}
		free(line);
	}
	rc = transcript_write(e->path, out.data, out.len, err, errlen);
	if (rc)
		goto out;
	json_array_extend(hist, msgs);
	e->bytes += out.len;
	history_trim(e);
out:
	claw_buf_release(&out);
	return rc;
}

enum claw_rc rt_session_reset(struct rt_session *ss, char *err, size_t errlen)
{
	struct rt_session *e = ((struct rt_session_ticket *)ss)->s;
	static const char marker[] = "{\"type\":\"reset\"}\n";
	json_t *hist = rt_session_history(ss, err, errlen);
	if (!hist)
		return CLAW_ERR_IO;
	enum claw_rc rc = transcript_write(e->path, marker, sizeof(marker) - 1,
					   err, errlen);
	if (rc)
		return rc;
	json_array_clear(hist);
	e->bytes = 0;
	e->hidden = 0;
	free(e->summary);
	e->summary = NULL;
	return CLAW_OK;
}

const char *rt_session_summary(struct rt_session *ss)
{
	return ((struct rt_session_ticket *)ss)->s->summary;
}

size_t rt_session_hidden(struct rt_session *ss)
{
	return ((struct rt_session_ticket *)ss)->s->hidden;
}

/* One line (v, borrowed) to the transcript. transcript_write's code, or
 * CLAW_ERR_NOMEM. */
static enum claw_rc line_write(struct rt_session *e, json_t *v, char *err,
			       size_t errlen)
{
	char *line = json_dumps(v, JSON_COMPACT);
	struct claw_buf b;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	claw_buf_init(&b, 0);
	if (!line || claw_buf_puts(&b, line) || claw_buf_puts(&b, "\n"))
		snprintf(err, errlen, "out of memory");
	else
		rc = transcript_write(e->path, b.data, b.len, err, errlen);
	free(line);
	claw_buf_release(&b);
	return rc;
}

enum claw_rc rt_session_compact(struct rt_session *ss, const char *summary,
				size_t kept, json_t *meta, char *err,
				size_t errlen)
{
	struct rt_session *e = ((struct rt_session_ticket *)ss)->s;
	json_t *hist = rt_session_history(ss, err, errlen);
	if (!hist)
		return CLAW_ERR_IO;
	size_t n = json_array_size(hist);
	if (kept > n) {
		snprintf(err, errlen, "cannot keep %zu of %zu messages", kept,
			 n);
		return CLAW_ERR_INVALID;
	}
	char *copy = strdup(summary);
	json_t *line = json_pack("{s:s, s:s, s:I}", "type", "summary",
				 "content", summary, "kept", (json_int_t)kept);
	if (!copy || !line) {
		free(copy);
		json_decref(line);
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	if (meta)
		json_object_update_missing(line, meta);
	enum claw_rc rc = line_write(e, line, err, errlen);
	json_decref(line);
	if (rc) {
		free(copy);
		return rc;
	}
	for (size_t i = 0; i < n - kept; i++) {
		e->bytes -= msg_bytes(json_array_get(hist, 0));
		json_array_remove(hist, 0);
	}
	free(e->summary);
	e->summary = copy;
	e->hidden = 0;
	return CLAW_OK;
}

enum claw_rc rt_session_note(struct rt_session *ss, json_t *line, char *err,
			     size_t errlen)
{
	struct rt_session *e = ((struct rt_session_ticket *)ss)->s;
	const char *type = json_string_value(json_object_get(line, "type"));
	if (!type || strcmp(type, "reset") == 0 ||
	    strcmp(type, "summary") == 0) {
		snprintf(err, errlen, "a note needs a type of its own");
		return CLAW_ERR_INVALID;
	}
	return line_write(e, line, err, errlen);
}

const char *rt_session_find_reply(struct rt_session *ss, const char *id)
{
	json_t *hist = ((struct rt_session_ticket *)ss)->s->history, *m;
	size_t i, n = json_array_size(hist);
	for (i = n; i-- > 0;) {
		m = json_array_get(hist, i);
		const char *mid = json_string_value(json_object_get(m, "id"));
		if (!mid || strcmp(mid, id) != 0)
			continue;
		/* The last assistant message after it is the reply. */
		const char *reply = NULL;
		for (size_t j = i + 1; j < n; j++) {
			json_t *a = json_array_get(hist, j);
			const char *role =
				json_string_value(json_object_get(a, "role"));
			if (role && strcmp(role, "user") == 0)
				break;
			if (role && strcmp(role, "assistant") == 0)
				reply = json_string_value(
					json_object_get(a, "content"));
		}
		return reply;
	}
	return NULL;
}
