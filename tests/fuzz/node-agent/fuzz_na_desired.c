/*
 * fuzz_na_desired.c - the desired-state parser, the container bodies
 * built from whatever it accepts, and the choice of registry credentials
 * for each of its images.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "desired.h"
#include "edge.h"
#include "registry.h"
#include "spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct na_desired d;
	char msg[256];
	if (na_desired_parse(&d, (const char *)data, size, msg, sizeof(msg)) ==
	    CLAW_OK) {
		struct na_spec_paths p = {.config_file = "/c",
					  .secrets_dir = "/s",
					  .publish_ip = "127.0.0.1",
					  .config_hash = "h",
					  .node = "n",
					  .uid = 2000000000,
					  .seccomp = "seccomp={}",
					  .seccomp_hash = "x",
					  .volume = "v",
					  .peer_volume = "p",
					  .edge_net = "claw-edge",
					  .slot = 1};
		for (size_t i = 0; i < d.n; i++)
			for (int r = 0; r < NA_ROLES; r++) {
				bool withheld;
				json_decref(na_spec_container(
					&d.tenants[i], (enum na_role)r,
					d.tenants[i].role[r].image, &p));
				na_image_auth_for(d.tenants[i].role[r].image,
						  d.tenants[i].registry_auth,
						  &withheld);
			}
		struct na_edge_opts o = {
			.admin_listen = "127.0.0.1:2019",
			.listen = ":443",
			.http_listen = ":80",
			.peer_listen = ":8444",
			.ask = d.n % 2 ? "http://127.0.0.1:1/ask" : NULL,
			.max_body_kb = 1,
			.max_header_kb = 1,
			.header_timeout_ms = 1,
			.read_timeout_ms = 1,
			.idle_timeout_ms = 1,
		};
		struct na_edge_site *s =
			calloc(d.n + d.n_routes + 1, sizeof(*s));
		size_t n = 0;
		for (size_t i = 0; s && i < d.n; i++)
			s[n++] = (struct na_edge_site){
				.tenant = d.tenants[i].tenant,
				.public_host = d.tenants[i].public_host,
				.domains = d.tenants[i].domains,
				.upstream = i % 2 ? "172.30.0.2:8080" : NULL};
		for (size_t i = 0; s && i < d.n_routes; i++)
			s[n++] = (struct na_edge_site){
				.tenant = d.routes[i].tenant,
				.domains = d.routes[i].hosts,
				.upstream = d.routes[i].upstream,
				.remote = true};
		if (s)
			json_decref(na_edge_config(&o, s, n));
		free(s);
	}
	na_desired_release(&d);
	return 0;
}
