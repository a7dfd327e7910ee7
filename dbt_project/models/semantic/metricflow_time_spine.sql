{#- One row per UTC day, 2015 to 2040: MetricFlow's time spine (fills days without events). -#}
with

days as (

    select cast(day_start as date) as date_day
    from generate_series(
        cast('2015-01-01' as timestamp), cast('2040-12-31' as timestamp), interval '1 day'
    ) as series (day_start)

),

final as (

    select date_day from days

)

select * from final
