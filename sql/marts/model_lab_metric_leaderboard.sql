-- Grain: one row per (project, metric key, run) for runs that are not deleted and logged a latest value.
-- Answers: where each run ranks within its project on each metric, highest-first and lowest-first
-- (which one is "best" depends on the metric: accuracy high, loss low).
with metrics as (
    select * from analytics.model_lab_metrics_long
    where not is_run_deleted and latest_value is not null
)

select
    project_id,
    metric_key,
    run_id,
    run_name,
    run_status,
    latest_value,
    rank() over (partition by project_id, metric_key order by latest_value desc) as rank_highest_first,
    rank() over (partition by project_id, metric_key order by latest_value asc) as rank_lowest_first,
    count(*) over (partition by project_id, metric_key) as runs_ranked
from metrics
