/*
 * edge_limit.c - the edge's per-client-address connection limit through
 * nftables; see edge_limit.h.
 */
#include "edge_limit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tool.h"

/* "claw_edge_PORT" (of family inet): the HTTPS port names it. */
static void table_name(const unsigned *ports, char *out, size_t outlen)
{
	snprintf(out, outlen, "claw_edge_%u", ports[0]);
}

bool na_edge_limit_rules(const unsigned *ports, size_t n, long max, char *out,
			 size_t outlen)
{
	char table[64], set[128] = "";
	size_t len = 0;
	int w;

	table_name(ports, table, sizeof(table));
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(set + len, sizeof(set) - len, "%s%u",
					i ? ", " : "", ports[i]);
		if (len >= sizeof(set))
			return false;
	}
	/* declaring the table first makes the delete valid when it does not
	 * exist yet: the file replaces it, whatever was there */
	w = snprintf(out, outlen,
		     "table inet %s\n"
		     "delete table inet %s\n"
		     "table inet %s {\n"
		     "\tset addrs4 { type ipv4_addr; size 65535; flags "
		     "dynamic; }\n"
		     "\tset addrs6 { type ipv6_addr; size 65535; flags "
		     "dynamic; }\n"
		     "\tchain input {\n"
		     "\t\ttype filter hook input priority filter; policy "
		     "accept;\n"
		     "\t\ttcp dport { %s } ct state new add @addrs4 { ip saddr "
		     "ct count over %ld } counter reject with tcp reset\n"
		     "\t\ttcp dport { %s } ct state new add @addrs6 { ip6 "
		     "saddr ct count over %ld } counter reject with tcp reset\n"
		     "\t}\n"
		     "}\n",
		     table, table, table, set, max, set, max);
	return w > 0 && (size_t)w < outlen;
}

static int write_file(const char *path, const char *text, char *err,
		      size_t errlen)
{
	size_t len = strlen(text);
	int fd = open(path,
		      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	bool ok = fd >= 0 && write(fd, text, len) == (ssize_t)len;

	if (!ok)
		snprintf(err, errlen, "unable to write %s: %s", path,
			 strerror(errno));
	if (fd >= 0 && close(fd) && ok) {
		snprintf(err, errlen, "unable to write %s: %s", path,
			 strerror(errno));
		ok = false;
	}
	return ok ? 0 : -1;
}

int na_edge_limit_apply(const char *state_dir, const unsigned *ports, size_t n,
			long max, char *err, size_t errlen)
{
	char path[4096], rules[2048], table[64], msg[512];
	char *load[] = {"nft", "-f", path, NULL};
	char *del[] = {"nft", "delete", "table", "inet", table, NULL};
	int st;

	table_name(ports, table, sizeof(table));
	if (max <= 0) {
		/* gone already is fine: nothing to say */
		na_tool_run(del, msg, sizeof(msg));
		return 0;
	}
	snprintf(path, sizeof(path), "%s/edge-limit.nft", state_dir);
	if (!na_edge_limit_rules(ports, n, max, rules, sizeof(rules))) {
		snprintf(err, errlen,
			 "the connection limit's rules are too "
			 "long");
		return -1;
	}
	if (write_file(path, rules, err, errlen))
		return -1;
	st = na_tool_run(load, msg, sizeof(msg));
	unlink(path);
	if (st) {
		snprintf(err, errlen,
			 "the per-address connection limit is not set (nft: "
			 "%.400s)",
			 msg);
		return -1;
	}
	return 0;
}
