-- Grain: one row per (UTC day, LangSmith project).
-- Answers: the tokens LLM calls used each day in each project (the report's tokens chart).
select
    day,
    project_id,
    sum(total_tokens) as value
from analytics.langsmith_daily_usage
group by day, project_id
order by day, project_id
