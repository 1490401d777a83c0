"""clawtest - shared helpers for the Python integration tests (stdlib only).

Modules:
  pg    PgCluster: a throwaway PostgreSQL cluster in a temp dir.
  proc  Daemon: start/stop a daemon, capture its output, wait for readiness;
        stop_process() ends any subprocess, wait_for() polls.
  http  request()/Client: a small JSON HTTP client that never raises on
        4xx/5xx; http_get(), free_port(), read_head().
  cp    ControlPlane: a claw-controlplane against a PgCluster (or embedded);
        with_pg(), default_image_args(), stop_clean().
  docker DockerEnv, NodeAgent, tenant_spec: a Docker engine and registry
        (scripts/docker-env.sh), a claw-node-agent, desired-state documents;
        AgentProcess, the one node-agent launcher (fleet.FleetAgent is it
        too), agent_for(), HealthsrvCase/healthsrv_images(), uniq().
  fakehttp Handler/Server/serve(): the bones of the fake HTTP services.
  repo  init_repo()/git_in(): a git repository with one commit, for the
        workspace tests.
  edge  a real Caddy (admin API on TCP or a unix socket), pebble with
        pebble-challtestsrv, local backends, HTTPS with a chosen name.

Tests run with CLAW_BUILD_DIR and CLAW_SOURCE_DIR in the environment and
tests/integration on PYTHONPATH (see claw_add_py_test in cmake/claw.cmake).
Keep these interfaces stable: other components' tests import them.
"""
