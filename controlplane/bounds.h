/*
 * bounds.h - what an operator allows a tenant (docs/fleet.md, "Tenant
 * bounds"): plans (resource ceilings), the fleet's image policy, per-tenant
 * egress bounds, and registry credentials bound to the registry host they
 * were configured for.
 *
 * The first part is pure (no database, no globals), so the unit tests run
 * exactly what the handlers run: image references parsed as Docker parses
 * them, policy entries matched on whole host and path components, egress
 * entries covered by a bound, plan values compared with a plan.
 *
 * The second part is the daemon's state, built once at start by the
 * "bounds" hook from the options (image-allow, registry-auth, the legacy
 * registry-user pair) and read-only afterwards: cp_bounds_policy() and
 * cp_bounds_registry_cred() may be called from any thread.
 */
#ifndef CP_BOUNDS_H
#define CP_BOUNDS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#include "cp.h"

/* ---- image references */

#define CP_IMAGE_HOST_MAX 256
#define CP_IMAGE_PATH_MAX 256

/* A reference as Docker resolves it: "nginx" is docker.io/library/nginx,
 * "Reg.Example:5000/a/b:1" is host "reg.example:5000", path "a/b". */
struct cp_image_ref {
	char host[CP_IMAGE_HOST_MAX]; /* lowercase, port kept */
	char path[CP_IMAGE_PATH_MAX]; /* repository path, no tag or digest */
};

/* Parse ref (NAME[:TAG][@sha256:HEX]) by Docker's reference grammar: path
 * components of [a-z0-9] joined by '.', '_', "__" or '-'s; no empty, "."
 * or ".." component. Returns false for anything else. */
bool cp_image_parse(const char *ref, struct cp_image_ref *out);

/* A registry address as a deploy's "registry.server" or an option gives
 * it ("reg.example:5000", "https://reg.example/v2/") as the host
 * cp_image_parse gives: lowercase, port kept, Docker Hub's aliases folded
 * into "docker.io". false when it names no host. */
bool cp_registry_host_norm(const char *server, char *out, size_t outlen);

/* ---- the image policy: allowed registry hosts or repository prefixes */

struct cp_image_policy;

/* Parse the image-allow text: entries separated by commas or white space,
 * each a registry host ("registry.example.com", "10.0.0.5:5000",
 * "docker.io") or a repository prefix ("registry.example.com/claw",
 * "docker.io/library/"). Returns 0 with *out (free with
 * cp_image_policy_free), or -1 with err naming the bad entry. */
int cp_image_policy_parse(const char *text, struct cp_image_policy **out,
			  char *err, size_t errlen);
void cp_image_policy_free(struct cp_image_policy *p);
/* Whether ref may be deployed: a NULL policy allows every well-formed
 * reference; otherwise its host must equal an entry's host, and when the
 * entry has a path, its path must be that path or lie below it (whole
 * components: "reg/claw" allows "reg/claw/gw", never "reg/claw-evil"). */
bool cp_image_allowed(const struct cp_image_policy *p, const char *ref);

/* ---- egress bounds */

/* An egress_allow entry as the gateway takes it: "host:port" or
 * "*.domain:port" (port 1..65535). A bound may also hold "*" (anything). */
bool cp_egress_entry_valid(const char *s, bool in_bound);
/* Whether entry lies inside bound (an array of bound entries): an exact
 * entry equal to a bound entry (host case-insensitive), or below a
 * wildcard one ("*.d:443" covers "a.d:443", "*.x.d:443" and "*.d:443");
 * "*" covers everything. */
bool cp_egress_covered(const char *entry, const json_t *bound);
/* Check a tenant's egress_allow (NULL: none given) against bound: 0 when
 * every entry is well-formed and covered, else -1 with *bad the first
 * entry that is not (borrowed from asked; "" when asked is no array of
 * strings). */
int cp_egress_check(const json_t *asked, const json_t *bound, const char **bad);

/* ---- placement bounds: node labels a tenant token may ask for */

#define CP_LABELS_MAX 32
#define CP_LABEL_LEN_MAX 63

/* A tenant's node_labels bound as an admin or operator sets it: an object
 * of up to 32 label names (1..63 bytes), each to one allowed value or an
 * array of up to 32 (strings of up to 63 bytes). "{}" allows none. */
bool cp_labels_bound_valid(const json_t *bound);
/* Check a deploy's node_labels (an object; NULL or {}: none asked) against
 * bound: 0 when every label is in the bound with an allowed value, else -1
 * with *bad the first label that is not (borrowed from asked). */
