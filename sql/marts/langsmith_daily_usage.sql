-- Grain: one row per (UTC day, LangSmith project, model); model_name is null for runs that call no model.
-- Answers: how many runs and model calls each project made per day and model, the tokens and
-- dollars they used, how often they failed, and how fast they answered.
-- Tokens and cost add up LLM runs only: a parent run carries the sums of its subtree, so adding
-- parents too would count every model call twice.
select
    started_date as day,
    project_id,
    model_name,
    count(*) as run_count,
    count(*) filter (where is_llm_call) as llm_call_count,
    cast(coalesce(sum(prompt_tokens) filter (where is_llm_call), 0) as bigint) as prompt_tokens,
    cast(coalesce(sum(completion_tokens) filter (where is_llm_call), 0) as bigint) as completion_tokens,
    cast(coalesce(sum(total_tokens) filter (where is_llm_call), 0) as bigint) as total_tokens,
    cast(coalesce(sum(cost_usd) filter (where is_llm_call), 0) as double) as cost_usd,
    count(*) filter (where is_error) as error_count,
    cast(count(*) filter (where is_error) as double) / nullif(count(*) filter (where is_finished), 0) as error_rate,
    quantile_cont(latency_s, 0.5) as p50_latency_s,
    quantile_cont(latency_s, 0.95) as p95_latency_s,
    quantile_cont(time_to_first_token_s, 0.5) as p50_time_to_first_token_s
from staging.langsmith_runs
group by started_date, project_id, model_name
