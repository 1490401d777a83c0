/*
 * seccomp.c - the tenant containers' seccomp profile; see seccomp.h.
 */
#include "seccomp.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "claw/crypto.h"
#include "claw/file.h"

#define NA_SECCOMP_MAX (1u << 20)

enum claw_rc na_seccomp_prepare(const char *profile, size_t len, char **opt,
				char hash[NA_SECCOMP_HASH_LEN + 1], char *msg,
				size_t msglen)
{
	json_error_t je;
	json_t *p = json_loadb(profile, len, JSON_REJECT_DUPLICATES, &je);
	const char *def;
	char *text = NULL;
	unsigned char h[NA_SECCOMP_HASH_LEN / 2];
	enum claw_rc rc = CLAW_ERR_INVALID;

	*opt = NULL;
	if (!p) {
		snprintf(msg, msglen,
			 "the seccomp profile is not JSON (line %d: %s)",
			 je.line, je.text);
		return CLAW_ERR_PARSE;
	}
	def = json_string_value(json_object_get(p, "defaultAction"));
	if (!json_is_object(p) || !def ||
	    !json_is_array(json_object_get(p, "syscalls")) ||
	    json_array_size(json_object_get(p, "syscalls")) == 0) {
		snprintf(msg, msglen,
			 "the seccomp profile needs a defaultAction and a "
			 "list of syscalls");
		goto out;
	}
	if (strcmp(def, "SCMP_ACT_ALLOW") == 0 ||
	    strcmp(def, "SCMP_ACT_LOG") == 0) {
		snprintf(msg, msglen,
			 "the seccomp profile's defaultAction must refuse "
			 "(SCMP_ACT_ERRNO, SCMP_ACT_KILL...), not %s",
			 def);
		goto out;
	}
	text = json_dumps(p, JSON_COMPACT);
	size_t n = text ? strlen(text) : 0;
	*opt = text ? malloc(n + sizeof("seccomp=")) : NULL;
	if (!*opt) {
		rc = CLAW_ERR_NOMEM;
		goto out;
	}
	memcpy(*opt, "seccomp=", 8);
	memcpy(*opt + 8, text, n + 1);
	crypto_generichash(h, sizeof(h), (const unsigned char *)text, n, NULL,
			   0);
	claw_hex_encode(h, sizeof(h), hash);
	rc = CLAW_OK;
out:
	free(text);
	json_decref(p);
	return rc;
}

enum claw_rc na_seccomp_load(const char *path, char **opt,
			     char hash[NA_SECCOMP_HASH_LEN + 1], char *msg,
			     size_t msglen)
{
	char *data = NULL, why[256];
	size_t len = 0;
	enum claw_rc rc;
	if (!path)
		return na_seccomp_prepare((const char *)na_seccomp_default,
					  na_seccomp_default_len, opt, hash,
					  msg, msglen);
	rc = claw_file_load(path, NA_SECCOMP_MAX, &data, &len, why,
			    sizeof(why));
	if (rc) {
		snprintf(msg, msglen, "%s", why);
		return rc;
	}
	rc = na_seccomp_prepare(data, len, opt, hash, msg, msglen);
	free(data);
	return rc;
}
