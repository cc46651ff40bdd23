-- Grain: one row per Model Lab run (datadog.model_lab_runs), deleted runs included and flagged.
-- Answers: the runs as every Model Lab mart reads them: run_id, lower-case status with is_finished and
-- is_deleted, the UTC _date of each timestamp, and a duration in seconds even where the API omits it.
select
    id as run_id,
    name as run_name,
    description,
    project_id,
    owner_id,
    lower(status) as status,
    lower(status) in ('completed', 'failed', 'killed') as is_finished,
    deleted_at is not null as is_deleted,
    created_at,
    started_at,
    completed_at,
    updated_at,
    deleted_at,
    cast(created_at at time zone 'UTC' as date) as created_date,
    cast(started_at at time zone 'UTC' as date) as started_date,
    cast(completed_at at time zone 'UTC' as date) as completed_date,
    -- the API omits duration on some completed runs; fall back to the timestamps when both exist
    coalesce(duration, date_part('epoch', completed_at - started_at)) as duration_s,
    has_children,
    is_pinned,
    external_url,
    mlflow_artifact_location
from datadog.model_lab_runs
