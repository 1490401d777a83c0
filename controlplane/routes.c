/*
 * routes.c - the one route table of the daemon: every api/ file's routes
 * concatenated. To add a file's routes: one CP_ROUTES_DECLARE line in
 * api/api.h and one SET line below.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api.h"

struct route_set {
	const struct claw_route *routes;
	const size_t *n;
};

#define SET(x)                                                                 \
	{                                                                      \
		cp_routes_##x, &cp_routes_##x##_n                              \
	}

static const struct route_set sets[] = {
	SET(ops),       SET(tenants),        SET(tokens),
	SET(secrets),   SET(audit),          SET(keys),
	SET(web),       SET(nodes),          SET(agent),
	SET(deploy),    SET(events),         SET(logs),
	SET(plans),     SET(domains),        SET(usage),
	SET(rollouts),  SET(alerts),         SET(chat),
	SET(resources), SET(templates),      SET(approvals),
	SET(oauth),     SET(approval_audit),
};

int cp_routes_build(struct claw_route **out, size_t *n)
{
	size_t total = 0, at = 0;
	struct claw_route *all;

	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++)
		total += *sets[i].n;
	all = calloc(total, sizeof(*all));
	if (!all)
		return -1;
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		memcpy(all + at, sets[i].routes, *sets[i].n * sizeof(*all));
		at += *sets[i].n;
	}
	*out = all;
	*n = total;
	return 0;
}
