/*
 * templates.h - the admins' templates of a tenant's resources
 * (docs/resources.md, "Templates"): persona, model, channels, tools and
 * policies without secrets, so an operator onboarding many similar
 * tenants fills in only their secrets.
 *
 * A template's body: {"persona": {...}, "model": {...}, "channels":
 * {KIND: SETTINGS}, "tools": {...}, "policies": {...}}, every part
 * optional and each checked as the resource of that kind is
 * (resources.h); secret values are refused (a model names its key with
 * api_key_secret; channels carry no credentials). Secrets a template
 * names are not required to exist when it is applied: the deploy's
 * preflight lists what is missing.
 */
#ifndef CP_TEMPLATES_H
#define CP_TEMPLATES_H

#include <jansson.h>
#include <libpq-fe.h>

#include "claw/err.h"
#include "resources.h"

struct cp_audit_entry;

/* Check body and build the stored form *out (a new object; the persona's
 * texts normalised as cp_persona_check does). 0, or -1 with p filled. */
int cp_template_check(const json_t *body, json_t **out,
		      struct cp_res_problem *p);

/* Apply the template named template_name to the tenant, inside the
 * caller's transaction on conn: each of its parts becomes the next version
 * of that resource (written by actor, a token id or NULL). With audit
 * (may be NULL; actor and request from the caller, action and details set
 * here), one 'template.apply' row naming the template and the versions
 * written. *applied (may be NULL): those versions, {"channels": {KIND: N},
 * "persona": N, ...} (a new object). NOT_FOUND when there is no such
 * template. */
enum claw_rc cp_template_apply(PGconn *conn, const char *tenant_id,
			       const char *template_name, const char *actor,
			       struct cp_audit_entry *audit, json_t **applied);

#endif
