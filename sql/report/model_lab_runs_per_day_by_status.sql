-- Grain: one row per (UTC day created, status now) over Model Lab runs that are not deleted.
-- Answers: how many runs were created each day, by the status they have now.
select
    created_date as day,
    status,
    count(*) as runs
from analytics.model_lab_run_summary
where not is_deleted
group by created_date, status
order by created_date, status
