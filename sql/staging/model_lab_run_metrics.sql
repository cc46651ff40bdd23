-- Grain: one row per (Model Lab run, metric key) (datadog.model_lab_run_metrics).
-- Answers: each run's summary of each metric it logged, with the value columns named for what they hold.
select
    run_id,
    key as metric_key,
    latest as latest_value,
    min as min_value,
    max as max_value,
    mean as mean_value,
    stddev as stddev_value,
    count as value_count,
    first_step,
    last_step
from datadog.model_lab_run_metrics
