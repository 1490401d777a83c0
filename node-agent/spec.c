/*
 * spec.c - JSON bodies of the Docker objects of a tenant; see spec.h.
 * Hardening lives here in one place: read-only root filesystem, the
 * tenant's own host uid (uids.h), every capability dropped,
 * no-new-privileges, an explicit seccomp profile (seccomp.h), pids/memory/
 * CPU limits from the plan, tmpfs scratch, no restart policy (the agent
 * restarts, with backoff), secrets and config bound read-only, the data
 * volume mounted without Docker's copy of the image's directory (which
 * would give it the image's owner instead of the tenant's).
 */
#include "spec.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void na_container_name(const char *tenant, enum na_role r, int slot, char *out,
		       size_t outlen)
{
	snprintf(out, outlen, "claw-%s-%s%s", tenant, na_role_name(r),
		 slot ? "-1" : "");
}

void na_network_name(const char *tenant, int slot, char *out, size_t outlen)
{
	snprintf(out, outlen, "claw-t-%s%s", tenant, slot ? "-1" : "");
}

unsigned na_role_port(enum na_role r)
{
	return r == NA_GATEWAY ? NA_GATEWAY_PORT : NA_RUNTIME_PORT;
}

json_t *na_spec_container(const struct na_tenant_spec *t, enum na_role r,
			  const char *image_ref,
			  const struct na_spec_paths *paths)
{
	char net[64], gen[32], bind_cfg[1024], bind_sec[1024], vol[96],
		port[16], user[48], uid[24], slot[4];
	na_network_name(t->tenant, paths->slot, net, sizeof(net));
	snprintf(slot, sizeof(slot), "%d", paths->slot ? 1 : 0);
	snprintf(gen, sizeof(gen), "%" PRId64, t->generation);
	snprintf(bind_cfg, sizeof(bind_cfg), "%s:/etc/claw/%s.json:ro",
		 paths->config_file, na_role_name(r));
	snprintf(bind_sec, sizeof(bind_sec), "%s:/run/claw/secrets:ro",
		 paths->secrets_dir);
	snprintf(vol, sizeof(vol), "%s", paths->volume);
	snprintf(user, sizeof(user), "%lu:%lu", paths->uid, paths->uid);
	snprintf(uid, sizeof(uid), "%lu", paths->uid);
	snprintf(port, sizeof(port), "%u/tcp", na_role_port(r));

	int64_t mem = t->memory_mb * 1024 * 1024;
	json_t *host = json_pack(
		"{s:b, s:[s], s:[s,s], s:I, s:I, s:I, s:I, s:{s:s},"
		" s:[s,s], s:[{s:s, s:s, s:s, s:{s:b}}], s:s, s:{s:s},"
		" s:{s:s, s:{s:s, s:s}}}",
		"ReadonlyRootfs", 1, "CapDrop", "ALL", "SecurityOpt",
		"no-new-privileges:true", paths->seccomp, "PidsLimit",
		(json_int_t)t->pids, "Memory", (json_int_t)mem, "MemorySwap",
		(json_int_t)mem, "NanoCpus", (json_int_t)(t->cpus * 1e9),
		"Tmpfs", "/tmp", "rw,noexec,nosuid,nodev,size=64m", "Binds",
		bind_cfg, bind_sec, "Mounts", "Type", "volume", "Source", vol,
		"Target", "/var/lib/claw", "VolumeOptions", "NoCopy", 1,
		"NetworkMode", net, "RestartPolicy", "Name", "no", "LogConfig",
		"Type", "json-file", "Config", "max-size", "10m", "max-file",
		"3");
	if (!host)
		return NULL;
	if (paths->peer_volume)
		json_array_append_new(
			json_object_get(host, "Mounts"),
			json_pack("{s:s, s:s, s:s, s:b, s:{s:b}}", "Type",
				  "volume", "Source", paths->peer_volume,
				  "Target", "/var/lib/claw-peer", "ReadOnly", 1,
				  "VolumeOptions", "NoCopy", 1));
	if (r == NA_GATEWAY && paths->publish_ip) {
		json_t *pb = json_pack("{s:[{s:s, s:s}]}", port, "HostIp",
				       paths->publish_ip, "HostPort", "");
		json_object_set_new(host, "PortBindings", pb);
	}
	json_t *body = json_pack(
		"{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
		" s:s}, s:{s:{}}, s:o, s:{s:{s:{s:[s]}}}}",
		"Image", image_ref, "User", user, "Labels", "claw.managed", "1",
		"claw.tenant", t->tenant, "claw.deployment", t->deployment,
		"claw.generation", gen, "claw.role", na_role_name(r),
		"claw.config-hash", paths->config_hash, "claw.node",
		paths->node, "claw.uid", uid, "claw.seccomp",
		paths->seccomp_hash, "claw.volume", vol, "ExposedPorts", port,
		"HostConfig", host, "NetworkingConfig", "EndpointsConfig", net,
		"Aliases", na_role_name(r));
	if (body)
		json_object_set_new(json_object_get(body, "Labels"),
				    "claw.slot", json_string(slot));
	if (body && r == NA_GATEWAY)
		json_object_set_new(
			json_object_get(body, "Labels"), "claw.edge",
			json_string(paths->edge_net ? paths->edge_net : ""));
	return body;
}

