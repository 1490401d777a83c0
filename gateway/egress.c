/*
 * egress.c - the egress proxy's decisions, pure so that the tests and the
 * fuzzer drive them: the allow-list's entries, which CONNECT targets the
 * list names, which addresses are internal, and the one resolution of a
 * target whose every address is checked.
 *
 * An entry is a name ("api.example.com:443", "*.example.com:443"), an
 * address ("10.0.0.5:8080", "[fd00::5]:8080") or a network
 * ("10.1.0.0/16:8080", "[fd00:1::/32]:8080"). Names match the CONNECT's
 * host by name; addresses and networks match an address literal and are
 * the only way to reach an internal address (loopback, private,
 * link-local, unique-local, unspecified, multicast, broadcast, reserved,
 * and the IPv6 forms that embed one: IPv4-mapped, NAT64, 6to4): a name on
 * the list whose DNS answer holds an internal address is refused unless
 * an address or network entry with the same port covers that address.
 * Addresses are compared as 16 bytes with IPv4 as ::ffff:a.b.c.d, and an
 * IPv4 entry covers only IPv4 (mapped) addresses, an IPv6 entry only IPv6
 * ones, so a short IPv6 prefix never names IPv4 space by accident.
 *
 * gw_egress_resolve resolves a target once and returns the addresses it
 * checked; the proxy dials exactly those, never the name again, so a DNS
 * answer that changes between the check and the dial (rebinding) reaches
 * nothing the check did not see.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "gw.h"

#define ENTRY_MAX 260
#define V4_MIN_PREFIX 8
#define V6_MIN_PREFIX 16

int (*gw_egress_getaddrinfo)(const char *node, const char *service,
			     const struct addrinfo *hints,
			     struct addrinfo **res) = getaddrinfo;

struct entry {
	unsigned port;
	bool addr;        /* an address or network, else a name */
	bool v4;          /* of an address entry */
	uint8_t net[16];  /* IPv4 mapped */
	unsigned prefix;  /* in bits of the 16 bytes */
	const char *name; /* of a name entry, namelen bytes */
	size_t namelen;
};

static const uint8_t mapped_prefix[12] = {0, 0, 0, 0, 0,    0,
					  0, 0, 0, 0, 0xff, 0xff};

static bool is_mapped(const uint8_t a[16])
{
	return memcmp(a, mapped_prefix, 12) == 0;
}

/* An address literal (no brackets, no prefix) of n bytes into the 16-byte
 * form; *v4 when it is IPv4 or IPv4-mapped. */
static bool addr_parse(const char *s, size_t n, uint8_t out[16], bool *v4)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in_addr a4;
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (inet_pton(AF_INET, buf, &a4) == 1) {
		memcpy(out, mapped_prefix, 12);
		memcpy(out + 12, &a4, 4);
		*v4 = true;
		return true;
	}
	if (inet_pton(AF_INET6, buf, out) == 1) {
		*v4 = is_mapped(out);
		return true;
	}
	return false;
}

/* "/len" after an address of family v4: the prefix in bits of the 16
 * bytes, or -1. */
static int prefix_parse(const char *s, size_t n, bool v4)
{
	int len = 0;
	if (n < 1 || n > 3)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		len = len * 10 + (s[i] - '0');
	}
	if (v4)
		return len < V4_MIN_PREFIX || len > 32 ? -1 : len + 96;
	return len < V6_MIN_PREFIX || len > 128 ? -1 : len;
}

/* The address part of an entry (brackets already removed): an address,
 * optionally "/len". */
