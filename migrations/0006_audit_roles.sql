-- 0006_audit_roles.sql - the daemon's database role can only add to the
-- audit log; the chain head keeps itself and counts the rows.
--
-- The control plane runs as two PostgreSQL roles (docs/security.md): the
-- owner, which applies these migrations and owns every object, and the app
-- role the daemon serves with. After each start's migrations the owner runs
-- claw_grant_app(app role) (controlplane/db_roles.c): the app role gets
-- SELECT, INSERT, UPDATE and DELETE on the tables of the schema, except
-- audit_log (SELECT and INSERT only), audit_chain_head and
-- schema_migrations (SELECT only). It cannot UPDATE, DELETE or TRUNCATE an
-- audit table, nor disable their triggers (only the owner can).
--
-- audit_chain_head now follows the rows by itself: a trigger that runs as
-- the owner (SECURITY DEFINER) checks that each inserted row extends the
-- head (prev_hash is the head's hash, the id is above the head's) and moves
-- the head to it, counting the rows in row_count. The daemon locks the head
-- through audit_head_lock(), also SECURITY DEFINER, so it needs no UPDATE
-- on it. Checkpoints (controlplane/checkpoint.c) sign last_id, row_count and
-- last_hash, outside the database.
--
-- Both SECURITY DEFINER functions get a search_path of pg_catalog, this
-- schema, pg_temp: a temporary table of the caller cannot stand in for
-- audit_chain_head.

ALTER TABLE audit_chain_head
    ADD COLUMN row_count bigint NOT NULL DEFAULT 0 CHECK (row_count >= 0);

ALTER TABLE audit_chain_head DISABLE TRIGGER audit_chain_head_forward_only;
UPDATE audit_chain_head SET row_count = (SELECT count(*) FROM audit_log);
ALTER TABLE audit_chain_head ENABLE TRIGGER audit_chain_head_forward_only;

-- The head only moves forward: a later row and one more row.
CREATE OR REPLACE FUNCTION audit_chain_head_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'UPDATE' THEN
        RAISE EXCEPTION 'audit_chain_head only moves forward: % refused',
            TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF NEW.last_id <= OLD.last_id OR NEW.row_count <= OLD.row_count THEN
        RAISE EXCEPTION 'audit_chain_head only moves forward: % refused',
            TG_OP USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END;
$$;

-- Lock the head until the transaction ends and return it (the append's
-- first step, controlplane/store/audit_append.c).
CREATE FUNCTION audit_head_lock()
RETURNS TABLE (last_id bigint, last_hash text, row_count bigint)
LANGUAGE sql SECURITY DEFINER AS $$
    SELECT h.last_id, h.last_hash, h.row_count
    FROM audit_chain_head h FOR UPDATE
$$;

-- Every inserted row must extend the head; the head moves to it.
CREATE FUNCTION audit_log_extend_head() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
    h record;
BEGIN
    SELECT c.last_id, c.last_hash, c.row_count INTO h
    FROM audit_chain_head c FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'audit_chain_head is missing'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.id <= h.last_id OR NEW.prev_hash IS DISTINCT FROM h.last_hash THEN
        RAISE EXCEPTION 'audit row % does not extend the chain head (row %)',
            NEW.id, h.last_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    UPDATE audit_chain_head
    SET last_id = NEW.id, last_hash = NEW.hash, row_count = h.row_count + 1;
    RETURN NEW;
END;
$$;

CREATE TRIGGER audit_log_extend_head
    BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_extend_head();

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_head_lock() '
                   'SET search_path = pg_catalog, %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION audit_log_extend_head() '
                   'SET search_path = pg_catalog, %I, pg_temp',
                   current_schema());
END;
$$;

REVOKE ALL ON FUNCTION audit_head_lock() FROM PUBLIC;
REVOKE ALL ON FUNCTION audit_log_extend_head() FROM PUBLIC;

-- Grant the app role what the daemon needs, and no more; run by the owner
-- after every start's migrations, so tables of later migrations are
-- covered. A later table with other needs replaces this function in its
-- migration.
CREATE FUNCTION claw_grant_app(app name) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    s name := current_schema();
    r record;
BEGIN
    IF app IS NULL OR app = current_user THEN
        RAISE EXCEPTION 'the app role must not be the owner role %',
            current_user USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = app) THEN
        RAISE EXCEPTION 'role % does not exist', app
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles
               WHERE rolname = app AND (rolsuper OR rolbypassrls)) THEN
        RAISE EXCEPTION 'the app role % is a superuser or bypasses row '
            'security; it could change the audit log', app
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_has_role(app, current_user, 'MEMBER') THEN
        RAISE EXCEPTION 'the app role % is a member of the owner role %',
            app, current_user USING ERRCODE = 'invalid_parameter_value';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', s, app);
    FOR r IN SELECT c.relname, c.relkind FROM pg_class c
             JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = s
               AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') LOOP
        EXECUTE format('REVOKE ALL ON %I.%I FROM %I', s, r.relname, app);
        IF r.relkind = 'S' THEN
            EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE %I.%I TO %I',
                           s, r.relname, app);
        ELSIF r.relname = 'audit_log' THEN
            EXECUTE format('GRANT SELECT, INSERT ON %I.%I TO %I',
                           s, r.relname, app);
        ELSIF r.relname IN ('audit_chain_head', 'schema_migrations')
              OR r.relkind IN ('v', 'm') THEN
            EXECUTE format('GRANT SELECT ON %I.%I TO %I', s, r.relname, app);
        ELSE
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %I.%I '
                           'TO %I', s, r.relname, app);
        END IF;
    END LOOP;
    EXECUTE format('GRANT EXECUTE ON FUNCTION %I.audit_head_lock() TO %I',
                   s, app);
END;
$$;

REVOKE ALL ON FUNCTION claw_grant_app(name) FROM PUBLIC;
