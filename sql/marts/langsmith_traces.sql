-- Grain: one row per LangSmith trace whose root run is in langsmith.runs.
-- Answers: which traces were the slowest and the most expensive: the root run's name, status,
-- duration, tokens and cost (a root run carries the sums of its whole trace), how many runs and
-- model calls the trace made, and its rank by duration and by cost (1 = slowest / most expensive;
-- traces still running rank last by duration).
with trace_runs as (
    select
        trace_id,
        count(*) as run_count,
        count(*) filter (where is_llm_call) as llm_call_count,
        count(*) filter (where is_error) as error_run_count
    from staging.langsmith_runs
    group by trace_id
),

traces as (
    select
        roots.trace_id,
        roots.project_id,
        roots.thread_id,
        roots.run_name as root_run_name,
        roots.status,
        roots.is_error,
        roots.started_at,
        roots.ended_at,
        roots.started_date,
        roots.latency_s as duration_s,
        trace_runs.run_count,
        trace_runs.llm_call_count,
        trace_runs.error_run_count,
        roots.prompt_tokens,
        roots.completion_tokens,
        roots.total_tokens,
        roots.cost_usd
    from staging.langsmith_runs as roots
    inner join trace_runs on trace_runs.trace_id = roots.trace_id
    where roots.is_root
)

select
    trace_id,
    project_id,
    thread_id,
    root_run_name,
    status,
    is_error,
    started_at,
    ended_at,
    started_date,
    duration_s,
    run_count,
    llm_call_count,
    error_run_count,
    prompt_tokens,
    completion_tokens,
    total_tokens,
    cost_usd,
    rank() over (order by duration_s desc nulls last) as latency_rank,
    rank() over (order by cost_usd desc nulls last) as cost_rank
from traces
