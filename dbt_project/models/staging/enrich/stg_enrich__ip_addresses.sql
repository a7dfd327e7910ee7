with

source as (

    select * from {{ source('enrich', 'ip_addresses') }}

),

final as (

    select
        ip_address,
        ip,
        geo_country,
        geo_region,
        geo_city,
        latitude,
        longitude,
        geoip_build is not null as is_looked_up
    from source

)

select * from final
