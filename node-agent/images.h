/*
 * images.h - images on the node: pull with registry credentials
 * (X-Registry-Auth, only ever for the registry they were configured for),
 * resolve the digest a tag points at, and remove images no longer kept.
 */
#ifndef NA_IMAGES_H
#define NA_IMAGES_H

#include <jansson.h>
#include <stddef.h>
#include "docker.h"
#include "docker_stream.h"
#include "registry.h"

/* Split "host:port/repo[:tag][@sha256:hex]" into the repository and the
 * tag or digest ("latest" when neither). CLAW_ERR_INVALID when it does not
 * fit. */
enum claw_rc na_image_split(const char *ref, char *repo, size_t repolen,
			    char *tag, size_t taglen);

/* Build the X-Registry-Auth header value (base64url of the JSON
 * credentials) into out; the caller wipes it after use. auth may be NULL
 * (then out is ""). */
enum claw_rc na_image_auth_header(const json_t *auth, char *out, size_t outlen);

/* Called after each progress line of a pull; non-zero aborts the pull. */
typedef int (*na_progress_fn)(const struct na_progress *p, void *cls);

/* Make image ref present and write the reference pinned by digest
 * ("repo@sha256:...") to pinned. auths are the tenant's registry
 * credentials (see na_image_auth_for: only those of ref's registry are
 * sent; withheld ones are logged, without any secret). A tag is resolved
 * to its digest through the engine (GET /distribution, with the
 * credentials), and the image is
 * pulled by that digest when the engine does not hold it, so the node only
 * ever gets digest references (no tag of ours to clean up). progress
 * receives what the pull said; on_progress (may be NULL) is told after
 * each line. err tells why it failed: Docker's words (which never include
 * the credentials). */
enum claw_rc na_image_ensure(const struct na_docker *d, const char *ref,
			     const json_t *auths, char *pinned,
			     size_t pinnedlen, struct na_progress *progress,
			     na_progress_fn on_progress, void *cls,
			     struct na_docker_err *err);

/* Remove an image by reference (not forced: an image in use stays). */
enum claw_rc na_image_remove(const struct na_docker *d, const char *ref,
			     struct na_docker_err *err);

#endif
