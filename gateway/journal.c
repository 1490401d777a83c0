/*
 * journal.c - the durable inbound journal and the dedupe memory.
 *
 * One append-only file, one record a line: a type letter, a checksum of
 * the payload (SipHash, 16 hex digits) and the JSON payload.
 *   A <sum> <envelope>   accepted (acknowledged to the channel after this
 *                        record is on disk)
 *   D <sum> {"id":...}   answered
 *   S <sum> {"h":...}    seen (written by compaction: the hashes of the
 *                        last answered ids, so retries stay duplicates)
 * A writer writes its record to the file at once, under the journal's
 * lock, and waits; one committer thread fdatasync()s what was written so
 * far (group commit), then wakes the writers. So a record is in the file
 * (the page cache) before its writer goes on: a process kill cannot lose
 * it, only a host crash before the sync can, and that sync is what an
 * acknowledgement waits for. This matters most for the D record: a reply
 * already sent whose D record a kill lost is replayed and sent again at
 * the next start (docs/reliability.md, finding 7); the window is the send
 * itself, not the group commit. A record whose checksum fails (a torn
 * tail after a crash, never acknowledged) is skipped. When the file grows
 * past the threshold it is rewritten from memory (pending entries and the
 * seen hashes) to a temporary file, fsynced and renamed over the old one,
 * so it never grows forever.
 *
 * A write or sync error fails the requests waiting on that batch (they are
 * not acknowledged, so the channels deliver again) and puts the journal in
 * an error state that gw_journal_ok (hence /healthz and /readyz) reports:
 * new appends fail at once. The state is not sticky: every
 * GW_JOURNAL_RECOVER_MS the committer rewrites the file from memory (the
 * compaction above: it drops a torn tail the failed write may have left);
 * once that works the journal is writable again. Only the committer
 * rewrites the file, so its sync never races a rewrite. Memory is the
 * truth the rewrite starts from: an accepted entry is in the pending map
 * before its record is written, and leaves it when its waiter gives up, so
 * the rewrite holds exactly what was or will be acknowledged. Writes
 * happen on the callers' threads: the process ignores SIGXFSZ
 * (claw_daemon_init does), so a file size limit fails a write (EFBIG)
 * instead of killing it; the committer blocks it for itself as well.
 *
 * Floods: memory holds an envelope only for an entry not yet durable or
 * queued in the scheduler ("resident", at most max_backlog of them).
 * Every other pending entry is an index record (its id, order and the
 * offset of its payload in the file) in a FIFO of "spilled" entries; the
 * compaction copies those payloads from the old file. Once one entry is
 * spilled every later one is too, and an answered entry (gw_journal_done)
 * makes room for the next spilled one, read back (pread) and queued in
 * FIFO order under the journal's lock: so a conversation's messages still
 * run in the order they were accepted. The replay at open queues the
 * first max_backlog entries and spills the rest the same way. Past
 * max_pending unanswered entries gw_journal_admit refuses before writing
 * anything (CLAW_ERR_TOO_LARGE): the caller does not acknowledge, the
 * channel delivers again later.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "claw/buf.h"
#include "claw/crypto.h"
#include "claw/deadline.h"
#include "claw/json.h"
#include "claw/log.h"
#include "gw.h"

struct pend {
	json_t *env; /* NULL: only in the file (off, len) */
	uint64_t order;
	uint64_t seq;  /* durable once seq_dur >= seq */
	off_t off;     /* the payload's offset in the file */
	size_t len;    /* its length (no newline) */
	bool resident; /* counted in resident: queued in the scheduler */
	bool spilled;  /* in the spill FIFO */
	struct pend *next_spill;
};

/* 'A' <16 hex> ' ': where a record's payload starts */
#define PAYLOAD_AT 19

