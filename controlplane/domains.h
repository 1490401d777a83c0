/*
 * domains.h - the names of the edge: a tenant's public host
 * ("<slug>.<base-domain>") and the custom domains a tenant claims
 * (docs/fleet.md, "Public addresses").
 *
 * A claimable domain is an RFC 1123 host name of at least two labels:
 * labels of 1 to 63 of a-z 0-9 -, not starting or ending with '-', 253
 * characters in all. Upper case is folded and one trailing dot dropped;
 * punycode (xn--) is just such a name. Refused: wildcards, anything
 * non-ASCII (send its punycode), an address (IPv4 in any inet_aton form,
 * which ends in a numeric label; IPv6, bracketed or not), and any name at
 * or under the fleet's base domain: those are the tenants' public hosts,
 * and a tenant must not take another's (or a future tenant's) slug.
 */
#ifndef CP_DOMAINS_H
#define CP_DOMAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

#define CP_DOMAIN_MAX 253
#define CP_DOMAINS_PER_TENANT 50

enum cp_domain_verdict {
	CP_DOMAIN_OK,
	CP_DOMAIN_MALFORMED, /* not a host name, or a wildcard */
	CP_DOMAIN_ADDRESS,   /* an IP address */
	CP_DOMAIN_RESERVED,  /* at or under the base domain */
};

/* Normalise in into out (lower case, no trailing dot) and judge it;
 * base is the fleet's base domain (normalised) or NULL. */
enum cp_domain_verdict cp_domain_check(const char *in, const char *base,
				       char out[CP_DOMAIN_MAX + 1]);

/* Whether in is a host name (one label or more) after the same
 * normalisation into out: the base-domain option's check. */
bool cp_domain_norm(const char *in, char out[CP_DOMAIN_MAX + 1]);

/* Whether name is base or a name under it. */
bool cp_domain_under(const char *name, const char *base);

/* The public host of a tenant, "<slug>.<base>", into out; false when no
 * base domain is set or it does not fit. */
bool cp_public_host(const char *slug, const char *base, char *out,
		    size_t outlen);

/* "https://<slug>.<base>/" into out; false when no base domain is set. */
#define CP_PUBLIC_URL_MAX (CP_DOMAIN_MAX + 16)
bool cp_public_url(const char *slug, const char *base, char *out,
		   size_t outlen);

/* The webhook URLs of a gateway config's enabled channels on the public
 * URL: {"telegram": "https://acme.example/telegram/webhook", ...} (a new
 * object; empty when public_url is NULL or no channel has an inbound
 * endpoint). Telegram only in webhook mode, Slack only in events mode;
 * "webchat" is the chat page and "openai" the API base. */
json_t *cp_webhook_urls(const json_t *channels, const char *public_url);

/* The longest edge address: "[" IPv6 "]:" port, or a host name and
 * ":PORT". */
#define CP_EDGE_ADDRESS_MAX 262
/* the most certificates a node's status may report (its edge's hosts) */
#define CP_EDGE_CERTS_MAX 100000

/* Whether s is an edge address a node may advertise: HOST:PORT with a
 * lower-case host name, a dotted IPv4 address or a bracketed IPv6
 * address, and a port of 1 to 65535. */
bool cp_edge_address_valid(const char *s);

#endif
