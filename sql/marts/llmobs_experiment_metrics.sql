-- Grain: one row per (experiment, aggregate metric, statistic), for experiments that are not deleted.
-- Answers: the experiment-level scores (accuracy mean, latency p95, cost sum, ...) in a long form that
-- BI tools can chart, next to each experiment's name, project, dataset version and status. The rows
-- come from the top level of aggregate_data: a number is statistic 'value', an object gives one row
-- per numeric member.
select
    experiments.experiment_id,
    experiments.experiment_name,
    experiments.project_id,
    experiments.dataset_id,
    experiments.dataset_version,
    experiments.status,
    experiments.created_at,
    experiments.created_date,
    aggregates.metric_key,
    aggregates.statistic,
    aggregates.value
from staging.llmobs_experiment_aggregates as aggregates
inner join staging.llmobs_experiments as experiments on experiments.experiment_id = aggregates.experiment_id
where not experiments.is_deleted
