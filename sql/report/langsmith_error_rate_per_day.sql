-- Grain: one row per (UTC day, LangSmith project) with finished runs.
-- Answers: the share of finished runs (all run types) that ended in error, per day and project.
select
    day,
    project_id,
    sum(error_count) / nullif(sum(finished_count), 0) as value
from analytics.langsmith_error_breakdown
group by day, project_id
having sum(finished_count) > 0
order by day, project_id