struct gw_journal {
	pthread_mutex_t mu;
	pthread_cond_t cv_work, cv_done;
	pthread_t thr;
	bool started, stop;
	int fd;
	char *path, *tmp_path, *dir;
	struct claw_buf line; /* one record being written (mu held) */
	uint64_t seq_app, seq_dur, order;
	enum claw_rc err; /* a write failed; cleared by a rewrite */
	off_t size, last_compact;
	long compact_bytes;
	struct gw_map *pending; /* id -> struct pend */
	struct gw_seen *seen;   /* answered ids (hashes) */
	size_t resident, nspilled;
	struct pend *spill_head, *spill_tail;
	/* written under mu; read without it by gw_journal_bound */
	_Atomic long max_backlog, max_pending;
	struct gw_sched *_Atomic sched; /* read-back entries go here (else
					   the calling worker's) */
};

static void spill_push(struct gw_journal *j, struct pend *p)
{
	json_decref(p->env);
	p->env = NULL;
	p->spilled = true;
	GW_FIFO_APPEND(j->spill_head, j->spill_tail, p, next_spill);
	j->nspilled++;
}

/* Take p out of the FIFO (the head, unless an entry left early). */
static void spill_unlink(struct gw_journal *j, struct pend *p)
{
	struct pend **pp = &j->spill_head, *prev = NULL;
	while (*pp && *pp != p) {
		prev = *pp;
		pp = &(*pp)->next_spill;
	}
	if (!*pp)
		return;
	*pp = p->next_spill;
	if (j->spill_tail == p)
		j->spill_tail = prev;
	p->spilled = false;
	p->next_spill = NULL;
	j->nspilled--;
}

/* The payload of p as text (caller frees): from memory, else from the
 * file. NULL when it cannot be read. */
static char *payload_text(struct gw_journal *j, const struct pend *p)
{
	if (p->env)
		return claw_json_dumps(p->env);
	char *s = malloc(p->len + 1);
	if (!s)
		return NULL;
	size_t got = 0;
	while (got < p->len) {
		ssize_t r = pread(j->fd, s + got, p->len - got,
				  p->off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(s);
			return NULL;
		}
		got += (size_t)r;
	}
	s[p->len] = '\0';
	return s;
}

