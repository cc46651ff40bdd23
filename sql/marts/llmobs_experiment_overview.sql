-- Grain: one row per LLM Observability experiment (soft-deleted ones included, flagged by is_deleted).
-- Answers: which experiment ran on which project and dataset version, who ran it, how it ended, how long it took.
with runs as (
    select
        experiment_id,
        count(*) as runs_synced,
        max(created_at) as last_run_at
    from staging.llmobs_experiment_runs
    group by experiment_id
)

select
    experiments.experiment_id,
    experiments.experiment_id_source,
    experiments.experiment_name,
    experiments.pipeline_name,
    experiments.project_id,
    projects.project_name,
    experiments.dataset_id,
    coalesce(experiments.dataset_name, datasets.dataset_name) as dataset_name,
    experiments.dataset_version,
    datasets.dataset_current_version,
    experiments.parent_experiment_id,
    experiments.status,
    experiments.is_finished,
    experiments.run_count,
    coalesce(runs.runs_synced, 0) as runs_synced,
    experiments.error,
    experiments.has_error,
    experiments.author_id,
    experiments.author_name,
    experiments.author_email,
    experiments.created_at,
    experiments.created_date,
    experiments.updated_at,
    experiments.deleted_at,
    experiments.is_deleted,
    -- experiments report no end time: a finished one lasted until its last run (or its last update)
    case
        when experiments.is_finished
            then date_part('epoch', coalesce(runs.last_run_at, experiments.updated_at) - experiments.created_at)
    end as duration_s
from staging.llmobs_experiments as experiments
left join staging.llmobs_projects as projects on projects.project_id = experiments.project_id
left join staging.llmobs_datasets as datasets on datasets.dataset_id = experiments.dataset_id
left join runs on runs.experiment_id = experiments.experiment_id
