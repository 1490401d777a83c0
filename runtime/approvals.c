/*
 * approvals.c - approval requests in the tenant's volume; see approvals.h.
 *
 * Every record is in memory (a JSON object per request, in a list) and
 * on disk; the disk is written first, so what a caller is told has
 * happened survives a crash. The list is small (RT_APPROVALS_MAX), so a
 * linear search is enough.
 */
#include "approvals.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "claw/file.h"
#include "claw/log.h"
#include "policy.h"

#define RECORD_MAX (4u << 20) /* bytes of one record file */

struct rt_approvals {
	pthread_mutex_t mu;
	char *dir;
	json_t *recs;  /* array of records, oldest first */
	long long seq; /* the last record's "seq" (order within a second) */
	long long rev; /* the newest record's "rev" (audit feed order) */
};

static long long now_s(void)
{
	return (long long)time(NULL);
}

/* The next "rev": above every earlier one, and (milliseconds of the
 * clock) above any of a store emptied by the 7-day clean-up before a
 * restart, so a reader's cursor of the old one does not hide new
 * changes. s->mu held. */
static long long rev_next(struct rt_approvals *s)
{
	struct timespec ts;
	long long ms;

	clock_gettime(CLOCK_REALTIME, &ts);
	ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	s->rev = ms > s->rev ? ms : s->rev + 1;
	return s->rev;
}

static json_int_t int_of(json_t *rec, const char *key)
{
	return json_integer_value(json_object_get(rec, key));
}

static const char *str(json_t *rec, const char *key)
{
	const char *s = json_string_value(json_object_get(rec, key));
	return s ? s : "";
}

/* Write rec to <dir>/<id>.json atomically. */
static enum claw_rc rec_write(struct rt_approvals *s, json_t *rec)
{
	char path[4200], tmp[4300];
	char *text = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	enum claw_rc rc = CLAW_ERR_IO;
	int fd = -1;
	if (!text)
		return CLAW_ERR_NOMEM;
	snprintf(path, sizeof(path), "%s/%s.json", s->dir, str(rec, "id"));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t n = write(fd, text + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	if (fsync(fd) != 0)
		goto out;
	close(fd);
	fd = -1;
	if (rename(tmp, path) != 0)
		goto out;
	int dfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	rc = CLAW_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc) {
		log_error("approvals: unable to write '%s': %s", path,
			  strerror(errno));
		unlink(tmp);
	}
	free(text);
	return rc;
}

static json_t *find(struct rt_approvals *s, const char *id)
{
	json_t *r;
	size_t i;
	json_array_foreach(s->recs, i, r)
		if (strcmp(str(r, "id"), id) == 0)
			return r;
	return NULL;
}

/* Whether a record's turn is over (or it is still waiting). */
static bool finished(json_t *r)
{
	return strcmp(str(r, "phase"), "done") == 0;
}

static int by_created(const void *a, const void *b)
{
	json_t *ra = *(json_t *const *)a, *rb = *(json_t *const *)b;
	json_int_t x = json_integer_value(json_object_get(ra, "created")),
		   y = json_integer_value(json_object_get(rb, "created"));
	if (x == y) {
		x = json_integer_value(json_object_get(ra, "seq"));
		y = json_integer_value(json_object_get(rb, "seq"));
	}
	return x < y ? -1 : x > y;
}

/* Load one file; the record, or NULL (logged). */
static json_t *load_one(const char *dir, const char *name)
{
	char path[4200];
	char *data = NULL;
	size_t len = 0;
	json_error_t je;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	char why[300];
	if (claw_file_load(path, RECORD_MAX, &data, &len, why, sizeof(why))) {
		log_warn("approvals: %s; left as it is", why);
		return NULL;
	}
	json_t *r = json_loadb(data, len, JSON_REJECT_DUPLICATES, &je);
	free(data);
	size_t n = strlen(name);
	if (!r || !json_is_object(r) ||
	    strncmp(str(r, "id"), name, n - 5) != 0 ||
	    strlen(str(r, "id")) != n - 5 ||
	    !json_is_integer(json_object_get(r, "created")) ||
	    !json_is_integer(json_object_get(r, "expires"))) {
		log_warn("approvals: '%s' is not a record; left as it is",
			 path);
		json_decref(r);
		return NULL;
	}
	return r;
}

