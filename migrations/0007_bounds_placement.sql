-- 0007_bounds_placement.sql - two more bounds an operator sets on a tenant,
-- and the resolving phase of a deployment (docs/fleet.md, "Tenant bounds"
-- and "Agent config as code").
--
-- tenants.node_labels bounds the node_labels a tenant token may give a
-- deploy: an object of label names, each to the values allowed ('{}': a
-- tenant token may name no labels; placement is the operator's).
-- tenants.api_base_allow lists the channel base URLs (gateway_config
-- channels.*.api_base) a tenant token may set ('[]': none beyond the fleet
-- default config's): the gateway calls them directly, outside its egress
-- proxy.
--
-- A deployment with a git workspace is made in phase 'resolving' and
-- answered at once; a worker pins the ref's commit, then moves it to
-- 'pending' (and places it) or to 'failed'.

ALTER TABLE tenants
    ADD COLUMN node_labels jsonb NOT NULL DEFAULT '{}'
               CHECK (jsonb_typeof(node_labels) = 'object'),
    ADD COLUMN api_base_allow jsonb NOT NULL DEFAULT '[]'
               CHECK (jsonb_typeof(api_base_allow) = 'array');

ALTER TABLE deployments DROP CONSTRAINT deployments_phase_check;
ALTER TABLE deployments ADD CONSTRAINT deployments_phase_check
    CHECK (phase IN ('resolving', 'pending', 'pulling', 'starting',
                     'healthy', 'failed', 'superseded'));

CREATE INDEX deployments_resolving_idx ON deployments (updated_at)
    WHERE phase = 'resolving';
