-- 0018_approval_audit.sql - the approvals' audit rows, each once.
--
-- Tool-call approvals live in the tenants' runtimes (runtime/approvals.c);
-- node agents report their requests and decisions (POST
-- /v1/agent/approvals, controlplane/api/approval_audit.c) and each becomes
-- one audit_log row: approval.request, then approval.decided or
-- approval.expired. A report comes again after a lost answer, a node
-- agent's or a runtime's restart, or a move of the tenant: this table's
-- key, one row per (tenant, approval, event), is taken in the same
-- transaction as the audit row, so a repeated event appends nothing.
-- event is 'request' or 'decision' (decided or expired: one outcome per
-- approval).

CREATE TABLE approval_audit (
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    approval_id text NOT NULL CHECK (approval_id ~ '^[a-z0-9_]{1,64}$'),
    event       text NOT NULL CHECK (event IN ('request', 'decision')),
    node_id     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, approval_id, event)
);
