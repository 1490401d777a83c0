-- 0010_usage.sql - each tenant's use as its node agent reports it, and the
-- quotas a plan carries (docs/fleet.md, "Usage").
--
-- usage_hours holds one row per tenant, hour (UTC, the start of the hour)
-- and provider. The row of provider '' holds the tenant's own counters
-- (turns, messages, tool calls); a provider's row its requests, errors and
-- tokens. A report adds its deltas to the rows of its hour (an upsert
-- that adds), so day and month sums are sums of hours.
--
-- usage_reports remembers the ids of the reports each node sent (the id a
-- report may carry), so a report sent again after a lost reply is ignored;
-- ids older than 7 days are forgotten as the node sends more. Refusals (a
-- report about a tenant not placed on the node) are counted per node in
-- usage_refusals; it keeps its counts when a node goes.
--
-- plans.quota_turns_per_day and plans.quota_tokens_per_month (input and
-- output tokens of all providers, per calendar month in UTC); NULL: no
-- quota.

CREATE TABLE usage_hours (
    tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    hour          timestamptz NOT NULL,
    provider      text NOT NULL DEFAULT ''
                  CHECK (provider ~ '^[A-Za-z0-9_.:-]{0,64}$'),
    turns         bigint NOT NULL DEFAULT 0 CHECK (turns >= 0),
    messages_in   bigint NOT NULL DEFAULT 0 CHECK (messages_in >= 0),
    messages_out  bigint NOT NULL DEFAULT 0 CHECK (messages_out >= 0),
    tool_calls    bigint NOT NULL DEFAULT 0 CHECK (tool_calls >= 0),
    tool_errors   bigint NOT NULL DEFAULT 0 CHECK (tool_errors >= 0),
    requests      bigint NOT NULL DEFAULT 0 CHECK (requests >= 0),
    errors        bigint NOT NULL DEFAULT 0 CHECK (errors >= 0),
    input_tokens  bigint NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens bigint NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    PRIMARY KEY (tenant_id, hour, provider)
);

CREATE INDEX usage_hours_hour ON usage_hours (hour);

CREATE TABLE usage_reports (
    node_id     text NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    report_id   text NOT NULL
                CHECK (report_id ~ '^[A-Za-z0-9_.:-]{1,64}$'),
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, report_id)
);

CREATE INDEX usage_reports_received ON usage_reports (node_id, received_at);

CREATE TABLE usage_refusals (
    node_id    text PRIMARY KEY,
    refused    bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE plans
    ADD COLUMN quota_turns_per_day bigint
               CHECK (quota_turns_per_day >= 0),
    ADD COLUMN quota_tokens_per_month bigint
               CHECK (quota_tokens_per_month >= 0);
