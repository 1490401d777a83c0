/*
 * fuzz_router.c - the router (claw_route_find) on any method and path: a
 * match is exactly the path again when its captures are put back into the
 * pattern, each capture is one non-empty segment, a miss holds no
 * captures, and every capture is freed on release, matched or not
 * (LeakSanitizer fails the run otherwise).
 *
 * Input: the first byte picks the method, the rest (up to a NUL, as the
 * server receives it) is the path.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "claw/httpd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void h_none(struct claw_http_req *r, void *ctx)
{
	(void)r;
	(void)ctx;
}

/* The control plane's shapes, plus edges: the root, a capture at the
 * root, more captures than a match may hold, odd braces. */
static const struct claw_route routes[] = {
	{"GET", "/healthz", h_none, NULL},
	{"GET", "/v1/tenants", h_none, NULL},
	{"POST", "/v1/tenants", h_none, NULL},
	{"GET", "/v1/tenants/{t}", h_none, NULL},
	{"PATCH", "/v1/tenants/{t}", h_none, NULL},
	{"DELETE", "/v1/tenants/{t}", h_none, NULL},
	{"GET", "/v1/tenants/{t}/deployments", h_none, NULL},
	{"POST", "/v1/tenants/{t}/deployments", h_none, NULL},
	{"GET", "/v1/tenants/{t}/deployments/{id}", h_none, NULL},
	{"PUT", "/v1/tenants/{t}/secrets/{name}", h_none, NULL},
	{"DELETE", "/v1/tenants/{t}/secrets/{name}", h_none, NULL},
	{"POST", "/v1/nodes/{id}/cordon", h_none, NULL},
	{"GET", "/v1/agent/logs/{id}", h_none, NULL},
	{"GET", "/", h_none, NULL},
	{"GET", "/{a}", h_none, NULL},
	{"GET", "/x/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}/{i}", h_none, NULL},
	{"GET", "/y/{a}/{b}/{c}/{d}/{e}/{f}/{g}/{h}", h_none, NULL},
	{"GET", "/z/{}/{", h_none, NULL},
	{"GET", "/v1/a//b", h_none, NULL},
};
#define N_ROUTES (sizeof(routes) / sizeof(routes[0]))

static const char *const methods[] = {"GET",    "POST", "PUT",    "PATCH",
				      "DELETE", "HEAD", "OPTIONS"};

/* Put m's captures back into its route's pattern; 0 when that gives path
 * and every capture is one non-empty segment. */
static int rebuild_check(const struct claw_route_match *m, const char *path)
{
	char out[8192];
	size_t len = 0, k = 0;
	for (const char *p = m->route->pattern; *p;) {
		const char *seg = p;
		size_t w = (size_t)(strchrnul(p + 1, '/') - p);
		if (p[0] == '/' && p[1] == '{') {
			if (k >= m->n_params)
				return -1;
			const char *v = m->params[k].value;
			if (!v || !*v || strchr(v, '/'))
				return -1;
			if (m->params[k].name != p + 2)
				return -1;
			size_t vl = strlen(v);
			if (len + 1 + vl >= sizeof(out))
				return -1;
			out[len++] = '/';
			memcpy(out + len, v, vl);
			len += vl;
			k++;
		} else {
			if (len + w >= sizeof(out))
				return -1;
			memcpy(out + len, seg, w);
			len += w;
		}
		p += w;
	}
	out[len] = '\0';
	return k == m->n_params && strcmp(out, path) == 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct claw_route_match m;
	char path[4096];
	if (size == 0)
		return 0;
	const char *method =
		methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	size_t n = size - 1 < sizeof(path) - 1 ? size - 1 : sizeof(path) - 1;
	memcpy(path, data + 1, n);
	path[n] = '\0'; /* a NUL ends the path early, as in the server */

	if (claw_route_find(routes, N_ROUTES, method, path, &m) != 0)
		abort(); /* only out of memory */
	if (m.n_params > CLAW_HTTP_MAX_PARAMS)
		abort();
	if (strnlen(m.allow, sizeof(m.allow)) >= sizeof(m.allow))
		abort();
	if (m.route) {
		if (strcmp(m.route->method, method) != 0)
			abort();
		if (rebuild_check(&m, path) != 0)
			abort();
	} else if (m.n_params != 0) {
		abort();
	}
	claw_route_match_release(&m);
	if (m.n_params != 0 || m.route)
		abort();
	return 0;
}
