/*
 * agent.h - the node agent's state, shared by its threads:
 *
 *   reconcile thread  owns the tenants and decides every change to Docker;
 *                     it wakes on new desired state, on Docker events, on
 *                     finished operations and on its own timers (restarts,
 *                     probes). It never blocks on Docker or a probe: the
 *                     slow work goes to two worker pools (ops.h), whose
 *                     results come back to it, so tenants proceed
 *                     concurrently and a crash is handled at once.
 *   op workers        run Docker operations (pull, create and start,
 *                     signal, remove) on copies of their inputs.
 *   probe workers     run /healthz probes.
 *   events thread     follows Docker's /events and queues container exits.
 *   source thread     brings the desired state (a file, or the control
 *                     plane) and reports the observed state back.
 *   edge thread       (with --edge-admin) keeps Caddy's config equal to
 *                     the one the reconcile thread built (edge.h).
 *   HTTP threads      serve the local status and logs API from the last
 *                     published snapshot.
 *
 * Everything under "inputs" and "outputs" is guarded by mu.
 */
#ifndef NA_AGENT_H
#define NA_AGENT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "desired.h"
#include "docker.h"
#include "edge.h"
#include "docker_stream.h"
#include "files.h"
#include "pool.h"
#include "ready.h"
#include "threads.h" /* pthread_create is poisoned: use it */
#include "uids.h"

struct na_config {
	char *docker_socket;
	char *state_dir;
	char *secrets_dir;
	char *desired_file;
	char *api_socket; /* the local API's unix socket */
	char *api_group;  /* group that may open it too, or NULL */
	char *publish_ip;
	char *egress_network;
	char *egress_subnet; /* CIDR, or NULL: the engine's pool */
	char *node_name;
	char *control_plane;
	char *join_token;
	char *labels;
	char *log_level;
	long probe_interval_ms;
	long probe_stable_interval_ms;
	long probe_stable_after_ms;
	long startup_grace_ms;
	long backoff_ms;
	long backoff_max_ms;
	long healthy_reset_ms;
	long crash_loop_after;
	long image_keep;
	long poll_timeout_s;
	long heartbeat_ms;
	long capacity_cpus_milli;
	long capacity_memory_mb;
	long tenant_uid_base;  /* tenants' host uids: base .. */
	long tenant_uid_count; /* .. base + count - 1 */
	char *seccomp_profile; /* NULL: the built-in one */
	/* the edge (edge.h); edge_admin NULL: none, gateways published */
	char *edge_admin;
	char *edge_network;
	char *edge_subnet; /* CIDR, or NULL: the engine's pool */
	char *edge_listen;
	char *edge_http_listen;
	char *edge_peer_listen;
	char *edge_advertise;
	char *edge_tls;
	char *edge_cert;
	char *edge_key;
	char *edge_acme_ca;
	char *edge_acme_ca_root;
	char *edge_acme_email;
	char *edge_ask;
	long edge_poll_ms;
	long edge_cert_check_ms; /* the served certificates read this often */
	long edge_max_conns_per_ip; /* edge_limit.h; 0: none */
	long edge_max_body_kb;
	long edge_max_header_kb;
	long edge_header_timeout_ms;
	long edge_read_timeout_ms;
	long edge_idle_timeout_ms;
	long edge_drain_ms; /* an old pair's grace after its journal emptied */
	long gateway_wait_ms;   /* the runtime's wait for its gateway's proxy */
	long usage_interval_ms; /* runtimes' usage scraped this often */
};

/* The edge as the edge thread sees it (guarded by the agent's mu). */
struct na_edge_status {
	json_t *want;      /* the config to apply, from the reconcile thread */
	uint64_t want_seq; /* bumped with each new one */
	unsigned local, remote; /* its routes */
	char state[16];         /* off, pending, ok, down, refused */
	char error[512];        /* why it is down or refused */
	uint64_t loads;         /* configs Caddy took */
	uint64_t reloads;       /* of them, after Caddy restarted or drifted */
	uint64_t applied_seq;   /* the want_seq Caddy took last */
	char limit_error[512];  /* why the connection limit is not set, or
				* "" (edge_limit.h) */
	json_t *certs;       /* [{host, not_before, not_after} | {host, error}]:
			* what the edge serves (edge_caddy.c), or NULL */
	pthread_cond_t cond; /* wakes the edge thread */
};

