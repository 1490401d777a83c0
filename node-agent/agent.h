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
#include "docker_stream.h"
#include "files.h"
#include "pool.h"
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
	char *node_name;
	char *control_plane;
	char *join_token;
	char *labels;
	char *log_level;
	long probe_interval_ms;
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
	unsigned host_port; /* published (gateway) */
	bool healthy;
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
	unsigned long uid; /* its host uid (0: not given yet), uids.h */
	/* its disk (plan.disk_mb, disk.h): mounted at the size disk_mb for
	 * disk_uid in this run of the agent */
	bool disk_ok, disk_busy;
	int64_t disk_mb;
	unsigned long disk_uid;
	double disk_retry_at;
	unsigned disk_failures;
	bool net_ok;
	bool pull_busy, net_busy, removing; /* operations in flight */
	struct na_op *pull_op;      /* the pull in flight (its progress) */
	struct na_pull_totals pull; /* the last pull's progress (under mu) */
	struct na_inst inst[NA_ROLES];
	struct na_tenant *next;
};

#define NA_EVENT_QUEUE 256

struct na_agent {
	struct na_config cfg;
	struct na_docker docker;
	bool docker_ok;
	bool egress_ok;
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
	struct na_op *done;    /* finished operations, for the reconciler */
	double progress_woken; /* when a pull last woke the reconciler */

	/* reconcile thread only */
	struct na_desired desired;
	bool desired_known;
	struct na_tenant *tenants;
	json_t *history; /* tenant -> [pinned refs], oldest first */
	struct na_uids uids;
	double next_gc;
	bool gc_busy, egress_busy;
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

/* Threads. */
void *na_reconcile_main(void *agent);
void *na_events_main(void *agent);
void *na_source_file_main(void *agent);

/* Hand a new desired state to the reconciler (takes ownership). */
void na_agent_set_desired(struct na_agent *a, struct na_desired *d_steal);

/* A new reference to the last published observed state. */
json_t *na_agent_snapshot(struct na_agent *a);

#endif
