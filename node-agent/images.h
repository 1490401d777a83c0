/*
 * images.h - images on the node: pull with registry credentials
 * (X-Registry-Auth), resolve the digest a tag points at, and remove images
 * no longer kept.
 */
#ifndef NA_IMAGES_H
#define NA_IMAGES_H

#include <jansson.h>
#include <stddef.h>
#include "docker.h"
#include "docker_stream.h"

/* Split "host:port/repo[:tag][@sha256:hex]" into the repository and the
 * tag or digest ("latest" when neither). CLAW_ERR_INVALID when it does not
 * fit. */
enum claw_rc na_image_split(const char *ref, char *repo, size_t repolen,
			    char *tag, size_t taglen);

/* Build the X-Registry-Auth header value (base64url of the JSON
 * credentials) into out; the caller wipes it after use. auth may be NULL
 * (then out is ""). */
enum claw_rc na_image_auth_header(const json_t *auth, char *out,
				  size_t outlen);

/* Make image ref present, pulling it when it is not, and write the
 * reference pinned by digest ("repo@sha256:...") to pinned. progress
 * receives what the pull said. err tells why it failed: Docker's words
 * (which never include the credentials). */
enum claw_rc na_image_ensure(const struct na_docker *d, const char *ref,
			     const json_t *auth, char *pinned,
			     size_t pinnedlen, struct na_progress *progress,
			     struct na_docker_err *err);

/* Remove an image by reference (not forced: an image in use stays). */
enum claw_rc na_image_remove(const struct na_docker *d, const char *ref,
			     struct na_docker_err *err);

#endif
