-- 0011_alerts.sql - alerts derived from fleet events and the operator's
-- notification targets (docs/alerts.md).
--
-- alert_targets: where notifications go (webhook, slack, email). config
-- holds what is not secret (URL of a webhook, SMTP URL, from, to,
-- username); the one secret of a target (the webhook's HMAC key, the
-- Slack webhook URL, the SMTP password) is sealed as tenant secrets are:
-- a data key of the target wrapped under a master key version (the
-- associated data binds "alert-target/ID" and that version) seals the value
-- (associated data: "alert-target/ID", name "secret", version 1).
--
-- alerts: one row per alert; at most one open (state 'firing') per kind
-- and subject, so the same failure seen twice is one alert (occurrences
-- counts it). A resolved row stays for GET /v1/alerts; resolve_summary
-- is what the resolving event said.
--
-- alert_deliveries: the outbox, one row per alert change and target. The
-- worker claims a due row by moving next_at forward (a lease), sends, and
-- records sent, or the next attempt with backoff, or failed.
--
-- alert_cursor: the last fleet event the worker has derived alerts from,
-- moved in the same transaction as the alerts it changed, so a restart
-- neither fires twice nor loses an event. Events are read in the order of
-- their transaction ids (fleet_events.xid, new here) and only below the
-- oldest transaction still running (pg_snapshot_xmin): an id taken by a
-- transaction that commits later than a higher id cannot be skipped, as a
-- cursor on the id alone would. It starts after every existing event:
-- history before this migration raises nothing.

CREATE TABLE alert_targets (
    id           text PRIMARY KEY CHECK (id ~ '^atg_[0-9a-f]{32}$'),
    name         text NOT NULL UNIQUE
                 CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    type         text NOT NULL CHECK (type IN ('webhook', 'slack', 'email')),
    config       jsonb NOT NULL DEFAULT '{}',
    kinds        text[],
    max_per_hour integer NOT NULL DEFAULT 60
                 CHECK (max_per_hour BETWEEN 1 AND 100000),
    mk_version   integer REFERENCES master_keys (version),
    wrapped_key  bytea CHECK (wrapped_key IS NULL OR length(wrapped_key) = 72),
    secret       bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((secret IS NULL) = (wrapped_key IS NULL)),
    CHECK ((secret IS NULL) = (mk_version IS NULL))
);

CREATE TABLE alerts (
    id           bigserial PRIMARY KEY,
    kind         text NOT NULL CHECK (kind ~ '^[a-z_]{1,40}$'),
    subject      text NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
    tenant_id    text,
    node_id      text,
    summary      text NOT NULL,
    resolve_summary text,
    data         jsonb NOT NULL DEFAULT '{}',
    state        text NOT NULL DEFAULT 'firing'
                 CHECK (state IN ('firing', 'resolved')),
    occurrences  integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    fired_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    resolved_at  timestamptz,
    CHECK ((state = 'resolved') = (resolved_at IS NOT NULL))
);

CREATE UNIQUE INDEX alerts_open_idx ON alerts (kind, subject)
    WHERE state = 'firing';
CREATE INDEX alerts_recent_idx ON alerts (coalesce(resolved_at, fired_at));

CREATE TABLE alert_deliveries (
    id         bigserial PRIMARY KEY,
    alert_id   bigint NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    target_id  text NOT NULL REFERENCES alert_targets (id) ON DELETE CASCADE,
    status     text NOT NULL CHECK (status IN ('firing', 'resolved')),
    state      text NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts   integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at    timestamptz NOT NULL DEFAULT now(),
    last_error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

CREATE INDEX alert_deliveries_due_idx ON alert_deliveries (next_at)
    WHERE state = 'pending';
CREATE INDEX alert_deliveries_target_idx
    ON alert_deliveries (target_id, created_at);

ALTER TABLE fleet_events
    ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
CREATE INDEX fleet_events_xid_idx ON fleet_events (xid, id);

CREATE TABLE alert_cursor (
    one           boolean PRIMARY KEY DEFAULT true CHECK (one),
    last_xid      xid8 NOT NULL,
    last_event_id bigint NOT NULL
);

INSERT INTO alert_cursor (last_xid, last_event_id)
    SELECT pg_current_xact_id(), coalesce(max(id), 0) FROM fleet_events;
