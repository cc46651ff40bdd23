-- Grain: one row per run of an LLM Observability experiment (datadog.llmobs_experiment_runs).
-- Answers: when each experiment run was recorded (with its UTC date).
select
    id as experiment_run_id,
    experiment_id,
    run_number,
    created_at,
    cast(created_at at time zone 'UTC' as date) as created_date,
    coalesce(is_deleted, false) as is_deleted
from datadog.llmobs_experiment_runs
