"""clawtest - shared helpers for the Python integration tests (stdlib only).

Modules:
  pg    PgCluster: a throwaway PostgreSQL cluster in a temp dir.
  proc  Daemon: start/stop a daemon, capture its output, wait for readiness.
  http  request()/Client: a small JSON HTTP client that never raises on 4xx/5xx.
  cp    ControlPlane: a claw-controlplane against a PgCluster (or embedded).
  docker DockerEnv, NodeAgent, tenant_spec: a Docker engine and registry
        (scripts/docker-env.sh), a claw-node-agent, desired-state documents.

Tests run with CLAW_BUILD_DIR and CLAW_SOURCE_DIR in the environment and
tests/integration on PYTHONPATH (see claw_add_py_test in cmake/claw.cmake).
Keep these interfaces stable: other components' tests import them.
"""
