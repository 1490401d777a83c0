/*
 * edge_limit.h - the edge's per-client-address connection limit.
 *
 * Caddy 2.6 (Debian's) has no such limit, so the kernel keeps it: an
 * nftables table of the agent's own, "inet claw_edge_<https port>", whose
 * input chain resets a new TCP connection to the edge's public listeners
 * (--edge-listen, --edge-http-listen; not the peer listener, which other
 * nodes' edges use) from an address that already holds
 * --edge-max-conns-per-ip of them (conntrack's count, IPv4 and IPv6 per
 * address). The table is loaded whole with `nft -f` (Debian's nftables),
 * replacing itself atomically, so loading it again is harmless; it is
 * loaded when the edge thread starts and again with each full certificate
 * pass (edge_caddy.c), and deleted when the agent stops. Other tables
 * (Docker's, the operator's firewall) are never touched. Needs
 * CAP_NET_ADMIN; where it cannot be set, the edge reports why in the
 * node's status and serves on without it.
 */
#ifndef NA_EDGE_LIMIT_H
#define NA_EDGE_LIMIT_H

#include <stdbool.h>
#include <stddef.h>

/* The ruleset text for the limit max on ports[0..n) (ports[0] the HTTPS
 * listener's, which names the table) into out; false when it does not
 * fit. A pure function (unit tested). */
bool na_edge_limit_rules(const unsigned *ports, size_t n, long max, char *out,
			 size_t outlen);

/* Load the table (max > 0) or delete it (max 0) through a file in
 * state_dir. 0, or -1 with err set. */
int na_edge_limit_apply(const char *state_dir, const unsigned *ports, size_t n,
			long max, char *err, size_t errlen);

#endif
