-- Grain: one row per (experiment, aggregate metric, statistic) from the experiment's aggregate_data.
-- Answers: the experiment-level scores (accuracy mean, latency p95, cost sum, ...) in a long form that
-- BI tools can chart: a top-level number is statistic 'value'; a top-level object gives one row per
-- numeric member.
with experiments as (
    select id, name, project_id, dataset_id, dataset_version, status, created_at, aggregate_data
    from datadog.llmobs_experiments
    where not is_deleted and json_type(aggregate_data) = 'OBJECT'
),

metrics as (
    select
        id as experiment_id,
        name as experiment_name,
        project_id,
        dataset_id,
        dataset_version,
        status,
        created_at,
        unnest(json_keys(aggregate_data)) as metric_key,
        aggregate_data
    from experiments
),

metric_values as (
    select *, json_extract(aggregate_data, '$."' || metric_key || '"') as metric_value
    from metrics
),

scalars as (
    select *, 'value' as statistic, metric_value as statistic_value
    from metric_values
    where json_type(metric_value) in ('BIGINT', 'UBIGINT', 'DOUBLE')
),

objects as (
    select *, unnest(json_keys(metric_value)) as statistic
    from metric_values
    where json_type(metric_value) = 'OBJECT'
),

members as (
    select *, json_extract(metric_value, '$."' || statistic || '"') as statistic_value
    from objects
),

numeric_members as (
    select * from members
    where json_type(statistic_value) in ('BIGINT', 'UBIGINT', 'DOUBLE')
),

unioned as (
    select experiment_id, experiment_name, project_id, dataset_id, dataset_version, status, created_at,
        metric_key, statistic, statistic_value
    from scalars
    union all
    select experiment_id, experiment_name, project_id, dataset_id, dataset_version, status, created_at,
        metric_key, statistic, statistic_value
    from numeric_members
)

select
    experiment_id,
    experiment_name,
    project_id,
    dataset_id,
    dataset_version,
    status,
    created_at,
    metric_key,
    statistic,
    cast(statistic_value as double) as value
from unioned
