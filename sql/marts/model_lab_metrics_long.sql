-- Grain: one row per (Model Lab run, metric key): the run's summary of that metric.
-- Answers: how a metric looks across runs, with each run's name, project and status alongside.
select
    metrics.run_id,
    runs.run_name,
    runs.project_id,
    runs.status as run_status,
    runs.is_deleted as is_run_deleted,
    runs.updated_at as run_updated_at,
    metrics.metric_key,
    metrics.latest_value,
    metrics.min_value,
    metrics.max_value,
    metrics.mean_value,
    metrics.stddev_value,
    metrics.value_count,
    metrics.first_step,
    metrics.last_step
from staging.model_lab_run_metrics as metrics
inner join staging.model_lab_runs as runs on runs.run_id = metrics.run_id
