-- Grain: one row per (metric, statistic), at most four, counts left out.
-- Answers: the metric and statistic pairs the most experiments report (the report charts these).
select
    metric_key,
    statistic
from analytics.llmobs_experiment_metrics
where statistic <> 'count'
group by metric_key, statistic
order by count(*) desc, metric_key, statistic
limit 4
