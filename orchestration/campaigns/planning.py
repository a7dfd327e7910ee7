"""Planning recurring campaigns: their occurrences become shoots in ``app.shoots``.

Planning is idempotent per (campaign_name, config_id): the unique constraint makes a re-plan, or
two planners at once, insert each occurrence exactly once. Operator overrides (``overrides``)
are applied to what is planned, and to the planning shown for occurrences not planned yet.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from orchestration.campaigns.accounts import RecipientFilter, audience_matches, filter_shoots
from orchestration.campaigns.campaign import RecurringCampaign
from orchestration.campaigns.entities import (
    EmailShoot,
    EmailShootConfig,
    EmailShootState,
    Planning,
)
from orchestration.campaigns.overrides import apply_override, load_overrides
from orchestration.campaigns.recurrence import local_day_start
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.shoots import ensure_aware, insert_shoot, list_shoots

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


def shoot_from_config(campaign: RecurringCampaign, config: EmailShootConfig) -> EmailShoot:
    """The shoot a config becomes when planned (seed 004's ``shoot_from_config``)."""
    state = config.state
    if state == EmailShootState.pending:
        state = EmailShootState.scheduled
    return EmailShoot(
        shoot_id=None,
        campaign_name=campaign.campaign_name,
        scheduled_at=config.scheduled_at,
        state=state,
        template_name=campaign.template_name,
        audience=config.audience,
        template_settings=dict(config.template_settings),
        message_frequency=config.message_frequency,
        metadata=dict(config.metadata),
        tags=list(campaign.tags),
        config_id=config.config_id,
        app_name=campaign.app_name,
        sender_email_address=config.sender_email_address
        or campaign.sending_options.sender_email_address,
        manual_send_only=config.manual_send_only,
        dry_run=campaign.sending_options.dry_run,
        enqueue_as_draft=campaign.sending_options.queue_draft,
        custom_blocks=list(campaign.custom_blocks),
        custom_blocks_variation_id=config.custom_blocks_variation_id,
    )


@dataclass
class PlanResult:
    """What a planning pass did; ``created`` are the shoots inserted now."""

    created: list[EmailShoot] = field(default_factory=list)
    existing: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def cancelled(self) -> int:
        return sum(1 for s in self.created if s.state == EmailShootState.cancelled)

    def as_metadata(self) -> dict[str, int]:
        return {
            "shoots_created": len(self.created),
            "shoots_existing": self.existing,
            "shoots_created_cancelled": self.cancelled,
            "campaign_errors": len(self.errors),
        }


def _campaigns(registry: Registry, campaign_name: str | None) -> list[RecurringCampaign]:
    """The named recurring campaign, or every registered one (planning skips disabled ones)."""
    if campaign_name:
        return [registry.get_recurring_campaign(campaign_name)]
    return registry.list_recurring_campaigns()


def plan_campaign(
    conn: psycopg.Connection,
    campaign: RecurringCampaign,
    start: datetime,
    end: datetime,
    keep: Callable[[EmailShoot], bool] | None = None,
) -> PlanResult:
    """Persist the campaign's shoot configs with ``start <= scheduled_at < end`` (only those
    ``keep`` accepts, when given: the others are planned by a later, unfiltered pass).

    Idempotent: an occurrence already in ``app.shoots`` is left as it is (patch it to change it).
    """
    result = PlanResult()
    if not campaign.enabled:
        return result
    overrides = load_overrides(conn, campaign.campaign_name)
    configs = campaign.get_shoot_configs(ensure_aware(start, "start"), ensure_aware(end, "end"))
    with conn.transaction():
        for config in configs:
            config = apply_override(config, overrides.get(config.config_id))
            shoot = shoot_from_config(campaign, config)
            if keep is not None and not keep(shoot):
                continue
            created = insert_shoot(conn, shoot, on_conflict_nothing=True)
            if created is None:
                result.existing += 1
            else:
                result.created.append(created)
    for shoot in result.created:
        if shoot.state == EmailShootState.scheduled:
            try:
                campaign.on_shoot_scheduled(shoot)
            except Exception:  # a hook must not undo planning
                logger.exception("on_shoot_scheduled failed for %s", shoot.shoot_id)
    return result


def plan_shoots(
    conn: psycopg.Connection,
    registry: Registry,
    start: datetime,
    end: datetime,
    *,
    campaign_name: str | None = None,
    silent_failure: bool = True,
) -> PlanResult:
    """Plan every enabled recurring campaign (or one) over ``[start, end)``."""
    total = PlanResult()
    for campaign in _campaigns(registry, campaign_name):
        try:
            result = plan_campaign(conn, campaign, start, end)
        except Exception as exc:
            if not silent_failure:
                raise
            logger.exception("planning %s failed", campaign.campaign_name)
            total.errors.append(f"{campaign.campaign_name}: {exc}")
            continue
        total.created.extend(result.created)
        total.existing += result.existing
    return total


def schedule_pending_shoots(
    conn: psycopg.Connection,
    registry: Registry,
    scheduled_before: datetime,
    scheduled_after: datetime | None = None,
    backfill_days: int | None = None,
    campaign_name: str | None = None,
    silent_failure: bool = True,
    account_refs: list[str] | None = None,
    user_ids: list[str] | None = None,
) -> list[EmailShoot]:
    """Persist the shoots of enabled recurring campaigns due up to ``scheduled_before``
    (inclusive), from ``scheduled_after`` or else from the start of the local day (in each
    campaign's zone) ``backfill_days`` days back (seed 004). Returns the shoots created now.

    ``account_refs`` / ``user_ids``: only the occurrences whose audience has a recipient of
    those accounts / users (``accounts``); the others stay unplanned."""
    if scheduled_after is not None and backfill_days is not None:
        raise ValueError("give scheduled_after or backfill_days, not both")
    before = ensure_aware(scheduled_before, "scheduled_before")
    wanted = RecipientFilter.of(account_refs, user_ids)

    def wanted_audience(shoot: EmailShoot) -> bool:
        return wanted is None or audience_matches(conn, registry, shoot.audience, wanted)

    created: list[EmailShoot] = []
    for campaign in _campaigns(registry, campaign_name):
        after = scheduled_after or local_day_start(before, campaign.timezone, backfill_days or 0)
        try:
            result = plan_campaign(
                conn,
                campaign,
                after,
                before + timedelta(microseconds=1),
                keep=None if wanted is None else wanted_audience,
            )
        except Exception:
            if not silent_failure:
                raise
            logger.exception("scheduling %s failed", campaign.campaign_name)
            continue
        created.extend(result.created)
    return created


def backfill_window_start(
    registry: Registry, on_date: datetime, backfill_days: int, campaign_name: str | None = None
) -> datetime:
    """The earliest local-midnight among the campaigns' zones: where a backfill starts."""
    zones = {c.timezone for c in _campaigns(registry, campaign_name)} or {"UTC"}
    return min(local_day_start(on_date, zone, backfill_days) for zone in zones)


def get_planning(
    conn: psycopg.Connection,
    registry: Registry,
    campaign_name: str,
    before: datetime,
    after: datetime | None = None,
    config_id: str | None = None,
    states: list[EmailShootState] | None = None,
    limit: int | None = None,
    account_refs: list[str] | None = None,
    user_ids: list[str] | None = None,
) -> Planning:
    """The campaign's shoots in ``[after, before)``: persisted ones, and the configs not planned
    yet as ``pending`` (or ``cancelled`` if an operator cancelled them) with ``is_persisted``
    False (seed 004). ``account_refs`` / ``user_ids``: only the shoots for those accounts /
    users (their ledger once sent, else their audience: ``accounts``)."""
    campaign = registry.get_recurring_campaign(campaign_name)
    after = after or datetime.now(UTC)
    persisted = list_shoots(
        conn,
        scheduled_before=before,
        scheduled_after=after,
        campaign_name=campaign_name,
        config_id=config_id,
    )
    configs = campaign.get_shoot_configs(after, before)
    if config_id is not None:
        configs = [c for c in configs if c.config_id == config_id]
    shoots = persisted + _unplanned(conn, campaign, configs, persisted)
    shoots.sort(key=lambda s: (s.scheduled_at, s.config_id or ""))
    if states is not None:
        shoots = [s for s in shoots if s.state in states]
    wanted = RecipientFilter.of(account_refs, user_ids)
    if wanted is not None:
        shoots = filter_shoots(conn, registry, shoots, wanted, limit)
    if limit is not None:
        shoots = shoots[:limit]
    return Planning(campaign_name=campaign_name, shoots=shoots)


def _unplanned(
    conn: psycopg.Connection,
    campaign: RecurringCampaign,
    configs: list[EmailShootConfig],
    persisted: list[EmailShoot],
) -> list[EmailShoot]:
    """The configs not in ``app.shoots`` yet, as the (not persisted) shoots they would be."""
    # Occurrences planned already, possibly patched to a time outside the window.
    planned_ids = {s.config_id for s in persisted} | {
        row[0]
        for row in conn.execute(
            "select config_id from app.shoots where campaign_name = %s and config_id = any(%s)",
            (campaign.campaign_name, [c.config_id for c in configs]),
        )
    }
    overrides = load_overrides(conn, campaign.campaign_name)
    shoots = []
    for config in configs:
        if config.config_id in planned_ids:
            continue
        shoot = shoot_from_config(campaign, apply_override(config, overrides.get(config.config_id)))
        if shoot.state == EmailShootState.scheduled:
            shoot.state = EmailShootState.pending
        shoot.is_persisted = False
        shoots.append(shoot)
    return shoots


# How far from a config_id's own time get_pending_shoot looks for it (a DST shift, a zone's
# offset): the campaign's configs of these days around it are computed and searched.
_CONFIG_SEARCH = timedelta(days=2)


def get_pending_shoot(
    conn: psycopg.Connection,
    registry: Registry,
    campaign_name: str,
    config_id: str,
    around: datetime | None = None,
) -> EmailShoot | None:
    """The shoot of one occurrence of a recurring campaign (seed 004): the persisted one if it
    is planned, else the shoot it would be (``pending``, or as an operator's override leaves it,
    ``is_persisted`` False); None if the campaign has no such occurrence.

    A cron campaign's config_id is its local time, which says where to look; a campaign with its
    own ``get_shoot_configs`` and other ids needs ``around``, a time near the occurrence."""
    campaign = registry.get_recurring_campaign(campaign_name)
    planned = list_shoots(conn, campaign_name=campaign_name, config_id=config_id)
    if planned:
        return planned[0]
    center = around or _config_time(config_id)
    if center is None:
        raise ValueError(
            f"config_id {config_id!r} of {campaign_name!r} is not a local time: pass around="
        )
    center = ensure_aware(center, "around") if around is not None else center
    configs = [
        config
        for config in campaign.get_shoot_configs(center - _CONFIG_SEARCH, center + _CONFIG_SEARCH)
        if config.config_id == config_id
    ]
    unplanned = _unplanned(conn, campaign, configs, [])
    return unplanned[0] if unplanned else None


def _config_time(config_id: str) -> datetime | None:
    """A cron occurrence's config_id (its local wall-clock minute) as a UTC time, give or take
    the zone's offset (``_CONFIG_SEARCH`` covers it)."""
    try:
        return datetime.strptime(config_id, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
    except ValueError:
        return None
