-- Grain: one row per topic-discovery run.
-- Answers: when each configuration ran, how long it took, and what changed in its configuration since
-- the run before (changed_fields lists the snapshot fields that differ; empty when nothing changed).
with ordered as (
    select
        *,
        row_number() over by_config as run_number,
        lag(evp_query) over by_config as previous_evp_query,
        lag(hierarchy_depth) over by_config as previous_hierarchy_depth,
        lag(num_records) over by_config as previous_num_records,
        lag(sampling_ratio) over by_config as previous_sampling_ratio,
        lag(model_name) over by_config as previous_model_name,
        lag(integration_provider) over by_config as previous_integration_provider,
        lag(account_id) over by_config as previous_account_id
    from staging.topic_discovery_runs
    window by_config as (partition by config_id order by created_at, run_id)
),

changes as (
    select
        *,
        case
            when run_number = 1 then ''
            else concat_ws(
                ', ',
                case when evp_query is distinct from previous_evp_query then 'evp_query' end,
                case when hierarchy_depth is distinct from previous_hierarchy_depth then 'hierarchy_depth' end,
                case when num_records is distinct from previous_num_records then 'num_records' end,
                case when sampling_ratio is distinct from previous_sampling_ratio then 'sampling_ratio' end,
                case when model_name is distinct from previous_model_name then 'model_name' end,
                case
                    when integration_provider is distinct from previous_integration_provider
                        then 'integration_provider'
                end,
                case when account_id is distinct from previous_account_id then 'account_id' end
            )
        end as changed_fields
    from ordered
)

select
    config_id,
    run_id,
    run_number,
    status,
    created_at,
    completed_at,
    created_date,
    duration_s,
    evp_query,
    hierarchy_depth,
    num_records,
    sampling_ratio,
    model_name,
    integration_provider,
    account_id,
    changed_fields,
    changed_fields <> '' as is_config_changed,
    previous_model_name,
    previous_sampling_ratio,
    previous_num_records,
    previous_evp_query
from changes