enum claw_rc rt_approvals_open(const char *dir, struct rt_approvals **out,
			       char *err, size_t errlen)
{
	struct rt_approvals *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s || !(s->dir = strdup(dir)) || !(s->recs = json_array())) {
		if (s)
			free(s->dir);
		free(s);
		snprintf(err, errlen, "out of memory");
		return CLAW_ERR_NOMEM;
	}
	pthread_mutex_init(&s->mu, NULL);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "unable to create '%s': %s", dir,
			 strerror(errno));
		rt_approvals_close(s);
		return CLAW_ERR_IO;
	}
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "unable to open '%s': %s", dir,
			 strerror(errno));
		rt_approvals_close(s);
		return CLAW_ERR_IO;
	}
	struct dirent *e;
	long long now = now_s();
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (strncmp(e->d_name, "apr_", 4) != 0 || n < 10 ||
		    strcmp(e->d_name + n - 5, ".json") != 0)
			continue;
		json_t *r = load_one(dir, e->d_name);
		if (!r)
			continue;
		json_int_t at =
			json_integer_value(json_object_get(r, "decided_at"));
		if (finished(r) && at && at + RT_APPROVALS_KEEP_S < now) {
			char path[4200];
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
			json_decref(r);
			continue;
		}
		if (strcmp(str(r, "phase"), "running") == 0) {
			/* Cut by a crash while its tool ran: never again. */
			json_object_set_new(r, "phase", json_string("ran"));
			json_object_set_new(r, "outcome",
					    json_string("interrupted"));
			json_object_set_new(
				r, "result",
				json_string("Error: the runtime restarted "
					    "while this tool call was running; "
					    "it may or may not have completed. "
					    "It was not run again."));
			rec_write(s, r);
			log_warn("approval %s: its tool was running when the "
				 "runtime stopped; it is not run again",
				 str(r, "id"));
		}
		json_int_t q = json_integer_value(json_object_get(r, "seq"));
		if (q > s->seq)
			s->seq = q;
		if (!json_is_integer(json_object_get(r, "rev")))
			/* written before revs: its last change's second */
			json_object_set_new(
				r, "rev",
				json_integer((int_of(r, "decided_at")
						      ? int_of(r, "decided_at")
						      : int_of(r, "created")) *
					     1000));
		if (int_of(r, "rev") > s->rev)
			s->rev = int_of(r, "rev");
		json_array_append_new(s->recs, r);
	}
	closedir(d);
	/* Oldest first. */
	size_t n = json_array_size(s->recs);
	json_t **v = calloc(n + 1, sizeof(*v));
	if (v) {
		for (size_t i = 0; i < n; i++)
			v[i] = json_incref(json_array_get(s->recs, i));
		qsort(v, n, sizeof(*v), by_created);
		json_array_clear(s->recs);
		for (size_t i = 0; i < n; i++)
			json_array_append_new(s->recs, v[i]);
		free(v);
	}
	*out = s;
	return CLAW_OK;
}

void rt_approvals_close(struct rt_approvals *s)
{
	if (!s)
		return;
	json_decref(s->recs);
	pthread_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}

enum claw_rc rt_approvals_create(struct rt_approvals *s, json_t *rec_steal,
				 long ttl_s, char id_out[32])
{
	unsigned char raw[12];
	char hex[25];
	enum claw_rc rc;
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(hex, sizeof(hex), raw, sizeof(raw));
	snprintf(id_out, 32, "apr_%s", hex);
	long long now = now_s();
	json_object_set_new(rec_steal, "id", json_string(id_out));
	json_object_set_new(rec_steal, "state", json_string("pending"));
	json_object_set_new(rec_steal, "phase", json_string("waiting"));
	json_object_set_new(rec_steal, "created", json_integer(now));
	json_object_set_new(rec_steal, "expires", json_integer(now + ttl_s));
	pthread_mutex_lock(&s->mu);
	json_object_set_new(rec_steal, "seq", json_integer(++s->seq));
	json_object_set_new(rec_steal, "rev", json_integer(rev_next(s)));
	if (json_array_size(s->recs) >= RT_APPROVALS_MAX) {
		rc = CLAW_ERR_TOO_LARGE;
	} else {
		rc = rec_write(s, rec_steal);
		if (!rc)
			json_array_append(s->recs, rec_steal);
	}
	pthread_mutex_unlock(&s->mu);
	json_decref(rec_steal);
	return rc;
}

static void iso(json_t *o, const char *key, json_t *secs)
{
	char buf[32];
	if (!json_is_integer(secs))
		return;
	time_t t = (time_t)json_integer_value(secs);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	json_object_set_new(o, key, json_string(buf));
}

