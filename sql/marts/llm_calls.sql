-- Grain: one row per LLM call (a LangSmith run of run_type llm), named after the OpenTelemetry GenAI conventions.
-- Answers: every model call with its provider, model, input / output / cached tokens, cost, duration and
-- error type, in the column names OTel-shaped LLM dashboards expect (gen_ai.usage.input_tokens becomes
-- gen_ai_usage_input_tokens). Input tokens include cached ones, as the conventions require. How each
-- column is derived from LangSmith's fields: docs/llm_calls.md.
with calls as (
    select
        *,
        trim(split_part(split_part(error_message, '(', 1), ':', 1)) as error_class
    from staging.langsmith_runs
    where is_llm_call
)

select
    trace_id,
    run_id as span_id,
    parent_run_id as parent_span_id,
    project_id,
    started_at,
    ended_at,
    started_date as day,
    case model_type
        when 'chat' then 'chat'
        when 'llm' then 'text_completion'
    end as gen_ai_operation_name,
    -- LangChain's ls_provider, mapped onto the conventions' well-known values where they differ
    case model_provider
        when 'google_genai' then 'gcp.gemini'
        when 'google_vertexai' then 'gcp.vertex_ai'
        when 'azure' then 'azure.ai.openai'
        when 'azure_openai' then 'azure.ai.openai'
        when 'bedrock' then 'aws.bedrock'
        when 'amazon_bedrock' then 'aws.bedrock'
        when 'mistralai' then 'mistral_ai'
        when 'xai' then 'x_ai'
        else model_provider
    end as gen_ai_provider_name,
    model_name as gen_ai_request_model,
    temperature as gen_ai_request_temperature,
    thread_id as gen_ai_conversation_id,
    prompt_tokens as gen_ai_usage_input_tokens,
    completion_tokens as gen_ai_usage_output_tokens,
    cache_read_prompt_tokens as gen_ai_usage_cache_read_input_tokens,
    cache_creation_prompt_tokens as gen_ai_usage_cache_creation_input_tokens,
    cost_usd,
    latency_s as duration_s,
    time_to_first_token_s,
    status,
    is_error,
    -- error.type: the exception class LangSmith's error text starts with, '_OTHER' when it names none
    case
        when not is_error then null
        when error_class is null or error_class = '' or strpos(error_class, ' ') > 0 then '_OTHER'
        else error_class
    end as error_type
from calls
