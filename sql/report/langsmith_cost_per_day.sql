-- Grain: one row per (UTC day, LangSmith project).
-- Answers: the dollars LLM calls cost each day in each project (the report's cost chart).
select
    day,
    project_id,
    sum(cost_usd) as value
from analytics.langsmith_daily_usage
group by day, project_id
order by day, project_id
