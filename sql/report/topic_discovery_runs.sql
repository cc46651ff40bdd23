-- Grain: one row per topic-discovery run.
-- Answers: when each configuration ran and whether its configuration had changed since the run before.
select
    config_id,
    run_id,
    status,
    is_config_changed,
    evp_query,
    strftime(created_at at time zone 'UTC', '%Y-%m-%dT%H:%M:%SZ') as created
from analytics.topic_discovery_history
order by config_id, created_at