/* The envelope of p (a new reference), read back when spilled. */
static json_t *payload_env(struct gw_journal *j, const struct pend *p)
{
	if (p->env)
		return json_incref(p->env);
	char *s = payload_text(j, p);
	json_t *o = s ? json_loadb(s, p->len, 0, NULL) : NULL;
	free(s);
	if (o && gw_env_check(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

/* Make p resident (its envelope held); env is the new reference. */
static void make_resident(struct gw_journal *j, struct pend *p, json_t *env)
{
	if (p->env != env) {
		json_decref(p->env);
		p->env = json_incref(env);
	}
	p->resident = true;
	j->resident++;
}

/* Queue spilled entries, oldest first, while the in-memory backlog has
 * room; publish the counts. mu held (the scheduler's lock nests inside
 * it). */
static void refill_locked(struct gw_journal *j)
{
	struct gw_sched *s = gw_sched_self();
	if (!s)
		s = j->sched;
	while (s && j->spill_head && j->resident < (size_t)j->max_backlog) {
		struct pend *p = j->spill_head;
		spill_unlink(j, p);
		json_t *env = payload_env(j, p);
		struct gw_job *job = env ? calloc(1, sizeof(*job)) : NULL;
		if (!job) {
			/* stays pending: the next start replays it */
			log_error("journal: unable to read back a spilled "
				  "entry; it waits for the next start");
			json_decref(env);
			continue;
		}
		make_resident(j, p, env);
		job->env = env;
		job->journaled = true;
		job->accepted_at = gw_now();
		gw_sched_push(s, job);
	}
	gw_metrics_backlog(j->resident, j->nspilled);
}

static void pend_free(void *p)
{
	struct pend *e = p;
	if (e) {
		json_decref(e->env);
		free(e);
	}
}

static void checksum(const char *data, size_t len, char out[17])
{
	static const unsigned char key[crypto_shorthash_KEYBYTES];
	unsigned char h[crypto_shorthash_BYTES];
	crypto_shorthash(h, (const unsigned char *)data, len, key);
	claw_hex_encode(h, sizeof(h), out);
}

static enum claw_rc record(struct claw_buf *b, char type, const char *payload)
{
	char sum[17];
	checksum(payload, strlen(payload), sum);
	return claw_buf_printf(b, "%c %s %s\n", type, sum, payload);
}

static void seen_add(struct gw_journal *j, const char *id)
{
	uint8_t h[GW_SEEN_HASH];
	gw_seen_hash(id, h);
	gw_seen_add(j->seen, h);
}

static bool seen_has(const struct gw_journal *j, const char *id)
{
	uint8_t h[GW_SEEN_HASH];
	gw_seen_hash(id, h);
	return gw_seen_has(j->seen, h);
}

struct collect {
	struct pend **v;
	size_t n;
};

static bool collect_one(const char *key, void *val, void *cls)
{
	(void)key;
	struct collect *c = cls;
	c->v[c->n++] = val;
	return false;
}

static int by_order(const void *a, const void *b)
{
	const struct pend *x = *(struct pend *const *)a,
			  *y = *(struct pend *const *)b;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* Pending entries in the order they were accepted; caller frees. */
static struct pend **pending_sorted(struct gw_journal *j, size_t *n)
{
	struct collect c = {0};
	c.v = calloc(gw_map_count(j->pending) + 1, sizeof(*c.v));
	if (!c.v)
		return NULL;
	gw_map_each(j->pending, collect_one, &c);
	qsort(c.v, c.n, sizeof(*c.v), by_order);
	*n = c.n;
	return c.v;
}

static enum claw_rc write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return CLAW_ERR_IO;
		p += w;
		len -= (size_t)w;
	}
	return CLAW_OK;
}

/* Rewrite the file from memory. Called with mu held; afterwards
 * everything appended so far is durable. The caller logs a failure. */
static enum claw_rc compact_locked(struct gw_journal *j)
{
	struct claw_buf b;
	size_t n = 0;
	enum claw_rc rc = CLAW_ERR_NOMEM;
	int fd = -1;
	claw_buf_init(&b, 0);
	struct pend **v = pending_sorted(j, &n);
	struct {
		off_t off;
		size_t len;
	} *at = v ? calloc(n + 1, sizeof(*at)) : NULL;
	if (!at)
		goto out;
	for (size_t i = 0; i < gw_seen_count(j->seen); i++) {
		char hex[2 * GW_SEEN_HASH + 1], line[2 * GW_SEEN_HASH + 16];
		claw_hex_encode(gw_seen_at(j->seen, i), GW_SEEN_HASH, hex);
		snprintf(line, sizeof(line), "{\"h\":\"%s\"}", hex);
		rc = record(&b, 'S', line);
		if (rc)
			goto out;
	}
	for (size_t i = 0; i < n; i++) {
		char *s = payload_text(j, v[i]);
		at[i].off = (off_t)b.len + PAYLOAD_AT;
		at[i].len = s ? strlen(s) : 0;
		rc = s ? record(&b, 'A', s) : CLAW_ERR_NOMEM;
		free(s);
		if (rc)
			goto out;
	}
	rc = CLAW_ERR_IO;
	/* read as well: spilled payloads are read back from it */
	fd = open(j->tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, b.data ? b.data : "", b.len) || fsync(fd) ||
	    rename(j->tmp_path, j->path))
		goto out;
	int dfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	if (j->fd >= 0)
		close(j->fd);
	j->fd = fd;
	fd = -1;
	for (size_t i = 0; i < n; i++) {
		v[i]->off = at[i].off;
		v[i]->len = at[i].len;
	}
	if (lseek(j->fd, 0, SEEK_END) < 0)
		goto out;
	j->size = j->last_compact = (off_t)b.len;
	j->seq_dur = j->seq_app;
	rc = CLAW_OK;
out:
	if (fd >= 0)
		close(fd);
	free(at);
	free(v);
	claw_buf_release(&b);
	return rc;
}

/* In the error state: rewrite the file from memory; on success the
 * journal is writable again. mu held. */
static void recover_locked(struct gw_journal *j)
{
	if (compact_locked(j))
		return;
	j->err = CLAW_OK;
	log_info("journal '%s' is writable again", j->path);
	pthread_cond_broadcast(&j->cv_done);
}

/* Sync what was written so far (mu released meanwhile); a big file is
 * rewritten afterwards. mu held. */
static void sync_locked(struct gw_journal *j)
{
	uint64_t target = j->seq_app;
	int fd = j->fd; /* only this thread replaces it */
	pthread_mutex_unlock(&j->mu);
	int rc = fdatasync(fd);
	int e = errno;
	pthread_mutex_lock(&j->mu);
	if (rc) {
		log_error("unable to sync the journal '%s': %s; retrying "
			  "every %d ms",
			  j->path, strerror(e), GW_JOURNAL_RECOVER_MS);
		gw_metrics_journal_error();
		j->err = CLAW_ERR_IO;
	} else {
		if (target > j->seq_dur)
			j->seq_dur = target;
		if (j->size > j->compact_bytes &&
		    j->size > 2 * j->last_compact && compact_locked(j))
			log_error("unable to compact the journal '%s'",
				  j->path);
	}
	pthread_cond_broadcast(&j->cv_done);
}

static void *committer(void *arg)
{
	struct gw_journal *j = arg;
	sigset_t xfsz;
	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &xfsz, NULL);
	pthread_mutex_lock(&j->mu);
	while (!j->stop) {
		if (j->err) {
			struct timespec ts = claw_deadline_ms(
				CLOCK_REALTIME, GW_JOURNAL_RECOVER_MS);
			pthread_cond_timedwait(&j->cv_work, &j->mu, &ts);
			if (!j->stop && j->err)
				recover_locked(j);
			continue;
		}
		if (j->seq_dur < j->seq_app)
			sync_locked(j);
		else
			pthread_cond_wait(&j->cv_work, &j->mu);
	}
	if (j->seq_dur < j->seq_app && !j->err)
		sync_locked(j);
	pthread_mutex_unlock(&j->mu);
	return NULL;
}

