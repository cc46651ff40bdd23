-- Grain: one row per (UTC day, LangSmith project, model); model_name is null for runs that call no model.
-- Answers: how many runs and model calls each project made per day and model, the tokens and
-- dollars they used, how often they failed, and how fast they answered.
-- Tokens and cost add up LLM runs only: a parent run carries the sums of its subtree, so adding
-- parents too would count every model call twice.
with runs as (
    select
        project_id,
        name,
        run_type,
        status,
        start_time,
        first_token_time,
        latency_seconds,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        total_cost,
        metadata
    from langsmith.runs
),

classified as (
    select
        project_id,
        cast(start_time at time zone 'UTC' as date) as usage_date,
        lower(run_type) = 'llm' as is_llm_call,
        -- the model LangChain records; an LLM run without it is named after its model class
        coalesce(metadata ->> 'ls_model_name', case when lower(run_type) = 'llm' then name end) as model_name,
        lower(status) = 'error' as is_error,
        lower(status) in ('success', 'error') as is_finished,
        latency_seconds as latency_s,
        date_part('epoch', first_token_time - start_time) as time_to_first_token_s,
        prompt_tokens,
        completion_tokens,
        total_tokens,
        total_cost
    from runs
)

select
    usage_date,
    project_id,
    model_name,
    count(*) as run_count,
    count(*) filter (where is_llm_call) as llm_call_count,
    cast(coalesce(sum(prompt_tokens) filter (where is_llm_call), 0) as bigint) as prompt_tokens,
    cast(coalesce(sum(completion_tokens) filter (where is_llm_call), 0) as bigint) as completion_tokens,
    cast(coalesce(sum(total_tokens) filter (where is_llm_call), 0) as bigint) as total_tokens,
    cast(coalesce(sum(total_cost) filter (where is_llm_call), 0) as double) as cost_usd,
    count(*) filter (where is_error) as error_count,
    cast(count(*) filter (where is_error) as double)
    / nullif(count(*) filter (where is_finished), 0) as error_rate,
    quantile_cont(latency_s, 0.5) as p50_latency_s,
    quantile_cont(latency_s, 0.95) as p95_latency_s,
    quantile_cont(time_to_first_token_s, 0.5) as p50_time_to_first_token_s
from classified
group by usage_date, project_id, model_name
