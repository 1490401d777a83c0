-- 0012_quota.sql - enforcing the plans' quotas (docs/fleet.md, "Quotas").
--
-- plans.quota_message: what a chat user reads when a quota of the plan is
-- used up (NULL: the fleet's default, docs/controlplane.md); 1-1024
-- bytes (PostgreSQL text is UTF-8 here, checked by the API too).
--
-- quota_state remembers, per tenant, whether each quota was exhausted
-- when last evaluated (after a usage report or a plan change), so
-- "quota.exhausted" and "quota.restored" are emitted once per crossing.
-- It goes with its tenant.

ALTER TABLE plans
    ADD COLUMN quota_message text
               CHECK (octet_length(quota_message) BETWEEN 1 AND 1024);

CREATE TABLE quota_state (
    tenant_id        text PRIMARY KEY
                     REFERENCES tenants (id) ON DELETE CASCADE,
    turns_exhausted  boolean NOT NULL DEFAULT false,
    tokens_exhausted boolean NOT NULL DEFAULT false,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- usage_hours.quota_refusals: messages the tenant's gateway refused
-- because a quota was used up, as its node agent reports them (the
-- "quota_refusals" of a usage report; docs/node-agent.md, "Quotas").
ALTER TABLE usage_hours
    ADD COLUMN quota_refusals bigint NOT NULL DEFAULT 0
               CHECK (quota_refusals >= 0);