/* Write a record at the end of the file now, for the committer to sync;
 * its sequence number in *seq. A failed write (a torn tail, perhaps) puts
 * the journal in its error state until a rewrite. mu held. */
static enum claw_rc append_locked(struct gw_journal *j, char type,
				  const char *payload, uint64_t *seq)
{
	if (j->err)
		return j->err;
	claw_buf_reset(&j->line);
	enum claw_rc rc = record(&j->line, type, payload);
	if (rc)
		return rc;
	if (write_all(j->fd, j->line.data, j->line.len)) {
		log_error("unable to write the journal '%s': %s; retrying "
			  "every %d ms",
			  j->path, strerror(errno), GW_JOURNAL_RECOVER_MS);
		gw_metrics_journal_error();
		j->err = CLAW_ERR_IO;
		pthread_cond_signal(&j->cv_work);
		pthread_cond_broadcast(&j->cv_done);
		return j->err;
	}
	j->size += (off_t)j->line.len;
	*seq = ++j->seq_app;
	pthread_cond_signal(&j->cv_work);
	return CLAW_OK;
}

/* Wait until record seq is durable. mu held. */
static enum claw_rc wait_durable(struct gw_journal *j, uint64_t seq)
{
	while (j->seq_dur < seq && !j->err)
		pthread_cond_wait(&j->cv_done, &j->mu);
	return j->seq_dur >= seq ? CLAW_OK : j->err;
}

