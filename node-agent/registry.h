/*
 * registry.h - which registry credentials go with a pull: only those
 * configured for the registry the image reference names, so a tenant that
 * names "evil.example/x" gets no fleet password sent there. Pure functions
 * (no I/O), unit-tested and fuzzed.
 *
 * Registry hosts are normalised so that two spellings of one registry are
 * equal: lower case, a ":443" port dropped (the HTTPS default: the same
 * server), and Docker Hub's names ("docker.io", "index.docker.io",
 * "registry-1.docker.io") all "docker.io". Any other port stays and must
 * match exactly.
 */
#ifndef NA_REGISTRY_H
#define NA_REGISTRY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "claw/err.h"

/* The registry an image reference names, as Docker reads it: the part
 * before the first '/' when it has a '.' or a ':', is "localhost" or has
 * an upper-case letter; otherwise (no '/' at all, or "library/x",
 * "user/x") Docker Hub, normalised. */
enum claw_rc na_image_registry(const char *ref, char *host, size_t hostlen);
/* A credential's serveraddress ("127.0.0.1:5000",
 * "https://index.docker.io/v1/", "https://reg.example:443/"): the scheme
 * and any path dropped. CLAW_ERR_INVALID for what names no plain host
 * (empty, user info, spaces). */
enum claw_rc na_registry_normalise(const char *serveraddress, char *host,
				   size_t hostlen);

/* Which credentials go with a pull of ref: of auths (one credential
 * object, an array of them, or NULL), the one whose serveraddress is ref's
 * registry (borrowed from auths); NULL when none is (*withheld, when not
 * NULL, then says whether there were credentials, all for other
 * registries). */
const json_t *na_image_auth_for(const char *ref, const json_t *auths,
				bool *withheld);

/* Wipe the passwords (and tokens) of auths (as above) in place. */
void na_registry_auth_wipe(json_t *auths);

#endif
