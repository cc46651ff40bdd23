-- Grain: one row per topic-discovery run (datadog.topic_discovery_runs).
-- Answers: each run of a topic-discovery configuration, its lower-case status, its UTC date and the
-- configuration snapshot it ran with.
select
    id as run_id,
    config_id,
    lower(status) as status,
    created_at,
    completed_at,
    cast(created_at at time zone 'UTC' as date) as created_date,
    date_part('epoch', completed_at - created_at) as duration_s,
    evp_query,
    hierarchy_depth,
    num_records,
    sampling_ratio,
    model_name,
    integration_provider,
    account_id
from datadog.topic_discovery_runs
