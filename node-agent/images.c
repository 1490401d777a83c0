/*
 * images.c - pull, pin and remove images; see images.h. A pull answers 200
 * and then streams progress lines: any of them may carry an error, so each
 * line is checked, and a pull is a success only when no line failed.
 */
#include "images.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "claw/json.h"
#include "claw/log.h"

enum claw_rc na_image_split(const char *ref, char *repo, size_t repolen,
			    char *tag, size_t taglen)
{
	const char *at = strchr(ref, '@');
	const char *slash = strrchr(ref, '/');
	const char *colon;
	size_t rl;
	if (at) {
		if (strncmp(at + 1, "sha256:", 7) ||
		    strlen(at + 8) != 64 ||
		    strspn(at + 8, "0123456789abcdef") != 64)
			return CLAW_ERR_INVALID;
		rl = (size_t)(at - ref);
		if (rl == 0 || rl >= repolen)
			return CLAW_ERR_INVALID;
		memcpy(repo, ref, rl);
		repo[rl] = 0;
		/* A tag before the digest is ignored, as Docker does. */
		colon = strrchr(repo, ':');
		slash = strrchr(repo, '/');
		if (colon && (!slash || colon > slash))
			*(char *)colon = 0;
		snprintf(tag, taglen, "%s", at + 1);
		return CLAW_OK;
	}
	colon = strrchr(ref, ':');
	if (colon && (!slash || colon > slash)) {
		rl = (size_t)(colon - ref);
		if (rl == 0 || rl >= repolen || !colon[1] ||
		    strlen(colon + 1) >= taglen)
			return CLAW_ERR_INVALID;
		memcpy(repo, ref, rl);
		repo[rl] = 0;
		snprintf(tag, taglen, "%s", colon + 1);
		return CLAW_OK;
	}
	if (strlen(ref) >= repolen || !*ref)
		return CLAW_ERR_INVALID;
	snprintf(repo, repolen, "%s", ref);
	snprintf(tag, taglen, "latest");
	return CLAW_OK;
}

enum claw_rc na_image_auth_header(const json_t *auth, char *out,
				  size_t outlen)
{
	char *json;
	size_t len;
	out[0] = 0;
	if (!auth)
		return CLAW_OK;
	json = claw_json_dumps(auth);
	if (!json)
		return CLAW_ERR_NOMEM;
	len = strlen(json);
	if (sodium_base64_encoded_len(len, sodium_base64_VARIANT_URLSAFE) >
	    outlen) {
		sodium_memzero(json, len);
		free(json);
		return CLAW_ERR_TOO_LARGE;
	}
	sodium_bin2base64(out, outlen, (const unsigned char *)json, len,
			  sodium_base64_VARIANT_URLSAFE);
	sodium_memzero(json, len);
	free(json);
	return CLAW_OK;
}

/* The RepoDigests entry of an inspected image that belongs to repo. */
static int pick_digest(const json_t *img, const char *repo, char *pinned,
		       size_t pinnedlen)
{
	size_t i, rl = strlen(repo);
	json_t *v;
	json_array_foreach(json_object_get(img, "RepoDigests"), i, v)
	{
		const char *s = json_string_value(v);
		if (s && strncmp(s, repo, rl) == 0 && s[rl] == '@') {
			snprintf(pinned, pinnedlen, "%s", s);
			return 1;
		}
	}
	return 0;
}

static enum claw_rc inspect(const struct na_docker *d, const char *ref,
			    json_t **img, struct na_docker_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), "/images/%s/json", ref);
	return na_docker_json(d, "GET", path, NULL, NULL, 10000, img, err);
}

static int on_pull_data(const char *data, size_t len, void *cls)
{
	return na_lines_feed(cls, data, len) != CLAW_OK;
}

static enum claw_rc on_pull_line(const char *line, size_t len, void *cls)
{
	return na_progress_line(cls, line, len);
}

enum claw_rc na_image_ensure(const struct na_docker *d, const char *ref,
			     const json_t *auth, char *pinned,
			     size_t pinnedlen, struct na_progress *progress,
			     struct na_docker_err *err)
{
	char repo[256], tag[96], qrepo[768], qtag[256], path[1200];
	char authv[4096], authh[4200];
	const char *hdrs[2] = {NULL, NULL};
	struct na_lines lines;
	json_t *img = NULL;
	long status = 0;
	enum claw_rc rc;
	int by_digest;

	memset(progress, 0, sizeof(*progress));
	rc = na_image_split(ref, repo, sizeof(repo), tag, sizeof(tag));
	if (rc) {
		err->status = 0;
		snprintf(err->message, sizeof(err->message),
			 "'%s' is not an image reference", ref);
		return rc;
	}
	by_digest = strncmp(tag, "sha256:", 7) == 0;
	/* Pinned and present: nothing to fetch. */
	if (by_digest && inspect(d, ref, &img, err) == CLAW_OK) {
		snprintf(pinned, pinnedlen, "%s@%s", repo, tag);
		json_decref(img);
		return CLAW_OK;
	}
	rc = na_image_auth_header(auth, authv, sizeof(authv));
	if (rc) {
		snprintf(err->message, sizeof(err->message),
			 "registry credentials are too large");
		return rc;
	}
	if (authv[0]) {
		snprintf(authh, sizeof(authh), "X-Registry-Auth: %s", authv);
		hdrs[0] = authh;
	}
	if (na_docker_qs(repo, qrepo, sizeof(qrepo)) ||
	    na_docker_qs(tag, qtag, sizeof(qtag))) {
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s",
		 qrepo, qtag);
	na_lines_init(&lines, 1u << 16, on_pull_line, progress);
	rc = na_docker_stream(d, "POST", path, hdrs, 15 * 60 * 1000L,
			      on_pull_data, &lines, &status, err);
	if (rc == CLAW_OK)
		rc = na_lines_finish(&lines);
	na_lines_release(&lines);
	if (rc && status == 0)
		goto out; /* the engine did not answer: err says so */
	if (status >= 400 || progress->failed || rc) {
		err->status = status;
		snprintf(err->message, sizeof(err->message),
			 "pull of '%.200s' failed: %.280s", ref,
			 progress->error[0] ? progress->error
					    : "the engine's answer was broken");
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	rc = inspect(d, by_digest ? ref : (snprintf(path, sizeof(path),
						    "%s:%s", repo, tag),
					   path),
		     &img, err);
	if (rc)
		goto out;
	if (by_digest) {
		snprintf(pinned, pinnedlen, "%s@%s", repo, tag);
	} else if (!pick_digest(img, repo, pinned, pinnedlen)) {
		err->status = 0;
		snprintf(err->message, sizeof(err->message),
			 "image '%s' has no registry digest after its pull",
			 ref);
		rc = CLAW_ERR_PROTO;
	}
out:
	sodium_memzero(authv, sizeof(authv));
	sodium_memzero(authh, sizeof(authh));
	json_decref(img);
	return rc;
}

enum claw_rc na_image_remove(const struct na_docker *d, const char *ref,
			     struct na_docker_err *err)
{
	char path[512];
	json_t *out = NULL;
	snprintf(path, sizeof(path), "/images/%s", ref);
	enum claw_rc rc = na_docker_json(d, "DELETE", path, NULL, NULL, 30000,
					 &out, err);
	json_decref(out);
	return rc;
}
