-- Grain: one row per (Model Lab run, metric key): the run's summary of that metric.
-- Answers: how a metric looks across runs, with each run's name, project and status alongside.
with metrics as (
    select * from datadog.model_lab_run_metrics
),

runs as (
    select * from datadog.model_lab_runs
)

select
    metrics.run_id,
    runs.name as run_name,
    runs.project_id,
    runs.status as run_status,
    runs.deleted_at is not null as is_run_deleted,
    runs.updated_at as run_updated_at,
    metrics.key as metric_key,
    metrics.latest as latest_value,
    metrics.min as min_value,
    metrics.max as max_value,
    metrics.mean as mean_value,
    metrics.stddev as stddev_value,
    metrics.count as value_count,
    metrics.first_step,
    metrics.last_step
from metrics
inner join runs on runs.id = metrics.run_id
