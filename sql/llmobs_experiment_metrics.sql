-- Grain: one row per (experiment, aggregate metric, statistic), for experiments that are not deleted.
-- Answers: the experiment-level scores (accuracy mean, latency p95, cost sum, ...) in a long form that
-- BI tools can chart, next to each experiment's name, project, dataset version and status. The rows
-- come from the top level of aggregate_data: a number is statistic 'value', an object gives one row
-- per numeric member.
with aggregates as (
    select * from datadog.llmobs_experiment_aggregates
),

experiments as (
    select * from datadog.llmobs_experiments
    where not is_deleted
)

select
    experiments.id as experiment_id,
    experiments.name as experiment_name,
    experiments.project_id,
    experiments.dataset_id,
    experiments.dataset_version,
    experiments.status,
    experiments.created_at,
    aggregates.metric_key,
    aggregates.statistic,
    aggregates.value
from aggregates
inner join experiments on experiments.id = aggregates.experiment_id
