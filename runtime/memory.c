/*
 * memory.c - per-sender notes on disk; see memory.h. Writers of one sender
 * are serialised by a process-wide lock (notes are small and rare).
 */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claw/crypto.h"
#include "claw/file.h"

/* Ceiling on one sender's notes file (50 notes of 500 bytes, escaped). */
#define NOTES_FILE_MAX (1u << 20)

static pthread_mutex_t memory_mu = PTHREAD_MUTEX_INITIALIZER;

static void memory_path(const char *dir, const char *sender_key, char *out,
			size_t n)
{
	char hex[65];
	claw_blake2b_hex(sender_key, strlen(sender_key), hex);
	snprintf(out, n, "%s/%s.json", dir, hex);
}

json_t *rt_memory_notes(const char *dir, const char *sender_key)
{
	char path[4096], ferr[300], *text = NULL;
	size_t len = 0;
	json_error_t jerr;
	json_t *v = NULL;
	memory_path(dir, sender_key, path, sizeof(path));
	if (claw_file_load(path, NOTES_FILE_MAX, &text, &len, ferr,
			   sizeof(ferr)) == CLAW_OK)
		v = json_loadb(text, len, 0, &jerr);
	free(text);
	if (!json_is_array(v)) {
		json_decref(v);
		return json_array();
	}
	return v;
}

/* Replace the sender's file with notes. CLAW_ERR_IO with err set. */
static enum claw_rc memory_store(const char *dir, const char *sender_key,
				 json_t *notes, char *err, size_t errlen)
{
	char path[4096], tmp[4200];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "unable to store notes: %s",
			 strerror(errno));
		return CLAW_ERR_IO;
	}
	memory_path(dir, sender_key, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int e = 0;
	if (fd < 0 || json_dumpfd(notes, fd, JSON_COMPACT) != 0 || fsync(fd))
		e = errno ? errno : EIO;
	/* closed exactly once, whatever failed */
	if (fd >= 0 && close(fd) != 0 && !e)
		e = errno;
	if (!e && rename(tmp, path) != 0)
		e = errno;
	if (e) {
		snprintf(err, errlen, "unable to store notes: %s", strerror(e));
		unlink(tmp);
		return CLAW_ERR_IO;
	}
	return CLAW_OK;
}

enum claw_rc rt_memory_save(const char *dir, const char *sender_key,
			    const char *note, char *err, size_t errlen)
{
	size_t n = strlen(note);
	if (n == 0 || n > RT_MEMORY_MAX_NOTE) {
		snprintf(err, errlen, "a note must have 1 to %d bytes",
			 RT_MEMORY_MAX_NOTE);
		return CLAW_ERR_INVALID;
	}
	pthread_mutex_lock(&memory_mu);
	json_t *notes = rt_memory_notes(dir, sender_key);
	enum claw_rc rc = CLAW_ERR_INVALID;
	if (json_array_size(notes) >= RT_MEMORY_MAX_NOTES)
		snprintf(err, errlen,
			 "there are already %d notes; delete one "
			 "first",
			 RT_MEMORY_MAX_NOTES);
	else if (json_array_append_new(notes, json_string(note)))
		snprintf(err, errlen, "the note is not valid UTF-8 text");
	else
		rc = memory_store(dir, sender_key, notes, err, errlen);
	json_decref(notes);
	pthread_mutex_unlock(&memory_mu);
	return rc;
}

enum claw_rc rt_memory_delete(const char *dir, const char *sender_key, long n,
			      char *err, size_t errlen)
{
	pthread_mutex_lock(&memory_mu);
	json_t *notes = rt_memory_notes(dir, sender_key);
	enum claw_rc rc = CLAW_ERR_NOT_FOUND;
	if (n < 1 || (size_t)n > json_array_size(notes)) {
		snprintf(err, errlen, "there is no note number %ld", n);
	} else {
		json_array_remove(notes, (size_t)n - 1);
		rc = memory_store(dir, sender_key, notes, err, errlen);
	}
	json_decref(notes);
	pthread_mutex_unlock(&memory_mu);
	return rc;
}