enum claw_rc gw_journal_admit(struct gw_journal *j, json_t *env, bool *queue)
{
	const char *id = gw_env_str(env, "id");
	enum claw_rc rc = CLAW_ERR_NOMEM;
	/* serialise before taking the lock every webhook shares */
	char *line = claw_json_dumps(env);
	if (!line)
		return rc;
	pthread_mutex_lock(&j->mu);
	if (j->err) {
		rc = j->err;
		free(line);
		goto out;
	}
	struct pend *p = gw_map_get(j->pending, id);
	if (p || seen_has(j, id)) {
		/* a duplicate: acknowledge once the original is durable */
		rc = p && wait_durable(j, p->seq) ? j->err : CLAW_ERR_INVALID;
		free(line);
		goto out;
	}
	if (gw_map_count(j->pending) >= (size_t)j->max_pending) {
		rc = CLAW_ERR_TOO_LARGE; /* nothing written */
		free(line);
		goto out;
	}
	p = calloc(1, sizeof(*p));
	if (!p || gw_map_put(j->pending, id, p, NULL)) {
		free(line);
		free(p);
		goto out;
	}
	p->env = json_incref(env);
	p->order = ++j->order;
	p->seq = UINT64_MAX;
	p->off = j->size + PAYLOAD_AT;
	p->len = strlen(line);
	rc = append_locked(j, 'A', line, &p->seq);
	free(line);
	if (!rc)
		rc = wait_durable(j, p->seq);
	if (rc) {
		pend_free(gw_map_del(j->pending, id));
	} else if (!queue ||
		   (!j->spill_head && j->resident < (size_t)j->max_backlog)) {
		make_resident(j, p, p->env);
		if (queue)
			*queue = true;
	} else {
		spill_push(j, p); /* durable: the file holds it now */
		*queue = false;
	}
	gw_metrics_backlog(j->resident, j->nspilled);
out:
	pthread_mutex_unlock(&j->mu);
	return rc;
}

enum claw_rc gw_journal_accept(struct gw_journal *j, json_t *env)
{
	return gw_journal_admit(j, env, NULL);
}

void gw_journal_bound(struct gw_journal *j, struct gw_sched *s,
		      long max_backlog, long max_pending)
{
	/* every webhook calls this: the shared lock only for a change */
	if (j->max_backlog == max_backlog && j->max_pending == max_pending &&
	    (!s || j->sched == s))
		return;
	pthread_mutex_lock(&j->mu);
	if (s)
		j->sched = s;
	j->max_backlog = max_backlog;
	j->max_pending = max_pending;
	refill_locked(j);
	pthread_mutex_unlock(&j->mu);
}

enum claw_rc gw_journal_done(struct gw_journal *j, const char *id)
{
	enum claw_rc rc = CLAW_OK;
	pthread_mutex_lock(&j->mu);
	struct pend *p = gw_map_del(j->pending, id);
	if (p) {
		if (p->resident)
			j->resident--;
		if (p->spilled)
			spill_unlink(j, p);
		json_t *o = json_pack("{s:s}", "id", id);
		char *s = o ? claw_json_dumps(o) : NULL;
		json_decref(o);
		seen_add(j, id);
		uint64_t seq = 0;
		rc = s ? append_locked(j, 'D', s, &seq) : CLAW_ERR_NOMEM;
		if (!rc)
			rc = wait_durable(j, seq);
		free(s);
		refill_locked(j);
	}
	pthread_mutex_unlock(&j->mu);
	pend_free(p);
	return rc;
}

size_t gw_journal_depth(struct gw_journal *j)
{
	pthread_mutex_lock(&j->mu);
	size_t n = gw_map_count(j->pending);
	pthread_mutex_unlock(&j->mu);
	return n;
}

bool gw_journal_ok(struct gw_journal *j)
{
	pthread_mutex_lock(&j->mu);
	bool ok = j->err == CLAW_OK;
	pthread_mutex_unlock(&j->mu);
	return ok;
}

/* Apply one line read back from the file (at pos); false when it is
 * damaged. An accepted entry keeps only where its payload is. */
