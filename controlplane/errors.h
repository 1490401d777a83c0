/*
 * errors.h - the control plane's own error codes, in the X-macro shape of
 * claw/err.h: X(NAME, "code", HTTP status, "hint").
 *
 * The enum and the table (errors.c) both come from CP_ERRORS, so a code has
 * exactly one status. Codes every daemon shares (not_found, invalid_field,
 * unavailable, ...) are never listed here: they are sent with
 * claw_http_reply_std, or claw_http_reply_def(req, claw_http_error_def(e),
 * fmt, ...) for a formatted message. controlplane/openapi.json lists the
 * codes of both registries in its Error schema, and a test compares them.
 *
 * not_deployed is the 409 of an action (stop, start, suspend, resume,
 * undeploy) on a tenant with no deployment; reading the placement of such
 * a tenant is a 404, placement_not_found.
 */
#ifndef CP_ERRORS_H
#define CP_ERRORS_H

#include "claw/err.h"

#define CP_ERRORS(X)                                                           \
	X(INVALID_PARAMETER, "invalid_parameter", 400,                         \
	  "fix the query parameter or header as the message says")             \
	X(BAD_IF_MATCH, "bad_if_match", 400,                                   \
	  "send If-Match as the tenant's ETag, a quoted version: \"N\"")       \
	X(INVALID_SECRET_NAME, "invalid_secret_name", 400,                     \
	  "name the secret with 1 to 128 of A-Z a-z 0-9 _ . -, not starting "  \
	  "with '.' or '-'")                                                   \
	X(INVALID_JOIN_TOKEN, "invalid_join_token", 401,                       \
	  "ask an admin for a new join token")                                 \
	X(OAUTH_STATE_INVALID, "oauth_state_invalid", 400,                     \
	  "the authorization's state is unknown; run clawctl mcp connect "     \
	  "again")                                                             \
	X(OAUTH_DENIED, "oauth_denied", 400,                                   \
	  "the authorization server refused or gave no code; connect again")   \
	X(NODE_REVOKED, "node_revoked", 401,                                   \
	  "join the node again with a new join token")                         \
	X(PLAN_EXCEEDED, "plan_exceeded", 403,                                 \
	  "stay within the tenant's plan, or ask an operator for a larger "    \
	  "one")                                                               \
	X(IMAGE_NOT_ALLOWED, "image_not_allowed", 403,                         \
	  "use an image from a registry or repository the fleet's "            \
	  "image-allow policy lists")                                          \
	X(EGRESS_NOT_ALLOWED, "egress_not_allowed", 403,                       \
	  "keep egress_allow within the tenant's egress bound, or ask an "     \
	  "operator to widen it")                                              \
	X(NODE_LABELS_NOT_ALLOWED, "node_labels_not_allowed", 403,             \
	  "placement is the operator's: leave node_labels out, or ask an "     \
	  "operator to allow those labels for this tenant")                    \
	X(API_BASE_NOT_ALLOWED, "api_base_not_allowed", 403,                   \
	  "leave the channel's base URL at its default, or ask an operator "   \
	  "to allow that URL for this tenant (api_base_allow)")                \
	X(OPERATOR_LOCKED, "operator_locked", 403,                             \
	  "an operator suspended this tenant; only an admin or operator can "  \
	  "resume it")                                                         \
	X(SELF_PAUSE_NOT_ALLOWED, "self_pause_not_allowed", 403,               \
	  "ask an operator to allow self-pause for this tenant")               \
	X(WORKSPACE_NOT_ALLOWED, "workspace_not_allowed", 403,                 \
	  "name an https or ssh repository on a host the fleet allows")        \
	X(USAGE_NOT_PLACED, "usage_not_placed", 403,                           \
	  "a node reports usage only of the tenants placed on it")             \
	X(APPROVAL_NOT_PLACED, "approval_not_placed", 403,                     \
	  "a node reports approvals only of the tenants placed on it")         \
	X(TENANT_NOT_FOUND, "tenant_not_found", 404,                           \
	  "no such tenant; check the id or slug")                              \
	X(TOKEN_NOT_FOUND, "token_not_found", 404,                             \
	  "no live token has that id; list the tokens to find it")             \
	X(SECRET_NOT_FOUND, "secret_not_found", 404,                           \
	  "the tenant has no secret of that name; list its secrets")           \
	X(NODE_NOT_FOUND, "node_not_found", 404,                               \
	  "no live node has that id or name; list the nodes")                  \
	X(DEPLOYMENT_NOT_FOUND, "deployment_not_found", 404,                   \
	  "the tenant has no deployment with that id; list its deployments")   \
	X(PLAN_NOT_FOUND, "plan_not_found", 404,                               \
	  "no plan has that name; list the plans")                             \
	X(PLACEMENT_NOT_FOUND, "placement_not_found", 404,                     \
	  "the tenant is not deployed; deploy it first")                       \
	X(DOMAIN_NOT_FOUND, "domain_not_found", 404,                           \
	  "the tenant has not claimed that domain; list its domains")          \
	X(ROLLOUT_NOT_FOUND, "rollout_not_found", 404,                         \
	  "no rollout has that id; list the rollouts")                         \
	X(TEMPLATE_NOT_FOUND, "template_not_found", 404,                       \
	  "no template has that name; list the templates")                     \
	X(WEB_FILE_NOT_FOUND, "web_file_not_found", 404,                       \
	  "open / for the dashboard")                                          \
	X(MCP_SERVER_NOT_FOUND, "mcp_server_not_found", 404,                   \
	  "name an MCP server of the tenant's deployment (its runtime_config " \
	  "mcp_servers)")                                                      \
	X(NOT_DEPLOYED, "not_deployed", 409,                                   \
	  "the tenant is not deployed; deploy it first")                       \
	X(VERSION_CONFLICT, "version_conflict", 409,                           \
	  "the tenant changed; fetch it again and retry with its new ETag")    \
	X(SLUG_TAKEN, "slug_taken", 409,                                       \
	  "choose another slug, or purge the deleted tenant that holds it")    \
	X(TENANT_DELETED, "tenant_deleted", 409,                               \
	  "the tenant is deleted; restore or purge it")                        \
	X(TENANT_NOT_DELETED, "tenant_not_deleted", 409,                       \
	  "the tenant is not deleted; delete it first")                        \
	X(NODE_NAME_TAKEN, "node_name_taken", 409,                             \
	  "choose another node name, or delete the node that has it")          \
	X(NO_PREVIOUS_HEALTHY, "no_previous_healthy", 409,                     \
	  "no earlier deployment was ever healthy; deploy a spec instead")     \
	X(NOT_RUNNING, "not_running", 409,                                     \
	  "the tenant runs on no node now; deploy or start it first")          \
	X(CHAT_NO_OPENAI, "chat_no_openai", 409,                               \
	  "deploy the tenant with its gateway's openai channel enabled "       \
	  "(channels.openai), then retry")                                     \
	X(CHAT_NO_TOKEN, "chat_no_token", 409,                                 \
	  "set the tenant's openai_api_token secret (one line, no spaces), "   \
	  "redeploy, then retry")                                              \
	X(CHAT_NO_EDGE, "chat_no_edge", 409,                                   \
	  "give the control plane --base-domain and the tenant's node "        \
	  "--edge-advertise, an address the control plane reaches")            \
	X(ROTATION_RUNNING, "rotation_running", 409,                           \
	  "a rotation is running; wait for it to finish")                      \
	X(NO_NEW_MASTER_KEY, "no_new_master_key", 409,                         \
	  "add a new master key version to the key source, then rotate")       \
	X(PLAN_NAME_TAKEN, "plan_name_taken", 409,                             \
	  "choose another plan name, or change the plan that has it")          \
	X(PLAN_IN_USE, "plan_in_use", 409,                                     \
	  "move the tenants on this plan to another plan first")               \
	X(PLAN_BUILTIN, "plan_builtin", 409,                                   \
	  "the default plan comes from the control plane's default-* "         \
	  "options; change those")                                             \
	X(DOMAIN_TAKEN, "domain_taken", 409,                                   \
	  "another tenant claimed that domain; it must release it first")      \
	X(DOMAIN_LIMIT, "domain_limit", 409,                                   \
	  "a tenant claims at most 50 domains; remove one first")              \
	X(ROLLOUT_OVERLAP, "rollout_overlap", 409,                             \
	  "a running or paused rollout holds one of these tenants; wait for "  \
	  "it, or abort it")                                                   \
	X(ROLLOUT_STATE, "rollout_state", 409,                                 \
	  "the rollout's state does not allow that (pause a running one, "     \
	  "resume a paused one, abort either)")                                \
	X(TEMPLATE_NAME_TAKEN, "template_name_taken", 409,                     \
	  "choose another template name, or change the template that has it")  \
	X(OAUTH_STATE_USED, "oauth_state_used", 409,                           \
	  "this authorization was already used; run clawctl mcp connect "      \
	  "again")                                                             \
	X(LOG_REQUEST_GONE, "log_request_gone", 410,                           \
	  "the client went away; stop sending")                                \
	X(OAUTH_FLOW_EXPIRED, "oauth_flow_expired", 410,                       \
	  "the authorization took too long; run clawctl mcp connect again")    \
	X(SLUG_TOO_LONG, "slug_too_long", 422,                                 \
	  "only tenants with slugs of up to 40 characters can be deployed")    \
	X(OAUTH_NOT_CONFIGURED, "oauth_not_configured", 422,                   \
	  "give the server an oauth object with token_secret (and a client "   \
	  "when the authorization server offers no registration)")             \
	X(MISSING_SECRETS, "missing_secrets", 422,                             \
	  "set the secrets the configs name (the reply lists each with the "   \
	  "role that needs it), or ask the operator for a fleet default")      \
	X(EMPTY_SELECTOR, "empty_selector", 422,                               \
	  "the selector matches no tenant; give all, labels, plan or tenants " \
	  "that name some")                                                    \
	X(DOMAIN_INVALID, "domain_invalid", 422,                               \
	  "name a host name: labels of a-z 0-9 -, at least two, at most 253 "  \
	  "characters, no wildcard (punycode for other scripts)")              \
	X(DOMAIN_IS_ADDRESS, "domain_is_address", 422,                         \
	  "claim a DNS name, not an IP address")                               \
	X(DOMAIN_RESERVED, "domain_reserved", 422,                             \
	  "names under the fleet's base domain are the tenants' public "       \
	  "hosts; claim a domain of your own")                                 \
	X(INVALID_QUOTA, "invalid_quota", 422,                                 \
	  "give quota as {\"turns_per_day\": N, \"tokens_per_month\": N}, "    \
	  "each a whole number >= 0 or null")                                  \
	X(ROTATION_INCOMPLETE, "rotation_incomplete", 500,                     \
	  "rotate again to finish re-wrapping the data keys")                  \
	X(CHAT_UPSTREAM, "chat_upstream", 502,                                 \
	  "the tenant's gateway failed or was not reached; check its health "  \
	  "and logs, then retry")                                              \
	X(OAUTH_ISSUER_MISMATCH, "oauth_issuer_mismatch", 502,                 \
	  "the authorization came back from another issuer; nothing was "      \
	  "stored")                                                            \
	X(OAUTH_SERVER_REFUSED, "oauth_server_refused", 502,                   \
	  "the MCP server's or authorization server's answer was refused "     \
	  "(the message says why); nothing was stored")                        \
	X(DASHBOARD_UNAVAILABLE, "dashboard_unavailable", 503,                 \
	  "install the dashboard's files, or use the API or clawctl")          \
	X(NODE_UNAVAILABLE, "node_unavailable", 503,                           \
	  "the tenant's node did not take or answer the request; check it "    \
	  "with clawctl nodes list and retry")

enum cp_error {
#define CP_X_ENUM(name, code, status, hint) CP_E_##name,
	CP_ERRORS(CP_X_ENUM)
#undef CP_X_ENUM
	CP_E__COUNT
};

/* Static, never NULL (an out-of-range value gives the shared "internal"). */
const struct claw_error_def *cp_error_def(enum cp_error e);

struct claw_http_req;
/* Send e with a printf message, or its hint when fmt is NULL. */
void cp_reply_error(struct claw_http_req *req, enum cp_error e, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));

#endif
