{#- mart_dora_summary: every service (and the all-services row) has a current and a previous period, the
    previous one ending where the current one starts. Returns the services where that does not hold. -#}
select service
from {{ ref('mart_dora_summary') }}
group by service
having count(case when period = 'current' then 1 end) <> 1
    or count(case when period = 'previous' then 1 end) <> 1
    or max(case when period = 'previous' then window_end end)
        <> max(case when period = 'current' then window_start end)
