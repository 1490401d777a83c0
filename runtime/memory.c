/*
 * memory.c - per-sender notes on disk; see memory.h. Writers of one sender
 * are serialised by a process-wide lock (notes are small and rare).
 */
#include "memory.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "claw/crypto.h"

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
	char path[4096];
	json_error_t jerr;
	memory_path(dir, sender_key, path, sizeof(path));
	json_t *v = json_load_file(path, 0, &jerr);
	if (!json_is_array(v)) {
		json_decref(v);
		return json_array();
	}
	return v;
}

static int memory_store(const char *dir, const char *sender_key,
			json_t *notes, char *err, size_t errlen)
{
	char path[4096], tmp[4200];
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "unable to store notes: %s",
			 strerror(errno));
		return -1;
	}
	memory_path(dir, sender_key, path, sizeof(path));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || json_dumpfd(notes, fd, JSON_COMPACT) != 0 || fsync(fd)
	    || close(fd) || rename(tmp, path)) {
		snprintf(err, errlen, "unable to store notes: %s",
			 strerror(errno));
		if (fd >= 0)
			close(fd);
		unlink(tmp);
		return -1;
	}
	return 0;
}

int rt_memory_save(const char *dir, const char *sender_key, const char *note,
		   char *err, size_t errlen)
{
	size_t n = strlen(note);
	if (n == 0 || n > RT_MEMORY_MAX_NOTE) {
		snprintf(err, errlen, "a note must have 1 to %d bytes",
			 RT_MEMORY_MAX_NOTE);
		return -1;
	}
	pthread_mutex_lock(&memory_mu);
	json_t *notes = rt_memory_notes(dir, sender_key);
	int rc = -1;
	if (json_array_size(notes) >= RT_MEMORY_MAX_NOTES)
		snprintf(err, errlen, "there are already %d notes; delete one "
			 "first", RT_MEMORY_MAX_NOTES);
	else if (json_array_append_new(notes, json_string(note)))
		snprintf(err, errlen, "the note is not valid UTF-8 text");
	else
		rc = memory_store(dir, sender_key, notes, err, errlen);
	json_decref(notes);
	pthread_mutex_unlock(&memory_mu);
	return rc;
}

int rt_memory_delete(const char *dir, const char *sender_key, long n,
		     char *err, size_t errlen)
{
	pthread_mutex_lock(&memory_mu);
	json_t *notes = rt_memory_notes(dir, sender_key);
	int rc = -1;
	if (n < 1 || (size_t)n > json_array_size(notes))
		snprintf(err, errlen, "there is no note number %ld", n);
	else {
		json_array_remove(notes, (size_t)n - 1);
		rc = memory_store(dir, sender_key, notes, err, errlen);
	}
	json_decref(notes);
	pthread_mutex_unlock(&memory_mu);
	return rc;
}
