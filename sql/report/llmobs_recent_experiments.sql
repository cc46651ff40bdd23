-- Grain: one row per (experiment, metric, statistic) for the $limit most recent experiments with metrics.
-- Answers: the newest experiments that are not deleted, with their project, dataset, status, runs,
-- duration and creation time next to each of their aggregate metric values.
with recent as (
    select experiment_id
    from analytics.llmobs_experiment_overview
    where not is_deleted
        and experiment_id in (select experiment_id from analytics.llmobs_experiment_metrics)
    order by created_at desc, experiment_id
    limit $limit
)

select
    overview.experiment_id,
    overview.experiment_name || ' · ' || right(overview.experiment_id, 6) as experiment,
    overview.experiment_name,
    overview.project_name,
    overview.dataset_name || ' v' || overview.dataset_version as dataset,
    overview.status,
    overview.run_count,
    overview.duration_s,
    strftime(overview.created_at at time zone 'UTC', '%Y-%m-%d %H:%M') as created_utc,
    metrics.metric_key,
    metrics.statistic,
    metrics.value
from analytics.llmobs_experiment_overview as overview
inner join analytics.llmobs_experiment_metrics as metrics on metrics.experiment_id = overview.experiment_id
where overview.experiment_id in (select experiment_id from recent)
order by overview.created_at desc, overview.experiment_id, metrics.metric_key, metrics.statistic
