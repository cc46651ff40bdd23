-- Grain: one row per (UTC day, LangSmith project, run type, run name).
-- Answers: which steps fail, how often and with what: runs and errors per day, the error rate
-- among finished runs, how many different error messages, and the latest one (its first line).
with runs as (
    select
        project_id,
        run_type,
        name,
        status,
        start_time,
        error
    from langsmith.runs
),

classified as (
    select
        cast(start_time at time zone 'UTC' as date) as run_date,
        project_id,
        run_type,
        name as run_name,
        start_time,
        lower(status) = 'error' as is_error,
        lower(status) in ('success', 'error') as is_finished,
        split_part(error, chr(10), 1) as error_message
    from runs
),

counts as (
    select
        run_date,
        project_id,
        run_type,
        run_name,
        count(*) as run_count,
        count(*) filter (where is_finished) as finished_count,
        count(*) filter (where is_error) as error_count,
        count(distinct error_message) filter (where is_error) as distinct_error_count,
        max(start_time) filter (where is_error) as last_error_at
    from classified
    group by run_date, project_id, run_type, run_name
),

latest_errors as (
    select
        run_date,
        project_id,
        run_type,
        run_name,
        error_message,
        row_number() over (
            partition by run_date, project_id, run_type, run_name
            order by start_time desc, error_message
        ) as recency
    from classified
    where is_error
)

select
    counts.run_date,
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
    on latest_errors.run_date = counts.run_date
    and latest_errors.project_id is not distinct from counts.project_id
    and latest_errors.run_type is not distinct from counts.run_type
    and latest_errors.run_name is not distinct from counts.run_name
    and latest_errors.recency = 1
