-- Grain: one row per (project, run) among the top $top runs of each project on metric $metric_key.
-- Answers: the best runs of each project on one metric, ranked lowest-first when $lowest_first, else highest-first.
with ranked as (
    select
        project_id,
        run_id,
        run_name,
        run_status,
        latest_value,
        case when $lowest_first then rank_lowest_first else rank_highest_first end as rank,
        runs_ranked
    from analytics.model_lab_metric_leaderboard
    where metric_key = $metric_key
)

select
    cast(project_id as varchar) as project,
    run_id,
    run_name,
    run_status,
    latest_value,
    rank,
    runs_ranked
from ranked
where rank <= $top
order by project_id, rank, run_id
