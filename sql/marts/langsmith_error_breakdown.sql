-- Grain: one row per (UTC day, LangSmith project, run type, run name).
-- Answers: which steps fail, how often and with what: runs and errors per day, the error rate
-- among finished runs, how many different error messages, and the latest one (its first line).
with counts as (
    select
        started_date as day,
        project_id,
        run_type,
        run_name,
        count(*) as run_count,
        count(*) filter (where is_finished) as finished_count,
        count(*) filter (where is_error) as error_count,
        count(distinct error_message) filter (where is_error) as distinct_error_count,
        max(started_at) filter (where is_error) as last_error_at
    from staging.langsmith_runs
    group by started_date, project_id, run_type, run_name
),

latest_errors as (
    select
        started_date as day,
        project_id,
        run_type,
        run_name,
        error_message,
        row_number() over (
            partition by started_date, project_id, run_type, run_name
            order by started_at desc, error_message
        ) as recency
    from staging.langsmith_runs
    where is_error
)

select
    counts.day,
    counts.project_id,
    counts.run_type,
    counts.run_name,
    counts.run_count,
    counts.finished_count,
    counts.error_count,
    cast(counts.error_count as double) / nullif(counts.finished_count, 0) as error_rate,
    counts.distinct_error_count,
    counts.last_error_at,
    latest_errors.error_message as latest_error_message
from counts
left join latest_errors
    on latest_errors.day = counts.day
    and latest_errors.project_id is not distinct from counts.project_id
    and latest_errors.run_type is not distinct from counts.run_type
    and latest_errors.run_name is not distinct from counts.run_name
    and latest_errors.recency = 1
