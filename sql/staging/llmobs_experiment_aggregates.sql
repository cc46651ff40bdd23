-- Grain: one row per (experiment, aggregate metric, statistic) (datadog.llmobs_experiment_aggregates).
-- Answers: the experiment-level scores, one number per metric and statistic ('value' for a plain number).
select
    experiment_id,
    metric_key,
    lower(statistic) as statistic,
    value
from datadog.llmobs_experiment_aggregates
