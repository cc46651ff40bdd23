-- Grain: one row per metric key on the leaderboard.
-- Answers: which metrics the most runs logged, most first (the report picks its leaderboard metric from these).
select
    metric_key,
    count(*) as runs_ranked
from analytics.model_lab_metric_leaderboard
group by metric_key
order by runs_ranked desc, metric_key