struct na_op;

struct na_inst {
	char id[72];
	bool exists, running;
	int64_t generation;
	char deployment[72];
	char image[256];    /* the reference it was created from */
	char cfg_hash[65];  /* config+secrets it has been given */
	char ip[48];        /* on the tenant network */
	char edge_ip[48];   /* on the edge network (gateway) */
	char edge_net[64];  /* the edge network it was made for (claw.edge) */
	int slot;           /* 0 or 1 (claw.slot): its names and network */
	unsigned host_port; /* published (gateway) */
	bool healthy;
	bool ready;    /* its /readyz answered 200 at the last probe */
	bool proxy_ok; /* gateway: its egress proxy answered since it started */
	unsigned probe_fail;
	double started_at, healthy_since, next_probe, next_start;
	unsigned failures; /* since the last reset (drives backoff) */
	unsigned restarts; /* total, reported */
	int last_exit;
	bool crash_loop;
	bool stopped_by_us;
	bool busy;         /* a Docker operation on it is in flight */
	bool probing;      /* a probe is in flight */
	bool tail_pending; /* its log tail is being fetched */
	unsigned long uid; /* the host uid it runs as (claw.uid) */
	char seccomp[24];  /* its profile's hash (claw.seccomp) */
	char volume[96];   /* its data volume (claw.volume) */
	char stash_id[72]; /* a die event of a container being created */
	int stash_exit;
	char log_tail[1024];
};

struct na_tenant {
	char name[48];
	json_t *channels; /* its gateway's /readyz "channels", or NULL */
	bool desired;
	int64_t pinned_gen;
	char pinned_dep[72];
	char pinned[NA_ROLES][256];
	double pull_retry_at;
	unsigned pull_failures;
	char phase[16];
	char reason[512];
	char files_hash[NA_ROLES][65];
	unsigned long files_uid[NA_ROLES]; /* whose the files are */
	/* the hash of the desired files, computed once per desired state
	 * (desired_seq, from 1), not on every pass of the loop; 0: to be
	 * computed again (a tool server's address put into egress_allow) */
	char want_hash[NA_ROLES][65];
	uint64_t want_hash_seq;
	unsigned long uid; /* its host uid (0: not given yet), uids.h */
	/* its disk (plan.disk_mb, disk.h): mounted at the size disk_mb for
	 * disk_uid in this run of the agent */
	bool disk_ok, disk_busy;
	int64_t disk_mb;
	unsigned long disk_uid;
	double disk_retry_at;
	unsigned disk_failures;
	bool net_ok[2]; /* the tenant network of each slot */
	bool net_busy[2];
	/* a failed network operation is tried again after a backoff */
	double net_retry_at[2];
	unsigned net_failures[2];
	/* the engine connection (na_agent.engine_gen) in which each slot's
	 * network was last made sure of: the first time after a (re)connect
	 * or a lost event stream, a network none of whose containers runs is
	 * made anew (ops.c) */
	unsigned net_gen[2];
	/* what a retirement left unanswered in each slot's gateway volume
	 * (0: nothing known, -1: not known how much), reported */
	long journal_left[2];
	bool pull_busy, removing; /* operations in flight */
	/* Blue/green redeploys (edge on, edge.h): inst[] is the pair of slot
	 * `slot`, being started or serving; old[] the pair of the other slot
	 * that served before, kept until the edge routes to inst[] and its
	 * journal is empty, then retired. */
	int slot;
	int64_t newest; /* sync_from_docker: the newest generation listed */
	bool draining;
	struct na_inst old[NA_ROLES];
	uint64_t switch_seq; /* the edge config that routes to inst[] */
	bool drained;        /* the old gateway's journal is empty */
	double drain_next;   /* next look at it */
	double drain_since;  /* first look at it */
	long drain_depth;    /* what it said last (-1: not known) */
	bool revived;        /* the old pair, found dead, was started once */
	bool rescued;        /* ... and before the switch, to serve again */
	double drain_at;     /* retire the old pair then */
	bool drain_busy, retire_busy;
	struct na_op *pull_op;      /* the pull in flight (its progress) */
	struct na_pull_totals pull; /* the last pull's progress (under mu) */
	struct na_inst inst[NA_ROLES];
	struct na_ready ready; /* the pair's readiness window (ready.h) */
	long min_ready_ms;     /* the window, from the assignment */
	double gate_since;     /* the runtime waits for the gateway since */
	/* its assignment in the desired state of the last full pass */
	const struct na_tenant_spec *spec;
	struct na_tenant *next;
	struct na_tenant *hnext; /* the name index's chain */
};

