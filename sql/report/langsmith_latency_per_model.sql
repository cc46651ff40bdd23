-- Grain: one row per model.
-- Answers: each model's typical p50 and p95 run latency: the median over the days and projects it ran in.
select
    model_name,
    median(p50_latency_s) as p50,
    median(p95_latency_s) as p95,
    sum(run_count) as runs
from analytics.langsmith_daily_usage
where model_name is not null
group by model_name
order by p95 desc
