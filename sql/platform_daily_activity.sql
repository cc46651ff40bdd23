-- Grain: one row per UTC day with activity on either platform.
-- Answers: LangSmith LLM usage next to Datadog Model Lab and LLM Observability experiment activity,
-- day by day, so one dashboard chart can show both platforms. Needs all three sources synced.
with langsmith_daily as (
    select
        cast(start_time at time zone 'UTC' as date) as activity_date,
        count(*) as langsmith_llm_calls,
        cast(coalesce(sum(total_tokens), 0) as bigint) as langsmith_total_tokens,
        cast(coalesce(sum(total_cost), 0) as double) as langsmith_cost_usd,
        count(*) filter (where lower(status) = 'error') as langsmith_llm_errors
    from langsmith.runs
    where lower(run_type) = 'llm'
    group by cast(start_time at time zone 'UTC' as date)
),

model_lab_started as (
    select cast(started_at at time zone 'UTC' as date) as activity_date, count(*) as model_lab_runs_started
    from datadog.model_lab_runs
    group by cast(started_at at time zone 'UTC' as date)
),

model_lab_completed as (
    select cast(completed_at at time zone 'UTC' as date) as activity_date, count(*) as model_lab_runs_completed
    from datadog.model_lab_runs
    where completed_at is not null
    group by cast(completed_at at time zone 'UTC' as date)
),

experiments_created as (
    select cast(created_at at time zone 'UTC' as date) as activity_date, count(*) as experiments_created
    from datadog.llmobs_experiments
    group by cast(created_at at time zone 'UTC' as date)
),

experiment_runs_created as (
    select cast(created_at at time zone 'UTC' as date) as activity_date, count(*) as experiment_runs
    from datadog.llmobs_experiment_runs
    group by cast(created_at at time zone 'UTC' as date)
),

days as (
    select activity_date from langsmith_daily
    union
    select activity_date from model_lab_started
    union
    select activity_date from model_lab_completed
    union
    select activity_date from experiments_created
    union
    select activity_date from experiment_runs_created
)

select
    days.activity_date,
    coalesce(langsmith_daily.langsmith_llm_calls, 0) as langsmith_llm_calls,
    coalesce(langsmith_daily.langsmith_llm_errors, 0) as langsmith_llm_errors,
    coalesce(langsmith_daily.langsmith_total_tokens, 0) as langsmith_total_tokens,
    coalesce(langsmith_daily.langsmith_cost_usd, 0) as langsmith_cost_usd,
    coalesce(model_lab_started.model_lab_runs_started, 0) as model_lab_runs_started,
    coalesce(model_lab_completed.model_lab_runs_completed, 0) as model_lab_runs_completed,
    coalesce(experiments_created.experiments_created, 0) as experiments_created,
    coalesce(experiment_runs_created.experiment_runs, 0) as experiment_runs
from days
left join langsmith_daily on langsmith_daily.activity_date = days.activity_date
left join model_lab_started on model_lab_started.activity_date = days.activity_date
left join model_lab_completed on model_lab_completed.activity_date = days.activity_date
left join experiments_created on experiments_created.activity_date = days.activity_date
left join experiment_runs_created on experiment_runs_created.activity_date = days.activity_date
where days.activity_date is not null
