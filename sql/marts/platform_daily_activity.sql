-- Grain: one row per UTC day with activity on either platform.
-- Answers: LangSmith LLM usage next to Datadog Model Lab and LLM Observability experiment activity,
-- day by day, so one dashboard chart can show both platforms. Needs all three sources synced.
with langsmith_daily as (
    select
        started_date as day,
        count(*) as langsmith_llm_calls,
        cast(coalesce(sum(total_tokens), 0) as bigint) as langsmith_total_tokens,
        cast(coalesce(sum(cost_usd), 0) as double) as langsmith_cost_usd,
        count(*) filter (where is_error) as langsmith_llm_errors
    from staging.langsmith_runs
    where is_llm_call
    group by started_date
),

model_lab_started as (
    select started_date as day, count(*) as model_lab_runs_started
    from staging.model_lab_runs
    group by started_date
),

model_lab_completed as (
    select completed_date as day, count(*) as model_lab_runs_completed
    from staging.model_lab_runs
    where completed_date is not null
    group by completed_date
),

experiments_created as (
    select created_date as day, count(*) as experiments_created
    from staging.llmobs_experiments
    group by created_date
),

experiment_runs_created as (
    select created_date as day, count(*) as experiment_runs
    from staging.llmobs_experiment_runs
    group by created_date
),

days as (
    select day from langsmith_daily
    union
    select day from model_lab_started
    union
    select day from model_lab_completed
    union
    select day from experiments_created
    union
    select day from experiment_runs_created
)

select
    days.day,
    coalesce(langsmith_daily.langsmith_llm_calls, 0) as langsmith_llm_calls,
    coalesce(langsmith_daily.langsmith_llm_errors, 0) as langsmith_llm_errors,
    coalesce(langsmith_daily.langsmith_total_tokens, 0) as langsmith_total_tokens,
    coalesce(langsmith_daily.langsmith_cost_usd, 0) as langsmith_cost_usd,
    coalesce(model_lab_started.model_lab_runs_started, 0) as model_lab_runs_started,
    coalesce(model_lab_completed.model_lab_runs_completed, 0) as model_lab_runs_completed,
    coalesce(experiments_created.experiments_created, 0) as experiments_created,
    coalesce(experiment_runs_created.experiment_runs, 0) as experiment_runs
from days
left join langsmith_daily on langsmith_daily.day = days.day
left join model_lab_started on model_lab_started.day = days.day
left join model_lab_completed on model_lab_completed.day = days.day
left join experiments_created on experiments_created.day = days.day
left join experiment_runs_created on experiment_runs_created.day = days.day
where days.day is not null