static bool replay_line(struct gw_journal *j, char *line, size_t len, off_t pos)
{
	char sum[17];
	if (len < PAYLOAD_AT + 1 || line[1] != ' ' ||
	    line[PAYLOAD_AT - 1] != ' ')
		return false;
	const char *payload = line + PAYLOAD_AT;
	size_t plen = len - PAYLOAD_AT;
	checksum(payload, plen, sum);
	if (!claw_ct_equal(sum, line + 2, 16))
		return false;
	json_t *o = json_loadb(payload, plen, 0, NULL);
	const char *id = gw_json_str(o, "id");
	const char *hex = gw_json_str(o, "h");
	bool ok = id != NULL;
	if (line[0] == 'S') {
		uint8_t h[GW_SEEN_HASH];
		ok = hex && strlen(hex) == 2 * GW_SEEN_HASH &&
			!claw_hex_decode(hex, h, GW_SEEN_HASH);
		if (ok)
			gw_seen_add(j->seen, h);
		goto out;
	}
	if (!ok)
		goto out;
	if (line[0] == 'A') {
		if (gw_env_check(o)) {
			ok = false;
		} else if (!gw_map_get(j->pending, id) && !seen_has(j, id)) {
			struct pend *p = calloc(1, sizeof(*p));
			if (p && !gw_map_put(j->pending, id, p, NULL)) {
				p->off = pos + PAYLOAD_AT;
				p->len = plen;
				p->order = ++j->order;
			} else {
				free(p);
			}
		}
	} else if (line[0] == 'D') {
		pend_free(gw_map_del(j->pending, id));
		seen_add(j, id);
	} else {
		ok = false;
	}
out:
	json_decref(o);
	return ok;
}

static enum claw_rc replay(struct gw_journal *j, char *errbuf, size_t errlen)
{
	FILE *f = fopen(j->path, "re");
	if (!f) {
		if (errno == ENOENT)
			return CLAW_OK;
		snprintf(errbuf, errlen, "unable to open journal '%s': %s",
			 j->path, strerror(errno));
		return CLAW_ERR_IO;
	}
	/* the compaction that follows copies pending payloads from it */
	j->fd = open(j->path, O_RDONLY | O_CLOEXEC);
	if (j->fd < 0) {
		snprintf(errbuf, errlen, "unable to open journal '%s': %s",
			 j->path, strerror(errno));
		fclose(f);
		return CLAW_ERR_IO;
	}
	char *line = NULL;
	size_t cap = 0, bad = 0;
	ssize_t n;
	off_t pos = 0;
	while ((n = getline(&line, &cap, f)) > 0) {
		off_t at = pos;
		pos += n;
		bool complete = line[n - 1] == '\n';
		if (complete)
			line[--n] = '\0';
		if (!complete || !replay_line(j, line, (size_t)n, at))
			bad++;
	}
	free(line);
	fclose(f);
	if (bad)
		log_warn("journal '%s': skipped %zu damaged record(s) (a torn "
			 "write is never acknowledged)",
			 j->path, bad);
	return CLAW_OK;
}

void gw_journal_close(struct gw_journal *j)
{
	if (!j)
		return;
	if (j->started) {
		pthread_mutex_lock(&j->mu);
		j->stop = true;
		pthread_cond_signal(&j->cv_work);
		pthread_mutex_unlock(&j->mu);
		pthread_join(j->thr, NULL);
	}
	if (j->fd >= 0)
		close(j->fd);
	gw_map_free(j->pending, pend_free);
	gw_seen_free(j->seen);
	claw_buf_release(&j->line);
	pthread_cond_destroy(&j->cv_work);
	pthread_cond_destroy(&j->cv_done);
	pthread_mutex_destroy(&j->mu);
	free(j->path);
	free(j->tmp_path);
	free(j->dir);
	free(j);
}

/* A journal of dir, not read yet (gw_journal_close frees it). */
static struct gw_journal *journal_new(const char *dir)
{
	struct gw_journal *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->fd = -1;
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv_work, NULL);
	pthread_cond_init(&j->cv_done, NULL);
	claw_buf_init(&j->line, 0);
	j->max_backlog = GW_MAX_BACKLOG_DEFAULT;
	j->max_pending = GW_MAX_JOURNAL_PENDING_DEFAULT;
	j->dir = strdup(dir);
	j->pending = gw_map_new();
	j->seen = gw_seen_new();
	if (!j->dir || !j->pending || !j->seen ||
	    asprintf(&j->path, "%s/journal.log", dir) < 0 ||
	    asprintf(&j->tmp_path, "%s/journal.log.tmp", dir) < 0) {
		gw_journal_close(j);
		return NULL;
	}
	return j;
}

