-- Grain: one row per LLM Observability dataset record (datadog.llmobs_dataset_records).
-- Answers: when each record was added to its dataset (with its UTC date) and whether it has since been deleted.
select
    id as record_id,
    dataset_id,
    created_at,
    updated_at,
    cast(created_at at time zone 'UTC' as date) as created_date,
    coalesce(is_deleted, false) as is_deleted
from datadog.llmobs_dataset_records
