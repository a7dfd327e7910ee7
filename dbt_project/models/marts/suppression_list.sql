{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns',
        pre_hook=["{{ delete_batch_rows('recipient = any(array(' ~ batch_recipients_sql() ~ '))') }}"],
        indexes=[
            {'columns': ['recipient']},
            {'columns': ['lower(recipient)']},
        ],
    )
}}

{#-
    Recipients campaign dispatch must skip: one row per recipient and reason
    (hard_bounce, complaint, unsubscribe), from every provider's events.
    Indexed on recipient (the batch's pre-hook delete) and on lower(recipient): every page of a
    campaign dispatch looks its 2,000 addresses up there (orchestration/campaigns/suppression.py);
    without the index each page read the whole list, whose size grows with the audiences sent.
-#}

-- depends_on: {{ ref('int_email_events__batch') }}

with

events as (

    select * from {{ ref('fct_email_events') }}
    {% if is_incremental() %}
    -- the suppressing events of the batch's recipients (the partial index on recipient of
    -- fct_email_events' post-hook: macros/suppression.sql)
    where
        recipient = any(array({{ batch_recipients_sql() }}))
        and {{ suppressing_event_condition() }}
    {% endif %}

),

suppressing_events as (

    select
        event_id,
        recipient,
        provider,
        occurred_at,
        case
            when event_type = 'bounced' and bounce_type = 'hard' then 'hard_bounce'
            when event_type = 'complained' then 'complaint'
            when event_type = 'unsubscribed' then 'unsubscribe'
        end as reason
    from events
    where
        recipient is not null
        and {{ suppressing_event_condition() }}

),

final as (

    select
        recipient,
        reason,
        min(occurred_at) as first_suppressed_at,
        max(occurred_at) as last_event_at,
        -- the provider of the first suppressing event
        (array_agg(provider order by occurred_at asc, event_id asc))[1] as provider
    from suppressing_events
    group by recipient, reason

)

select * from final
