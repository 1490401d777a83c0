-- 0005_bounds.sql - what an operator allows a tenant: named plans, the
-- tenant's plan and egress bound, whether it may pause itself, and who
-- suspended it (docs/fleet.md, "Tenant bounds").
--
-- A plan is a named set of resource ceilings; a tenant without one (plan
-- NULL) has the built-in plan "default", made of the control plane's
-- default-* options, so it is never stored. A plan that tenants use cannot
-- be deleted (ON DELETE RESTRICT). Later quotas become further columns.
--
-- tenants.egress_allow bounds the egress_allow a tenant token may give its
-- gateway ('[]': none). tenants.suspended_by records a suspension:
-- 'operator' is a lock only admin and operator tokens lift; 'tenant' is a
-- pause the tenant made itself (only when self_pause allows it). It lives
-- on the tenant, not the placement, so undeploying and deploying again
-- does not lift it.

CREATE TABLE plans (
    name       text PRIMARY KEY
               CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'
                      AND name <> 'default'),
    cpus_milli bigint NOT NULL CHECK (cpus_milli BETWEEN 10 AND 256000),
    memory_mb  bigint NOT NULL CHECK (memory_mb BETWEEN 16 AND 1048576),
    pids       bigint NOT NULL CHECK (pids BETWEEN 8 AND 65536),
    disk_mb    bigint NOT NULL DEFAULT 0
               CHECK (disk_mb BETWEEN 0 AND 16777216),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE tenants
    ADD COLUMN plan text REFERENCES plans (name) ON DELETE RESTRICT,
    ADD COLUMN egress_allow jsonb NOT NULL DEFAULT '[]'
               CHECK (jsonb_typeof(egress_allow) = 'array'),
    ADD COLUMN self_pause boolean NOT NULL DEFAULT false,
    ADD COLUMN suspended_by text
               CHECK (suspended_by IN ('operator', 'tenant'));

CREATE INDEX tenants_plan_idx ON tenants (plan);

-- Suspensions made before this migration were an operator's (tenants could
-- not be told apart then): they become locks.
UPDATE tenants t SET suspended_by = 'operator'
FROM placements p
WHERE p.tenant_id = t.id AND p.state = 'suspended';
