-- Grain: one row per LLM Observability experiment (soft-deleted ones included, flagged by is_deleted).
-- Answers: which experiment ran on which project and dataset version, who ran it, how it ended, how long it took.
with experiments as (
    select * from datadog.llmobs_experiments
),

projects as (
    select id, name from datadog.llmobs_projects
),

datasets as (
    select id, name, current_version from datadog.llmobs_datasets
),

runs as (
    select
        experiment_id,
        count(*) as runs_synced,
        max(created_at) as last_run_at
    from datadog.llmobs_experiment_runs
    group by experiment_id
)

select
    experiments.id as experiment_id,
    experiments.id_source as experiment_id_source,
    experiments.name as experiment_name,
    experiments.experiment as pipeline_name,
    experiments.project_id,
    projects.name as project_name,
    experiments.dataset_id,
    coalesce(experiments.dataset_name, datasets.name) as dataset_name,
    experiments.dataset_version,
    datasets.current_version as dataset_current_version,
    experiments.parent_experiment_id,
    experiments.status,
    experiments.status in ('completed', 'failed', 'interrupted') as is_finished,
    experiments.run_count,
    coalesce(runs.runs_synced, 0) as runs_synced,
    experiments.error,
    experiments.error is not null as has_error,
    experiments.author_id,
    experiments.author_name,
    experiments.author_email,
    experiments.created_at,
    experiments.updated_at,
    experiments.deleted_at,
    experiments.is_deleted,
    -- experiments report no end time: a finished one lasted until its last run (or its last update)
    case
        when experiments.status in ('completed', 'failed', 'interrupted')
            then date_part('epoch', coalesce(runs.last_run_at, experiments.updated_at) - experiments.created_at)
    end as duration_s
from experiments
left join projects on projects.id = experiments.project_id
left join datasets on datasets.id = experiments.dataset_id
left join runs on runs.experiment_id = experiments.id
