{#- mart_metric_coverage: per metric and provider, the rows under reasons that lower coverage are
    exactly the rows excluded (so considered = used + those). Returns the pairs where they are not. -#}
select metric, provider
from {{ ref('mart_metric_coverage') }}
group by metric, provider
having sum(case when lowers_coverage then rows_with_reason else 0 end) <> max(rows_excluded)
    or count(distinct rows_considered) <> 1