static bool entry_addr(const char *h, size_t hl, struct entry *e)
{
	const char *slash = memchr(h, '/', hl);
	size_t al = slash ? (size_t)(slash - h) : hl;
	if (!addr_parse(h, al, e->net, &e->v4))
		return false;
	e->addr = true;
	e->prefix = 128;
	if (slash) {
		int p = prefix_parse(slash + 1, hl - al - 1, e->v4);
		if (p < 0)
			return false;
		e->prefix = (unsigned)p;
		/* the network's own address, host bits cleared */
		for (unsigned bit = e->prefix; bit < 128; bit++)
			e->net[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
	}
	return true;
}

/* A name: letters, digits, '-', '_' and dots, optionally "*." first. */
static bool entry_name(const char *h, size_t hl, struct entry *e)
{
	size_t i = 0;
	if (hl > 2 && h[0] == '*' && h[1] == '.')
		i = 2;
	if (i == hl)
		return false;
	for (; i < hl; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		      c == '_'))
			return false;
	}
	e->addr = false;
	e->name = h;
	e->namelen = hl;
	return true;
}

static bool entry_parse(const char *s, struct entry *e)
{
	size_t n = s ? strlen(s) : 0;
	const char *colon = s ? strrchr(s, ':') : NULL;
	unsigned long port = 0;
	memset(e, 0, sizeof(*e));
	if (!colon || colon == s || n > ENTRY_MAX || !colon[1])
		return false;
	for (const char *d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9')
			return false;
		port = port * 10 + (unsigned long)(*d - '0');
		if (port > 65535)
			return false;
	}
	if (!port)
		return false;
	e->port = (unsigned)port;
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[') /* [IPv6] or [IPv6/len] */
		return hl > 2 && s[hl - 1] == ']' &&
			entry_addr(s + 1, hl - 2, e) && !e->v4;
	if (memchr(s, ':', hl)) /* an IPv6 address without brackets */
		return entry_addr(s, hl, e) && !e->v4;
	if (entry_addr(s, hl, e))
		return e->v4;
	return !memchr(s, '/', hl) && entry_name(s, hl, e);
}

bool gw_egress_entry_valid(const char *entry)
{
	struct entry e;
	return entry_parse(entry, &e);
}

static bool covers(const struct entry *e, const uint8_t a[16], bool v4)
{
	if (e->v4 != v4)
		return false;
	unsigned full = e->prefix / 8, rest = e->prefix % 8;
	if (memcmp(e->net, a, full) != 0)
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xffu << (8 - rest));
	return (e->net[full] & mask) == (a[full] & mask);
}

bool gw_egress_addr_named(const json_t *allow, const uint8_t addr[16],
			  unsigned port)
{
	size_t i;
	json_t *v;
	struct entry e;
	bool v4 = is_mapped(addr);
	json_array_foreach(allow, i, v) {
		if (entry_parse(json_string_value(v), &e) && e.addr &&
		    e.port == port && covers(&e, addr, v4))
			return true;
	}
	return false;
}

bool gw_egress_allowed(const json_t *allow, const char *host, unsigned port)
{
	size_t i, hl = strlen(host);
	json_t *v;
	struct entry e;
	uint8_t a[16];
	bool v4;
	if (addr_parse(host, hl, a, &v4))
		return gw_egress_addr_named(allow, a, port);
	json_array_foreach(allow, i, v) {
		if (!entry_parse(json_string_value(v), &e) || e.addr ||
		    e.port != port)
			continue;
		if (e.namelen == hl && strncasecmp(e.name, host, hl) == 0)
			return true;
		/* "*.example.com" allows a.example.com, not example.com */
		if (e.namelen > 2 && e.name[0] == '*' && hl > e.namelen - 1 &&
		    strncasecmp(host + hl - (e.namelen - 1), e.name + 1,
				e.namelen - 1) == 0)
			return true;
	}
	return false;
}

struct range {
	uint32_t net;
	unsigned len;
	const char *why;
};

