-- Grain: one row per (Model Lab run, tag key) (datadog.model_lab_run_tags).
-- Answers: the tags each run carries.
select
    run_id,
    key as tag_key,
    value as tag_value
from datadog.model_lab_run_tags
