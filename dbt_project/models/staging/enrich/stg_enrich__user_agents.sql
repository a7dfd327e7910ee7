with

source as (

    select * from {{ source('enrich', 'user_agents') }}

),

final as (

    select
        user_agent_md5,
        user_agent,
        device_type,
        os,
        client,
        device,
        is_bot
    from source

)

select * from final