void na_volume_name(const char *tenant, enum na_role r, bool disk, int slot,
		    char *out, size_t outlen)
{
	snprintf(out, outlen, "claw-%s-%s%s-%s", tenant, na_role_name(r),
		 slot && r == NA_GATEWAY && !disk ? "-1" : "",
		 disk ? "disk" : "data");
}

json_t *na_spec_volume(const char *tenant, enum na_role r, int slot,
		       const char *node, unsigned long uid,
		       const char *bind_dir)
{
	char name[96], u[24];
	na_volume_name(tenant, r, bind_dir != NULL, slot, name, sizeof(name));
	snprintf(u, sizeof(u), "%lu", uid);
	json_t *v = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "Name",
			      name, "Driver", "local", "Labels", "claw.managed",
			      "1", "claw.node", node, "claw.tenant", tenant,
			      "claw.role", na_role_name(r), "claw.uid", u);
	if (v && bind_dir) {
		json_object_set_new(json_object_get(v, "Labels"), "claw.disk",
				    json_string("1"));
		json_object_set_new(v, "DriverOpts",
				    json_pack("{s:s, s:s, s:s}", "type", "none",
					      "o", "bind", "device", bind_dir));
	}
	return v;
}

json_t *na_spec_tenant_network(const char *tenant, int slot)
{
	char net[64];
	na_network_name(tenant, slot, net, sizeof(net));
	/* Internal: no default route, Docker drops traffic to other bridges. */
	return json_pack("{s:s, s:s, s:b, s:b, s:{s:s, s:s}}", "Name", net,
			 "Driver", "bridge", "Internal", 1, "CheckDuplicate", 1,
			 "Labels", "claw.managed", "1", "claw.tenant", tenant);
}

/* A network every gateway joins takes an address per gateway: a subnet
 * given (NULL: the engine's pool picks one of its usual size), checked by
 * the agent's flags (A.B.C.D/N), with its first address as the gateway,
 * which Docker would take too but not report (containers and up.sh read
 * the egress network's gateway as the host's address on it). */
static json_t *with_subnet(json_t *net, const char *subnet)
{
	char gw[INET_ADDRSTRLEN];
	struct in_addr in;
	uint32_t addr;
	if (!net || !subnet || !na_cidr_parse(subnet, &addr))
		return net;
	in.s_addr = htonl(addr + 1);
	inet_ntop(AF_INET, &in, gw, sizeof(gw));
	json_object_set_new(net, "IPAM",
			    json_pack("{s:s, s:[{s:s, s:s}]}", "Driver",
				      "default", "Config", "Subnet", subnet,
				      "Gateway", gw));
	return net;
}

bool na_cidr_parse(const char *cidr, uint32_t *net)
{
	char addr[INET_ADDRSTRLEN], *end = NULL;
	const char *slash = strchr(cidr, '/');
	struct in_addr in;
	long n = slash ? strtol(slash + 1, &end, 10) : -1;
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr) ||
	    slash[1] < '0' || slash[1] > '9' || *end || n < 8 || n > 30)
		return false;
	snprintf(addr, sizeof(addr), "%.*s", (int)(slash - cidr), cidr);
	if (inet_pton(AF_INET, addr, &in) != 1 ||
	    (ntohl(in.s_addr) & (~0u >> n)))
		return false;
	if (net)
		*net = ntohl(in.s_addr);
	return true;
}

json_t *na_spec_edge_network(const char *name, const char *subnet)
{
	/* Only the host (Caddy) and the gateways: no route out (internal),
	 * and gateways cannot reach each other (no ICC). */
	return with_subnet(
		json_pack("{s:s, s:s, s:b, s:b, s:{s:s}, s:{s:s, s:s}}", "Name",
			  name, "Driver", "bridge", "Internal", 1,
			  "CheckDuplicate", 1, "Options",
			  "com.docker.network.bridge.enable_icc", "false",
			  "Labels", "claw.managed", "1", "claw.edge", "1"),
		subnet);
}

json_t *na_spec_egress_network(const char *name, const char *subnet)
{
	/* Gateways reach out through it, but not each other (no ICC). */
	return with_subnet(json_pack("{s:s, s:s, s:b, s:{s:s}, s:{s:s}}",
				     "Name", name, "Driver", "bridge",
				     "CheckDuplicate", 1, "Options",
				     "com.docker.network.bridge.enable_icc",
				     "false", "Labels", "claw.managed", "1"),
			   subnet);
}