int cp_labels_check(const json_t *asked, const json_t *bound, const char **bad);

/* ---- channel base URLs: addresses the gateway calls directly */

#define CP_API_BASE_MAX 512
#define CP_API_BASE_ALLOW_MAX 64

/* Whether key names an address the gateway would call (outside its
 * egress proxy): a key ending in "_base" or "_url" ("api_base"), except
 * "webhook_url" (Twilio's address of the gateway itself, only used to
 * check signatures). */
bool cp_gw_url_key(const char *key);
/* A tenant's api_base_allow bound: an array of up to 64 URLs of the
 * schemes a gateway dials itself (http, https; imap, imaps, smtp, smtps
 * for email; ircs for IRC: up to 512 bytes, no white space or control
 * bytes), or "*" (any). */
bool cp_api_base_bound_valid(const json_t *allow);
/* Check the URL fields (cp_gw_url_key) of a gateway config, at its top
 * level and in each object of its "channels" (and IRC's "server",
 * matched as "ircs://" followed by its host:port), against allow and the
 * fleet's default gateway config dflt (may be NULL): a value equal to the
 * default's at the same place, or listed in allow (exact, a trailing '/'
 * ignored; "*" allows any), passes. 0 when all pass, else -1 with field
 * naming the first that does not ("channels.slack.api_base"; a channel key
 * that is not a plain lowercase name is named by position, "channels.#3",
 * never by its bytes). */
int cp_api_base_check(const json_t *gw_config, const json_t *dflt,
		      const json_t *allow, char *field, size_t fieldlen);

/* ---- plans */

#define CP_PLAN_NAME_MAX 63

struct cp_plan {
	char name[CP_PLAN_NAME_MAX + 1]; /* "default" for the built-in one */
	long long cpus_milli;
	long long memory_mb;
	long long pids;
	long long disk_mb; /* 0: no limit */
};

/* The first field of asked that exceeds limit ("cpus_milli", ...), or NULL
 * when asked is within it. disk_mb 0 asks for no limit, which exceeds any
 * limit but none. */
const char *cp_plan_exceeded(const struct cp_plan *asked,
			     const struct cp_plan *limit);
/* disk_mb of a plan: 0 (no limit) or CP_PLAN_DISK_MIN..CP_PLAN_DISK_MAX
 * MiB (the node agent's smallest file system, docs/node-agent.md). */
#define CP_PLAN_DISK_MIN 16
#define CP_PLAN_DISK_MAX 16777216
bool cp_plan_disk_valid(long long disk_mb);
/* A plan name: a DNS label, "default" included (the built-in plan). */
bool cp_plan_name_valid(const char *s);

/* ---- registry credentials per registry host */

struct cp_registry_creds;

/* Parse registry-auth: entries "HOST=USER:PASSWORD_FILE" separated by
 * commas or white space (a host once). Password files are read with
 * claw_secret_read into guarded memory. -1 with err (never a password). */
int cp_registry_creds_parse(const char *text, struct cp_registry_creds **out,
			    char *err, size_t errlen);
/* Add one credential for host (user and password copied; the password into
 * guarded memory). -1 when host is taken or malformed, or out of memory. */
int cp_registry_creds_add(struct cp_registry_creds **c, const char *host,
			  const char *user, const char *password, char *err,
			  size_t errlen);
void cp_registry_creds_free(struct cp_registry_creds *c);
/* The credential configured for exactly this registry host (lowercase,
 * port kept), or false. user and password are borrowed. */
bool cp_registry_creds_find(const struct cp_registry_creds *c, const char *host,
			    const char **user, const char **password);

/* ---- the daemon's bounds (read-only after the start hook) */

/* Start hook: parse image-allow and registry-auth, bind the legacy
 * registry-user/registry-password-file pair to registry-server (else the
 * registry host of default-gateway-image), and check the default images
 * against the policy. Runs after the "fleet" hook (which reads the legacy
 * password). */
int cp_bounds_start(struct cp_ctx *ctx, char *errbuf, size_t errlen);
void cp_bounds_stop(struct cp_ctx *ctx);
/* The fleet's image policy; NULL when image-allow is unset (any image). */
const struct cp_image_policy *cp_bounds_policy(void);
/* The fleet credential for a registry host, or false. */
bool cp_bounds_registry_cred(const char *host, const char **user,
			     const char **password);

#endif