/* IPv4 space that is not the public internet (RFC 6890 and friends). */
static const struct range v4_ranges[] = {
	{0x00000000u, 8, "unspecified"},
	{0x0a000000u, 8, "private"},
	{0x64400000u, 10, "shared (carrier-grade NAT)"},
	{0x7f000000u, 8, "loopback"},
	{0xa9fe0000u, 16, "link-local"},
	{0xac100000u, 12, "private"},
	{0xc0000000u, 24, "reserved"},
	{0xc0a80000u, 16, "private"},
	{0xc6120000u, 15, "reserved"},
	{0xffffffffu, 32, "broadcast"},
	{0xe0000000u, 4, "multicast"},
	{0xf0000000u, 4, "reserved"},
};

static const char *v4_internal(const uint8_t b[4])
{
	uint32_t x = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
		(uint32_t)b[2] << 8 | b[3];
	for (size_t i = 0; i < sizeof(v4_ranges) / sizeof(v4_ranges[0]); i++) {
		uint32_t mask = 0xffffffffu << (32 - v4_ranges[i].len);
		if ((x & mask) == v4_ranges[i].net)
			return v4_ranges[i].why;
	}
	return NULL;
}

const char *gw_addr_internal(const uint8_t a[16])
{
	static const uint8_t zero[16];
	static const uint8_t nat64[12] = {0, 0x64, 0xff, 0x9b};
	if (is_mapped(a))
		return v4_internal(a + 12);
	if (memcmp(a, zero, 16) == 0)
		return "unspecified";
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return "loopback";
	if (memcmp(a, zero, 12) == 0)
		return "IPv4-compatible (deprecated)";
	if (a[0] == 0xff)
		return "multicast";
	if ((a[0] & 0xfe) == 0xfc)
		return "unique-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)
		return "link-local";
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0xc0)
		return "site-local (deprecated)";
	if (memcmp(a, nat64, 12) == 0) /* 64:ff9b::/96 embeds IPv4 */
		return v4_internal(a + 12);
	if (memcmp(a, nat64, 4) == 0 && a[4] == 0 && a[5] == 1)
		return "NAT64 local-use";
	if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 embeds IPv4 */
		return v4_internal(a + 2);
	if (a[0] == 0x01 && memcmp(a + 1, zero, 7) == 0)
		return "discard-only";
	return NULL;
}

/* A socket address as 16 bytes (IPv4 mapped); false for other families. */
static bool sockaddr_bytes(const struct sockaddr *sa, socklen_t len,
			   uint8_t out[16])
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
		memcpy(out, mapped_prefix, 12);
		memcpy(out + 12, &s->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)sa;
		memcpy(out, &s->sin6_addr, 16);
		return true;
	}
	return false;
}

enum claw_rc gw_egress_resolve(const json_t *allow, const char *host,
			       unsigned port, struct addrinfo **out, char *why,
			       size_t whylen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV},
			*ai = NULL;
	char ps[8], text[INET6_ADDRSTRLEN];
	uint8_t a[16];
	bool v4;
	*out = NULL;
	why[0] = '\0';
	if (addr_parse(host, strlen(host), a, &v4))
		hints.ai_flags |= AI_NUMERICHOST; /* never ask DNS */
	snprintf(ps, sizeof(ps), "%u", port);
	if (gw_egress_getaddrinfo(host, ps, &hints, &ai) || !ai) {
		snprintf(why, whylen, "%s does not resolve", host);
		return CLAW_ERR_NOT_FOUND;
	}
	for (const struct addrinfo *p = ai; p; p = p->ai_next) {
		const char *kind = "not an IP address";
		if (sockaddr_bytes(p->ai_addr, p->ai_addrlen, a)) {
			kind = gw_addr_internal(a);
			if (!kind || gw_egress_addr_named(allow, a, port))
				continue;
			inet_ntop(AF_INET6, a, text, sizeof(text));
			snprintf(why, whylen, "%s is %s",
				 is_mapped(a) ? text + 7 : text, kind);
		} else {
			snprintf(why, whylen, "an address is %s", kind);
		}
		freeaddrinfo(ai);
		return CLAW_ERR_INVALID;
	}
	*out = ai;
	return CLAW_OK;
}
