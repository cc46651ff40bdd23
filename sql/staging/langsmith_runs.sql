-- Grain: one row per LangSmith run (langsmith.runs).
-- Answers: the runs as every LangSmith mart reads them: ids named after their entity, times as _at with their UTC
-- _date, lower-case run_type and status, units in names, the model and provider LangChain records, and
-- the cached and reasoning token counts out of the token details.
select
    id as run_id,
    trace_id,
    -- parent_run_ids lists a run's ancestors from the root down (dotted_order's order): the last is its parent
    parent_run_ids ->> -1 as parent_run_id,
    project_id,
    thread_id,
    name as run_name,
    lower(run_type) as run_type,
    lower(status) as status,
    lower(run_type) = 'llm' as is_llm_call,
    lower(status) = 'error' as is_error,
    lower(status) in ('success', 'error') as is_finished,
    is_root,
    start_time as started_at,
    end_time as ended_at,
    first_token_time as first_token_at,
    cast(start_time at time zone 'UTC' as date) as started_date,
    latency_seconds as latency_s,
    date_part('epoch', first_token_time - start_time) as time_to_first_token_s,
    -- the model LangChain records; an LLM run without it is named after its model class
    coalesce(metadata ->> 'ls_model_name', case when lower(run_type) = 'llm' then name end) as model_name,
    lower(metadata ->> 'ls_provider') as model_provider,
    lower(metadata ->> 'ls_model_type') as model_type,
    cast(metadata ->> 'ls_temperature' as double) as temperature,
    prompt_tokens,
    completion_tokens,
    total_tokens,
    -- LangChain's input token details: prompt_tokens already includes both
    cast((prompt_token_details -> 'raw') ->> 'cache_read' as bigint) as cache_read_prompt_tokens,
    cast((prompt_token_details -> 'raw') ->> 'cache_creation' as bigint) as cache_creation_prompt_tokens,
    cast((completion_token_details -> 'raw') ->> 'reasoning' as bigint) as reasoning_completion_tokens,
    total_cost as cost_usd,
    prompt_cost as prompt_cost_usd,
    completion_cost as completion_cost_usd,
    error,
    split_part(error, chr(10), 1) as error_message
from langsmith.runs
