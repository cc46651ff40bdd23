-- Grain: one row per (dataset, UTC day on which records were added).
-- Answers: how each dataset grew over time (records added that day, running total), and which dataset
-- versions experiments had used by then next to the dataset's current version.
with daily as (
    select
        dataset_id,
        created_date as day,
        count(*) as records_added,
        count(*) filter (where is_deleted) as records_added_now_deleted
    from staging.llmobs_dataset_records
    group by dataset_id, created_date
),

experiment_versions as (
    select dataset_id, created_date as day, max(dataset_version) as max_version
    from staging.llmobs_experiments
    group by dataset_id, created_date
)

select
    daily.dataset_id,
    datasets.dataset_name,
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
    datasets.dataset_current_version,
    coalesce(datasets.is_deleted, false) as is_dataset_deleted
from daily
left join staging.llmobs_datasets as datasets on datasets.dataset_id = daily.dataset_id