/* The public view of a record (s->mu held). */
static json_t *view(json_t *r)
{
	static const char *const keys[] = {
		"id",      "tool",   "category",      "conversation",
		"channel", "sender", "state",         "decided_by",
		"outcome", "rule",   "chat_approval", NULL};
	json_t *o = json_object();
	for (const char *const *k = keys; *k; k++) {
		json_t *v = json_object_get(r, *k);
		if (v)
			json_object_set(o, *k, v);
	}
	json_object_set_new(o, "arguments",
			    rt_policy_redact(json_object_get(r, "arguments")));
	json_object_set_new(o, "applied", json_boolean(finished(r)));
	iso(o, "created", json_object_get(r, "created"));
	iso(o, "expires", json_object_get(r, "expires"));
	iso(o, "decided_at", json_object_get(r, "decided_at"));
	const char *reply = json_string_value(json_object_get(r, "reply"));
	if (reply)
		json_object_set_new(o, "reply", json_string(reply));
	return o;
}

json_t *rt_approvals_list(struct rt_approvals *s, size_t limit)
{
	json_t *out = json_array(), *r;
	size_t i;
	pthread_mutex_lock(&s->mu);
	json_array_foreach(s->recs, i, r)
		if (strcmp(str(r, "state"), "pending") == 0 &&
		    json_array_size(out) < limit)
			json_array_append_new(out, view(r));
	for (i = json_array_size(s->recs); i-- > 0;) {
		r = json_array_get(s->recs, i);
		if (strcmp(str(r, "state"), "pending") != 0 &&
		    json_array_size(out) < limit)
			json_array_append_new(out, view(r));
	}
	pthread_mutex_unlock(&s->mu);
	return out;
}

json_t *rt_approvals_view(struct rt_approvals *s, const char *id)
{
	pthread_mutex_lock(&s->mu);
	json_t *r = find(s, id), *v = r ? view(r) : NULL;
	pthread_mutex_unlock(&s->mu);
	return v;
}

static int by_rev(const void *a, const void *b)
{
	json_int_t x = int_of(*(json_t *const *)a, "rev"),
		   y = int_of(*(json_t *const *)b, "rev");
	return x < y ? -1 : x > y;
}

/* The audit view of a record (s->mu held): no arguments, no reply. */
static json_t *audit_view(json_t *r)
{
	static const char *const keys[] = {"id",       "rev",        "tool",
					   "category", "channel",    "sender",
					   "state",    "decided_by", "created",
					   "expires",  "decided_at", NULL};
	json_t *o = json_object();
	for (const char *const *k = keys; o && *k; k++) {
		json_t *v = json_object_get(r, *k);
		if (v && !json_is_null(v))
			json_object_set(o, *k, v);
	}
	return o;
}

json_t *rt_approvals_changes(struct rt_approvals *s, long long after,
			     size_t limit, long long *rev, bool *more)
{
	json_t *out = json_array(), *r;
	size_t i, n = 0;
	pthread_mutex_lock(&s->mu);
	json_t **v = calloc(json_array_size(s->recs) + 1, sizeof(*v));
	if (v) {
		json_array_foreach(s->recs, i, r)
			if (int_of(r, "rev") > after)
				v[n++] = r;
		qsort(v, n, sizeof(*v), by_rev);
	}
	for (i = 0; out && v && i < n && i < limit; i++)
		json_array_append_new(out, audit_view(v[i]));
	*rev = s->rev;
	*more = n > limit;
	pthread_mutex_unlock(&s->mu);
	if (!v) {
		json_decref(out);
		out = NULL;
	}
	free(v);
	return out;
}

/* Decide r (s->mu held): the state written, or CLAW_ERR_IO with r as
 * it was. */
static enum claw_rc decide_locked(struct rt_approvals *s, json_t *r,
				  const char *state, const char *by)
{
	json_t *old = json_deep_copy(r);
	json_object_set_new(r, "state", json_string(state));
	json_object_set_new(r, "phase", json_string("decided"));
	json_object_set_new(r, "decided_by", json_string(by));
	json_object_set_new(r, "decided_at", json_integer(now_s()));
	json_object_set_new(r, "rev", json_integer(rev_next(s)));
	enum claw_rc rc = rec_write(s, r);
	if (rc && old)
		json_object_update(r, old), json_object_del(r, "decided_by"),
			json_object_del(r, "decided_at");
	json_decref(old);
	return rc;
}

enum rt_decide_rc rt_approvals_decide(struct rt_approvals *s, const char *id,
				      bool approve, const char *by,
				      json_t **rec)
{
	enum rt_decide_rc rc;
	*rec = NULL;
	pthread_mutex_lock(&s->mu);
	json_t *r = find(s, id);
	const char *state = r ? str(r, "state") : "";
	if (!r)
		rc = RT_DECIDE_NOT_FOUND;
	else if (strcmp(state, "expired") == 0)
		rc = RT_DECIDE_EXPIRED;
	else if (strcmp(state, "pending") != 0)
		rc = RT_DECIDE_ALREADY;
	else if (json_integer_value(json_object_get(r, "expires")) <= now_s())
		rc = RT_DECIDE_EXPIRED; /* the sweep expires it */
	else if (decide_locked(s, r, approve ? "approved" : "denied", by))
		rc = RT_DECIDE_IO;
	else {
		rc = RT_DECIDE_OK;
		*rec = json_deep_copy(r);
	}
	pthread_mutex_unlock(&s->mu);
	return rc;
}

