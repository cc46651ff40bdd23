-- Grain: one row per LLM Observability project (datadog.llmobs_projects).
-- Answers: the projects experiments and datasets belong to, by project_id.
select
    id as project_id,
    name as project_name,
    description,
    created_at,
    updated_at,
    coalesce(is_deleted, false) as is_deleted
from datadog.llmobs_projects