#define NA_EVENT_QUEUE 256

struct na_agent {
	struct na_config cfg;
	struct na_docker docker;
	bool docker_ok;
	bool docker_synced;  /* the view of Docker was built once */
	bool live_restore;   /* the engine's, read at each connection */
	unsigned engine_gen; /* connections to the engine and losses of
			      * its event stream (reconcile thread) */
	/* the engine_gen the egress and edge networks were last made sure
	 * of in (made anew when none of their containers ran:
	 * dispatch_network); behind it, they are dispatched again before
	 * any tenant's work */
	unsigned egress_gen, edge_net_gen;
	double net_retry_at; /* the egress and edge networks' backoff */
	unsigned net_failures;
	struct na_edge_opts edge_opts; /* read-only after start */
	char edge_base[320];           /* the admin API's URL prefix */
	char edge_sock[128];           /* its unix socket, "" for TCP */
	char edge_listen_admin[160];   /* Caddy's admin.listen */
	struct na_files files;
	char *seccomp_opt; /* "seccomp=<profile>", read-only after start */
	char seccomp_hash[24];

	pthread_mutex_t mu;
	pthread_cond_t cond;
	/* inputs */
	bool stop;
	struct na_desired *next_desired; /* handed over by the source */
	bool resync;                     /* events stream was lost */
	struct na_event queue[NA_EVENT_QUEUE];
	size_t nq;
	bool queue_overflow;
	/* outputs */
	json_t *snapshot; /* observed state, replaced whole */
	uint64_t snapshot_seq;
	double published_at;   /* when the snapshot was last built */
	bool publish_pending;  /* a full pass ran since */
	uint64_t desired_seq;  /* bumped with each desired state taken */
	struct na_op *done;    /* finished operations, for the reconciler */
	double progress_woken; /* when a pull last woke the reconciler */
	struct na_edge_status edge;
	bool edge_dirty; /* the edge's state changed: publish again */

	/* reconcile thread only */
	struct na_desired desired;
	bool desired_known;
	struct na_tenant *tenants;
	/* the tenants by name: a chained hash (NULL until the first one,
	 * or when it could not be allocated: the list is searched) */
	struct na_tenant **tindex;
	size_t tindex_n, ntenants;
	/* when a full pass is due (its timers: starts, retries, windows); a
	 * probe result that changes nothing before then wakes a pass that
	 * only sends the probes that are due */
	double next_full;
	bool probes_due; /* the last full pass went as far as the probes */
	json_t *history; /* tenant -> [pinned refs], oldest first */
	struct na_uids uids;
	json_t *purge_done; /* purge.h: purged slugs done, of this desired */
	json_t *purge_busy; /* purge.h: purged slugs whose purge runs */
	double next_gc;
	bool gc_busy, egress_busy, edge_net_busy;
	json_t *edge_built; /* the last config handed to the edge thread */
	uint64_t edge_sig;  /* the signature of its inputs */
	struct na_pool ops, probes;
	unsigned inflight; /* operations submitted and not yet applied */
};

double na_now(void); /* monotonic seconds */

/* prefix + "filters=..." selecting this agent's containers (labels
 * claw.managed=1 and claw.node=NAME), for /containers/json, or for
 * /events (events: type container too). */
enum claw_rc na_agent_filter_path(const struct na_agent *a, const char *prefix,
				  bool events, char *out, size_t outlen);

/* Wake the reconcile thread (call with mu held). */
void na_agent_wake(struct na_agent *a);
/* Whether the agent is stopping (a->stop, read under mu). */
bool na_agent_stopping(struct na_agent *a);

/* Threads. */
void *na_reconcile_main(void *agent);
void *na_events_main(void *agent);
void *na_source_file_main(void *agent);

/* Hand a new desired state to the reconciler (takes ownership). */
void na_agent_set_desired(struct na_agent *a, struct na_desired *d_steal);

/* A new reference to the last published observed state. */
json_t *na_agent_snapshot(struct na_agent *a);

#endif