struct peer_drop {
	struct gw_journal *j;
	const struct gw_journal *peer;
	size_t n;
};

/* gw_map_each: true (delete) for an entry the other slot answered. */
static bool peer_drop_one(const char *id, void *val, void *cls)
{
	struct peer_drop *d = cls;
	if (!seen_has(d->peer, id))
		return false;
	seen_add(d->j, id);
	pend_free(val);
	d->n++;
	return true;
}

/* Forget the pending entries that the gateway of the other blue/green
 * slot answered: its journal (in peer_dir, read only) says so with a D
 * record or, once compacted, an S hash. Such an entry was accepted here,
 * then not acknowledged (this gateway died first); the channel delivered
 * it again to the other slot, which answered it (docs/reliability.md,
 * finding 10). An entry the other slot has only accepted is kept: its
 * gateway may never answer it. A peer journal that cannot be read drops
 * nothing. */
static void peer_drop(struct gw_journal *j, const char *peer_dir)
{
	char err[300];
	struct gw_journal *peer = journal_new(peer_dir);
	struct peer_drop d = {.j = j, .peer = peer};
	if (!peer || replay(peer, err, sizeof(err))) {
		log_warn("journal: the other slot's journal in '%s' was not "
			 "read (%s); its answers are not known here",
			 peer_dir, peer ? err : "out of memory");
	} else {
		gw_map_each(j->pending, peer_drop_one, &d);
		if (d.n)
			log_info("journal: %zu unanswered message(s) were "
				 "answered by the other slot's gateway; not "
				 "replayed",
				 d.n);
	}
	gw_journal_close(peer);
}

enum claw_rc gw_journal_open(const char *dir, const char *peer_dir,
			     long compact_bytes, struct gw_journal **out,
			     void (*fn)(json_t *env, void *cls), void *cls,
			     char *errbuf, size_t errlen)
{
	enum claw_rc rc = CLAW_ERR_NOMEM;
	struct gw_journal *j = journal_new(dir);
	if (!j)
		return rc;
	j->compact_bytes = compact_bytes;
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(errbuf, errlen, "unable to create '%s': %s", dir,
			 strerror(errno));
		rc = CLAW_ERR_IO;
		goto fail;
	}
	rc = replay(j, errbuf, errlen);
	if (rc)
		goto fail;
	if (peer_dir)
		peer_drop(j, peer_dir);
	rc = compact_locked(j);
	if (rc) {
		snprintf(errbuf, errlen, "unable to write the journal in '%s'",
			 dir);
		goto fail;
	}
	int err = gw_thread_create(&j->thr, NULL, committer, j);
	if (err) {
		snprintf(errbuf, errlen,
			 "unable to start the journal's thread: %s",
			 strerror(err));
		rc = CLAW_ERR_INTERNAL;
		goto fail;
	}
	j->started = true;
	size_t n = 0;
	struct pend **v = pending_sorted(j, &n);
	if (!v) {
		rc = CLAW_ERR_NOMEM;
		goto fail;
	}
	if (n)
		log_info("journal: replaying %zu unanswered message(s), %zu "
			 "at once",
			 n,
			 n < GW_MAX_BACKLOG_DEFAULT ? n
						    : GW_MAX_BACKLOG_DEFAULT);
	pthread_mutex_lock(&j->mu);
	for (size_t i = 0; i < n; i++) {
		json_t *env = NULL;
		if (i >= (size_t)j->max_backlog ||
		    !(env = payload_env(j, v[i]))) {
			spill_push(j, v[i]); /* read back as others finish */
			continue;
		}
		make_resident(j, v[i], env);
		fn(env, cls);
		json_decref(env);
	}
	gw_metrics_backlog(j->resident, j->nspilled);
	pthread_mutex_unlock(&j->mu);
	free(v);
	*out = j;
	return CLAW_OK;
fail:
	gw_journal_close(j);
	return rc;
}
