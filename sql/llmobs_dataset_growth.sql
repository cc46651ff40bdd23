-- Grain: one row per (dataset, day on which records were added).
-- Answers: how each dataset grew over time (records added that day, running total), and which dataset
-- versions experiments had used by then next to the dataset's current version.
with records as (
    select dataset_id, date_trunc('day', created_at) as day, is_deleted
    from datadog.llmobs_dataset_records
),

daily as (
    select
        dataset_id,
        day,
        count(*) as records_added,
        count(*) filter (where is_deleted) as records_added_now_deleted
    from records
    group by dataset_id, day
),

datasets as (
    select id, name, current_version, is_deleted from datadog.llmobs_datasets
),

experiment_versions as (
    select dataset_id, date_trunc('day', created_at) as day, max(dataset_version) as max_version
    from datadog.llmobs_experiments
    group by dataset_id, date_trunc('day', created_at)
)

select
    daily.dataset_id,
    datasets.name as dataset_name,
    daily.day,
    daily.records_added,
    daily.records_added_now_deleted,
    cast(sum(daily.records_added) over (
        partition by daily.dataset_id order by daily.day rows between unbounded preceding and current row
    ) as bigint) as records_total,
    (
        select max(experiment_versions.max_version)
        from experiment_versions
        where experiment_versions.dataset_id = daily.dataset_id and experiment_versions.day <= daily.day
    ) as latest_version_used_by_experiments,
    datasets.current_version as dataset_current_version,
    coalesce(datasets.is_deleted, false) as is_dataset_deleted
from daily
left join datasets on datasets.id = daily.dataset_id
