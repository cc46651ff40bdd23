-- Grain: one row per Model Lab run (deleted runs included, flagged by is_deleted).
-- Answers: what ran in which project, how it ended, how long it took, and how much it logged.
with metric_counts as (
    select run_id, count(*) as metric_count
    from staging.model_lab_run_metrics
    group by run_id
),

param_counts as (
    select run_id, count(*) as param_count
    from staging.model_lab_run_params
    group by run_id
),

tag_counts as (
    select run_id, count(*) as tag_count
    from staging.model_lab_run_tags
    group by run_id
)

select
    runs.run_id,
    runs.run_name,
    runs.project_id,
    runs.status,
    runs.is_finished,
    runs.is_deleted,
    runs.owner_id,
    runs.created_at,
    runs.started_at,
    runs.completed_at,
    runs.updated_at,
    runs.deleted_at,
    runs.created_date,
    runs.duration_s,
    coalesce(metric_counts.metric_count, 0) as metric_count,
    coalesce(param_counts.param_count, 0) as param_count,
    coalesce(tag_counts.tag_count, 0) as tag_count,
    runs.has_children,
    runs.is_pinned,
    runs.external_url,
    runs.mlflow_artifact_location
from staging.model_lab_runs as runs
left join metric_counts on metric_counts.run_id = runs.run_id
left join param_counts on param_counts.run_id = runs.run_id
left join tag_counts on tag_counts.run_id = runs.run_id
