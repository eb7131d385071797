{#- The DORA tier thresholds mart_dora_summary is rated with: the dora_benchmarks seed's rows for the
    report year the build uses (var `dora_report_year`). In `analytics` beside the marts, so a reader
    (the report's tier bands, a dashboard) needs no seed schema and no year of its own. -#}
select
    report_year,
    metric,
    unit,
    tier,
    tier_rank,
    lower,
    upper,
    upper_inclusive,
    label
from {{ ref('dora_benchmarks') }}
where report_year = {{ var('dora_report_year', 2023) | int }}
