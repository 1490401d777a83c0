-- 0022_placement_plan.sql - each placement carries its deployment's plan
-- (cpus_milli, memory_mb) in two columns, kept by triggers, so finding a
-- node with room (controlplane/store/sched.c, cp_sched_pick) and a node's
-- use (store/nodes.c) sum integers of the placements instead of reading
-- every placed deployment's JSON spec (TOASTed, often kilobytes): a pick
-- cost one spec read per placement of the fleet, about 21 placements/s
-- toward 20,000 tenants (docs/benchmarks.md, "Fleet scale").
--   a placement made or given another deployment: its plan is copied in
--   (BEFORE INSERT OR UPDATE OF deployment_id);
--   a deployment's spec rewritten while pending (store/deploy.c): its
--   placements' plan follows.

ALTER TABLE placements
    ADD COLUMN plan_cpus_milli bigint NOT NULL DEFAULT 0,
    ADD COLUMN plan_memory_mb  bigint NOT NULL DEFAULT 0;

CREATE FUNCTION placement_plan() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    SELECT coalesce((d.spec->'plan'->>'cpus_milli')::bigint, 0),
           coalesce((d.spec->'plan'->>'memory_mb')::bigint, 0)
      INTO NEW.plan_cpus_milli, NEW.plan_memory_mb
      FROM deployments d WHERE d.id = NEW.deployment_id;
    RETURN NEW;
END
$$;

CREATE TRIGGER placements_plan
    BEFORE INSERT OR UPDATE OF deployment_id ON placements
    FOR EACH ROW EXECUTE FUNCTION placement_plan();

CREATE FUNCTION deployment_plan_changed() RETURNS trigger LANGUAGE plpgsql
AS $$
BEGIN
    UPDATE placements
       SET plan_cpus_milli =
               coalesce((NEW.spec->'plan'->>'cpus_milli')::bigint, 0),
           plan_memory_mb =
               coalesce((NEW.spec->'plan'->>'memory_mb')::bigint, 0)
     WHERE deployment_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER deployments_plan AFTER UPDATE OF spec ON deployments
    FOR EACH ROW
    WHEN (OLD.spec->'plan' IS DISTINCT FROM NEW.spec->'plan')
    EXECUTE FUNCTION deployment_plan_changed();

UPDATE placements p
   SET plan_cpus_milli = coalesce((d.spec->'plan'->>'cpus_milli')::bigint, 0),
       plan_memory_mb = coalesce((d.spec->'plan'->>'memory_mb')::bigint, 0)
  FROM deployments d WHERE d.id = p.deployment_id;
