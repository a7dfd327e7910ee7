{#
    The state of an email log (seed 004's EmailLogState) as a pure function of the SET of its
    events: it reads only "has at least one event of this kind" flags, never their order.
    First matching rule wins:

      1. a hard or undetermined bounce                                   -> bounced
      2. a reject (provider refused the message, or dispatch dropped it) -> dropped
      3. a rendering failure or a failed send                            -> failed
      4. any evidence of delivery: delivered, opened, clicked,
         complained, unsubscribed                                        -> delivered
      5. a soft bounce (no delivery evidence, by rule 4)                 -> bounced
      6. sent (or a delivery delay, which implies it was sent)           -> sent
      7. skipped                                                         -> skipped
      8. anything else (queued, or nothing yet)                          -> pending

    Arguments are boolean SQL expressions (usually columns of an aggregated CTE).
#}
{% macro email_log_state(
    has_hard_bounce='has_hard_bounce',
    has_rejected='has_rejected',
    has_failed='has_failed',
    has_delivery_evidence='has_delivery_evidence',
    has_soft_bounce='has_soft_bounce',
    has_sent='has_sent',
    has_skipped='has_skipped'
) -%}
    case
        when {{ has_hard_bounce }} then 'bounced'
        when {{ has_rejected }} then 'dropped'
        when {{ has_failed }} then 'failed'
        when {{ has_delivery_evidence }} then 'delivered'
        when {{ has_soft_bounce }} then 'bounced'
        when {{ has_sent }} then 'sent'
        when {{ has_skipped }} then 'skipped'
        else 'pending'
    end
{%- endmacro %}

{# Canonical event types that prove a message reached the recipient's mailbox. #}
{% macro delivery_evidence_event_types() -%}
    {{ return(['delivered', 'opened', 'clicked', 'complained', 'unsubscribed']) }}
{%- endmacro %}
