-- Grain: one row per (Model Lab run, parameter key) (datadog.model_lab_run_params).
-- Answers: the parameters each run was started with.
select
    run_id,
    key as param_key,
    value as param_value
from datadog.model_lab_run_params