json_t *rt_approvals_expire(struct rt_approvals *s, long long now)
{
	json_t *out = json_array(), *r;
	size_t i;
	pthread_mutex_lock(&s->mu);
	json_array_foreach(s->recs, i, r) {
		if (strcmp(str(r, "state"), "pending") != 0 ||
		    json_integer_value(json_object_get(r, "expires")) > now)
			continue;
		if (decide_locked(s, r, "expired", "expiry") == CLAW_OK)
			json_array_append_new(out, json_deep_copy(r));
	}
	pthread_mutex_unlock(&s->mu);
	return out;
}

json_t *rt_approvals_unfinished(struct rt_approvals *s)
{
	json_t *out = json_array(), *r;
	size_t i;
	pthread_mutex_lock(&s->mu);
	json_array_foreach(s->recs, i, r) {
		const char *ph = str(r, "phase");
		if (strcmp(ph, "decided") == 0 || strcmp(ph, "ran") == 0)
			json_array_append_new(out, json_deep_copy(r));
	}
	pthread_mutex_unlock(&s->mu);
	return out;
}

bool rt_approvals_claim(struct rt_approvals *s, const char *id)
{
	bool ok = false;
	pthread_mutex_lock(&s->mu);
	json_t *r = find(s, id);
	if (r && strcmp(str(r, "state"), "approved") == 0 &&
	    strcmp(str(r, "phase"), "decided") == 0) {
		json_object_set_new(r, "phase", json_string("running"));
		if (rec_write(s, r) == CLAW_OK)
			ok = true;
		else
			json_object_set_new(r, "phase", json_string("decided"));
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void rt_approvals_set_phase(struct rt_approvals *s, const char *id,
			    const char *phase, const char *outcome,
			    const char *result, const char *reply)
{
	pthread_mutex_lock(&s->mu);
	json_t *r = find(s, id);
	if (r) {
		json_object_set_new(r, "phase", json_string(phase));
		if (outcome)
			json_object_set_new(r, "outcome", json_string(outcome));
		if (result)
			json_object_set_new(r, "result", json_string(result));
		if (reply)
			json_object_set_new(r, "reply", json_string(reply));
		if (strcmp(phase, "done") == 0)
			json_object_del(r, "turn"); /* no longer needed */
		rec_write(s, r);
	}
	pthread_mutex_unlock(&s->mu);
}

bool rt_approvals_chat_pending(struct rt_approvals *s, const char *conversation,
			       const char *sender, char out[32])
{
	bool found = false;
	json_t *r;
	pthread_mutex_lock(&s->mu);
	for (size_t i = json_array_size(s->recs); i-- > 0 && !found;) {
		r = json_array_get(s->recs, i);
		if (strcmp(str(r, "state"), "pending") == 0 &&
		    json_is_true(json_object_get(r, "chat_approval")) &&
		    strcmp(str(r, "conversation"), conversation) == 0 &&
		    strcmp(str(r, "sender"), sender ? sender : "") == 0 &&
		    json_integer_value(json_object_get(r, "expires")) >
			    now_s()) {
			snprintf(out, 32, "%s", str(r, "id"));
			found = true;
		}
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

bool rt_approvals_for_message(struct rt_approvals *s, const char *conversation,
			      const char *message_id, char out[32], bool *chat)
{
	bool found = false;
	json_t *r;
	size_t i;
	pthread_mutex_lock(&s->mu);
	json_array_foreach(s->recs, i, r) {
		if (finished(r) ||
		    strcmp(str(r, "conversation"), conversation) != 0 ||
		    strcmp(str(r, "message_id"), message_id) != 0)
			continue;
		snprintf(out, 32, "%s", str(r, "id"));
		*chat = json_is_true(json_object_get(r, "chat_approval"));
		found = true;
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

void rt_approvals_counts(struct rt_approvals *s, size_t *pending, size_t *total)
{
	json_t *r;
	size_t i;
	*pending = 0;
	pthread_mutex_lock(&s->mu);
	*total = json_array_size(s->recs);
	json_array_foreach(s->recs, i, r)
		if (strcmp(str(r, "state"), "pending") == 0)
			(*pending)++;
	pthread_mutex_unlock(&s->mu);
}
