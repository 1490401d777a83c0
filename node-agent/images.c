/*
 * images.c - pull, pin and remove images; see images.h. A pull answers 200
 * and then streams progress lines: any of them may carry an error, so each
 * line is checked, and a pull is a success only when no line failed.
 * Registry credentials are sent only with pulls from the registry they name
 * (serveraddress), compared after normalising both host names.
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
		if (strncmp(at + 1, "sha256:", 7) || strlen(at + 8) != 64 ||
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

enum claw_rc na_image_auth_header(const json_t *auth, char *out, size_t outlen)
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

/* Whether the engine has ref (CLAW_ERR_NOT_FOUND: it has not). */
static enum claw_rc inspect(const struct na_docker *d, const char *ref,
			    struct na_docker_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), "/images/%s/json", ref);
	return na_docker_json(d, "GET", path, NULL, NULL, 10000, NULL, err);
}

/* The digest repo:tag points at in its registry. */
static enum claw_rc resolve(const struct na_docker *d, const char *repo,
			    const char *tag, const char *const *hdrs,
			    char *digest, size_t digestlen,
			    struct na_docker_err *err)
{
	char path[512];
	json_t *out = NULL;
	snprintf(path, sizeof(path), "/distribution/%s:%s/json", repo, tag);
	enum claw_rc rc =
		na_docker_json(d, "GET", path, hdrs, NULL, 60000, &out, err);
	const char *dg = json_string_value(
		json_object_get(json_object_get(out, "Descriptor"), "digest"));
	if (rc == CLAW_OK &&
	    (!dg || strncmp(dg, "sha256:", 7) || strlen(dg) != 71 ||
	     strspn(dg + 7, "0123456789abcdef") != 64)) {
		err->status = 200; /* the engine answered */
		snprintf(err->message, sizeof(err->message),
			 "the registry gave no digest for '%.200s:%.80s'", repo,
			 tag);
		rc = CLAW_ERR_PROTO;
	}
	if (rc == CLAW_OK)
		snprintf(digest, digestlen, "%s", dg);
	json_decref(out);
	return rc;
}

struct pull_ctx {
	struct na_lines lines;
	struct na_progress *progress;
	na_progress_fn fn;
	void *cls;
	bool aborted;
};

static int on_pull_data(const char *data, size_t len, void *cls)
{
	struct pull_ctx *c = cls;
	return na_lines_feed(&c->lines, data, len) != CLAW_OK || c->aborted;
}

static enum claw_rc on_pull_line(const char *line, size_t len, void *cls)
{
	struct pull_ctx *c = cls;
	enum claw_rc rc = na_progress_line(c->progress, line, len);
	if (rc == CLAW_OK && c->fn && c->fn(c->progress, c->cls)) {
		c->aborted = true;
		rc = CLAW_ERR_IO;
	}
	return rc;
}

enum claw_rc na_image_ensure(const struct na_docker *d, const char *ref,
			     const json_t *auths, char *pinned,
			     size_t pinnedlen, struct na_progress *progress,
			     na_progress_fn on_progress, void *cls,
			     struct na_docker_err *err)
{
	char repo[256], tag[96], digest[80], qrepo[768], qtag[256], path[1200];
	char authv[4096], authh[4200];
	const char *hdrs[2] = {NULL, NULL};
	struct pull_ctx c = {
		.progress = progress, .fn = on_progress, .cls = cls};
	long status = 0;
	enum claw_rc rc;

	memset(progress, 0, sizeof(*progress));
	rc = na_image_split(ref, repo, sizeof(repo), tag, sizeof(tag));
	if (rc) {
		err->status = 0;
		snprintf(err->message, sizeof(err->message),
			 "'%s' is not an image reference", ref);
		return rc;
	}
	bool withheld;
	const json_t *auth = na_image_auth_for(ref, auths, &withheld);
	if (withheld) {
		char host[256];
		if (na_image_registry(ref, host, sizeof(host)))
			snprintf(host, sizeof(host), "?");
		log_warn("registry credentials withheld from the pull of "
			 "'%.200s': they are for another registry than '%s'",
			 ref, host);
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
	if (strncmp(tag, "sha256:", 7) == 0) {
		snprintf(digest, sizeof(digest), "%s", tag);
	} else {
		rc = resolve(d, repo, tag, hdrs, digest, sizeof(digest), err);
		if (rc && err->status) {
			char why[sizeof(err->message)];
			snprintf(why, sizeof(why), "%s", err->message);
			snprintf(err->message, sizeof(err->message),
				 "resolving '%.200s' failed: %.280s", ref, why);
		}
		if (rc)
			goto out;
	}
	snprintf(pinned, pinnedlen, "%s@%s", repo, digest);
	/* Present: nothing to fetch. */
	if (inspect(d, pinned, err) == CLAW_OK)
		goto out;
	if (na_docker_qs(repo, qrepo, sizeof(qrepo)) ||
	    na_docker_qs(digest, qtag, sizeof(qtag))) {
		rc = CLAW_ERR_INVALID;
		goto out;
	}
	snprintf(path, sizeof(path), "/images/create?fromImage=%s&tag=%s",
		 qrepo, qtag);
	na_lines_init(&c.lines, 1u << 16, on_pull_line, &c);
	rc = na_docker_stream(d, "POST", path, hdrs, 15 * 60 * 1000L,
			      on_pull_data, &c, &status, err);
	if (rc == CLAW_OK)
		rc = na_lines_finish(&c.lines);
	na_lines_release(&c.lines);
	if (c.aborted) {
		err->status = status;
		snprintf(err->message, sizeof(err->message),
			 "pull of '%.200s' stopped", ref);
		rc = CLAW_ERR_IO;
		goto out;
	}
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
	rc = inspect(d, pinned, err);
out:
	sodium_memzero(authv, sizeof(authv));
	sodium_memzero(authh, sizeof(authh));
	return rc;
}

enum claw_rc na_image_remove(const struct na_docker *d, const char *ref,
			     struct na_docker_err *err)
{
	char path[512];
	snprintf(path, sizeof(path), "/images/%s", ref);
	return na_docker_json(d, "DELETE", path, NULL, NULL, 30000, NULL, err);
}
