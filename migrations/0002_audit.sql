-- 0002_audit.sql - the tamper-evident audit log.
--
-- audit_log is append-only: a trigger refuses UPDATE, DELETE and TRUNCATE.
-- Each row's hash is BLAKE2b-256 over a canonical serialisation of its
-- fields (time as microseconds since the epoch, details as jsonb text) and
-- the previous row's hash (controlplane/audit.c). audit_chain_head holds the
-- last row's id and hash: appends lock it FOR UPDATE, so the chain cannot
-- fork, and verification compares it with the last row, so rows removed
-- from the end are found too.

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    time        timestamptz NOT NULL,
    actor_id    text,
    actor_role  text,
    action      text NOT NULL,
    target      text,
    tenant_id   text,
    request_id  text,
    source_addr text,
    details     jsonb,
    prev_hash   text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);

CREATE INDEX audit_log_tenant_idx ON audit_log (tenant_id, id);
CREATE INDEX audit_log_actor_idx ON audit_log (actor_id, id);
CREATE INDEX audit_log_action_idx ON audit_log (action, id);
CREATE INDEX audit_log_time_idx ON audit_log (time);

CREATE TABLE audit_chain_head (
    one       boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_id   bigint NOT NULL,
    last_hash text NOT NULL CHECK (last_hash ~ '^[0-9a-f]{64}$')
);

INSERT INTO audit_chain_head (one, last_id, last_hash)
VALUES (true, 0, repeat('0', 64));

CREATE FUNCTION audit_log_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_refuse_change();

-- The head only moves forward, one appended row at a time.
CREATE FUNCTION audit_chain_head_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' OR NEW.last_id <= OLD.last_id THEN
        RAISE EXCEPTION 'audit_chain_head only moves forward: % refused',
            TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_chain_head_forward_only
    BEFORE UPDATE OR DELETE ON audit_chain_head
    FOR EACH ROW EXECUTE FUNCTION audit_chain_head_forward();

CREATE TRIGGER audit_chain_head_no_truncate
    BEFORE TRUNCATE ON audit_chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION audit_chain_head_forward();
