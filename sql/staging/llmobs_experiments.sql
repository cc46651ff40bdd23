-- Grain: one row per LLM Observability experiment (datadog.llmobs_experiments), deleted ones included and flagged.
-- Answers: the experiments as every LLM Observability mart reads them: experiment_id, lower-case status with
-- is_finished, has_error, the UTC date it was created.
select
    id as experiment_id,
    id_source as experiment_id_source,
    name as experiment_name,
    description,
    experiment as pipeline_name,
    project_id,
    dataset_id,
    dataset_name,
    dataset_version,
    parent_experiment_id,
    lower(status) as status,
    lower(status) in ('completed', 'failed', 'interrupted') as is_finished,
    run_count,
    error,
    error is not null as has_error,
    author_id,
    author_name,
    author_email,
    created_at,
    updated_at,
    deleted_at,
    cast(created_at at time zone 'UTC' as date) as created_date,
    coalesce(is_deleted, false) as is_deleted
from datadog.llmobs_experiments
