-- Grain: one row per LLM Observability dataset (datadog.llmobs_datasets), deleted ones included and flagged.
-- Answers: each dataset's name and current version, by dataset_id.
select
    id as dataset_id,
    name as dataset_name,
    description,
    current_version as dataset_current_version,
    created_at,
    updated_at,
    coalesce(is_deleted, false) as is_deleted
from datadog.llmobs_datasets
