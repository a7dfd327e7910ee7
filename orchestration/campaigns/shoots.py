"""Shoots in ``app.shoots``: scheduling, patching, cancelling and planning recurring campaigns.

Every function takes an explicit psycopg connection and commits nothing itself unless it opens
its own ``conn.transaction()`` (which commits on exit when the connection is in autocommit mode,
and nests as a savepoint otherwise) - the caller decides the transaction boundaries.

Planning is idempotent per (campaign_name, config_id): the unique constraint makes a re-plan, or
two planners at once, insert each occurrence exactly once. Operator decisions about occurrences
(cancel, patch, resume) live in ``app.shoot_config_overrides`` so they apply whether the
occurrence was planned already or not.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from orchestration.campaigns.campaign import RecurringCampaign
from orchestration.campaigns.entities import (
    NOT_SET,
    Audience,
    EmailShoot,
    EmailShootConfig,
    EmailShootState,
    MessageFrequency,
    Planning,
)
from orchestration.campaigns.errors import ShootNotFoundError, ShootStateError
from orchestration.campaigns.recurrence import local_day_start
from orchestration.campaigns.registry import Registry

logger = logging.getLogger(__name__)

EDITABLE_STATES = (EmailShootState.pending, EmailShootState.scheduled)
DEFAULT_APP_NAME = "mailtrail"


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return value


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def get_shoot(
    conn: psycopg.Connection, shoot_id: UUID | str, *, for_update: bool = False
) -> EmailShoot:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "select * from app.shoots where shoot_id = %s" + (" for update" if for_update else ""),
            (str(shoot_id),),
        ).fetchone()
    if row is None:
        raise ShootNotFoundError(shoot_id)
    return EmailShoot.from_row(row)


def has_shoot(conn: psycopg.Connection, shoot_id: UUID | str) -> bool:
    row = conn.execute("select 1 from app.shoots where shoot_id = %s", (str(shoot_id),)).fetchone()
    return row is not None


def list_shoots(
    conn: psycopg.Connection,
    shoot_ids: list[UUID | str] | None = None,
    scheduled_before: datetime | None = None,
    scheduled_after: datetime | None = None,
    campaign_name: str | None = None,
    limit: int | None = None,
    states: list[EmailShootState | str] | None = None,
    metadata: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    config_id: str | None = None,
) -> list[EmailShoot]:
    """Shoots matching every given filter, by scheduled time (``metadata``: jsonb containment,
    ``tags``: shoots carrying all of them)."""
    where, params = ["true"], {}
    if shoot_ids is not None:
        where.append("shoot_id = any(%(ids)s::uuid[])")
        params["ids"] = [str(s) for s in shoot_ids]
    if scheduled_before is not None:
        where.append("scheduled_at < %(before)s")
        params["before"] = _aware(scheduled_before, "scheduled_before")
    if scheduled_after is not None:
        where.append("scheduled_at >= %(after)s")
        params["after"] = _aware(scheduled_after, "scheduled_after")
    if campaign_name is not None:
        where.append("campaign_name = %(campaign)s")
        params["campaign"] = campaign_name
    if states is not None:
        where.append("state = any(%(states)s)")
        params["states"] = [str(s) for s in states]
    if metadata:
        where.append("metadata @> %(metadata)s")
        params["metadata"] = Jsonb(metadata)
    if tags:
        where.append("tags @> %(tags)s")
        params["tags"] = list(tags)
    if config_id is not None:
        where.append("config_id = %(config_id)s")
        params["config_id"] = config_id
    query = f"select * from app.shoots where {' and '.join(where)} order by scheduled_at, shoot_id"
    if limit is not None:
        query += " limit %(limit)s"
        params["limit"] = limit
    with conn.cursor(row_factory=dict_row) as cur:
        return [EmailShoot.from_row(row) for row in cur.execute(query, params)]


# ---------------------------------------------------------------------------------------------
# Writing one shoot
# ---------------------------------------------------------------------------------------------


def _insert_shoot(
    conn: psycopg.Connection, shoot: EmailShoot, *, on_conflict_nothing: bool
) -> EmailShoot | None:
    params = {
        "shoot_id": str(shoot.shoot_id or uuid.uuid4()),
        "campaign_name": shoot.campaign_name,
        "app_name": shoot.app_name,
        "config_id": shoot.config_id,
        "scheduled_at": _aware(shoot.scheduled_at, "scheduled_at"),
        "state": str(shoot.state),
        "template_name": shoot.template_name,
        "template_settings": Jsonb(shoot.template_settings),
        "audience": Jsonb(shoot.audience.to_json()),
        "message_frequency": Jsonb(shoot.message_frequency.to_json())
        if shoot.message_frequency
        else None,
        "metadata": Jsonb(shoot.metadata),
        "tags": list(shoot.tags),
        "sender": shoot.sender_email_address,
        "manual": shoot.manual_send_only,
        "dry_run": shoot.dry_run,
        "draft": shoot.enqueue_as_draft,
        "duplicated_from": str(shoot.duplicated_from) if shoot.duplicated_from else None,
        "cancelled_at": _now() if shoot.state == EmailShootState.cancelled else None,
    }
    conflict = " on conflict (campaign_name, config_id) do nothing" if on_conflict_nothing else ""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "insert into app.shoots (shoot_id, campaign_name, app_name, config_id, scheduled_at,"
            " state, template_name, template_settings, audience, message_frequency, metadata, tags,"
            " sender_email_address, manual_send_only, dry_run, enqueue_as_draft, duplicated_from,"
            " cancelled_at)"
            " values (%(shoot_id)s, %(campaign_name)s, %(app_name)s, %(config_id)s,"
            " %(scheduled_at)s, %(state)s, %(template_name)s, %(template_settings)s, %(audience)s,"
            " %(message_frequency)s, %(metadata)s, %(tags)s, %(sender)s, %(manual)s, %(dry_run)s,"
            " %(draft)s, %(duplicated_from)s, %(cancelled_at)s)" + conflict + " returning *",
            params,
        ).fetchone()
    return EmailShoot.from_row(row) if row else None


def schedule_shoot(
    conn: psycopg.Connection,
    registry: Registry,
    *,
    scheduled_at: datetime,
    audience: Audience,
    template: str,
    template_settings: dict[str, Any] | None = None,
    tags: list[str] | None = None,
    campaign_name: str | None = None,
    message_frequency: MessageFrequency | None = None,
    metadata: dict[str, Any] | None = None,
    enqueue_as_draft: bool = False,
    shoot_id: UUID | str | None = None,
    sender_email_address: str | None = None,
    dry_run: bool = False,
    manual_send_only: bool = False,
    app_name: str | None = None,
) -> EmailShoot:
    """Persist a shoot to be sent at ``scheduled_at`` (seed 004's ``schedule_shoot``).

    The template and segment must be registered and the template's required settings present:
    a mistake is reported now, not when the shoot is due. ``campaign_name`` defaults to the
    template's name (it groups the stats).
    """
    template_obj = registry.get_template(template)
    registry.get_segment(audience.segment)
    template_obj.validate_settings(template_settings or {})
    campaign = registry.campaigns.get(campaign_name) if campaign_name else None
    shoot = EmailShoot(
        shoot_id=UUID(str(shoot_id)) if shoot_id else uuid.uuid4(),
        campaign_name=campaign_name or template,
        scheduled_at=_aware(scheduled_at, "scheduled_at"),
        state=EmailShootState.scheduled,
        template_name=template,
        audience=audience,
        template_settings=dict(template_settings or {}),
        message_frequency=message_frequency,
        metadata=dict(metadata or {}),
        tags=list(tags or (campaign.tags if campaign else [])),
        app_name=app_name or (campaign.app_name if campaign else DEFAULT_APP_NAME),
        sender_email_address=sender_email_address,
        manual_send_only=manual_send_only,
        dry_run=dry_run,
        enqueue_as_draft=enqueue_as_draft,
    )
    with conn.transaction():
        created = _insert_shoot(conn, shoot, on_conflict_nothing=False)
    assert created is not None
    return created


def cancel_shoot(conn: psycopg.Connection, shoot_id: UUID | str) -> EmailShoot:
    """Cancel a shoot that is not finished. A shoot being sent stops after its current page:
    recipients already recorded stay as they are."""
    with conn.transaction():
        shoot = get_shoot(conn, shoot_id, for_update=True)
        if shoot.state == EmailShootState.cancelled:
            return shoot
        if shoot.state in (EmailShootState.completed, EmailShootState.skipped):
            raise ShootStateError(f"shoot {shoot_id} is {shoot.state}; it cannot be cancelled")
        conn.execute(
            "update app.shoots set state = 'cancelled', cancelled_at = now(), updated_at = now()"
            " where shoot_id = %s",
            (str(shoot_id),),
        )
        return get_shoot(conn, shoot_id)


def patch_shoot(
    conn: psycopg.Connection,
    registry: Registry,
    shoot_id: UUID | str,
    *,
    scheduled_at: Any = NOT_SET,
    segment: Any = NOT_SET,
    audience_settings: Any = NOT_SET,
    template: Any = NOT_SET,
    template_settings: Any = NOT_SET,
    tags: Any = NOT_SET,
    audience_limit: Any = NOT_SET,
    campaign_name: Any = NOT_SET,
    message_frequency: Any = NOT_SET,
    metadata: Any = NOT_SET,
    enqueue_as_draft: Any = NOT_SET,
    sender_email_address: Any = NOT_SET,
    dry_run: Any = NOT_SET,
    manual_send_only: Any = NOT_SET,
) -> EmailShoot:
    """Change a shoot that has not started (seed 004); only the arguments given are changed.

    Patching also clears a dispatch error recorded on the shoot, so the dispatch sensor picks it
    up again.
    """
    with conn.transaction():
        shoot = get_shoot(conn, shoot_id, for_update=True)
        if shoot.state not in EDITABLE_STATES:
            raise ShootStateError(
                f"shoot {shoot_id} is {shoot.state}; only pending or scheduled shoots can be patched"
            )
        audience = shoot.audience
        if segment is not NOT_SET:
            registry.get_segment(segment)
            audience = replace(audience, segment=segment)
        if audience_settings is not NOT_SET:
            audience = replace(audience, settings=dict(audience_settings or {}))
        if audience_limit is not NOT_SET:
            audience = replace(audience, limit=audience_limit)
        new_template = shoot.template_name if template is NOT_SET else template
        new_settings = (
            shoot.template_settings if template_settings is NOT_SET else template_settings
        )
        registry.get_template(new_template).validate_settings(new_settings or {})
        sets: dict[str, Any] = {
            "audience": Jsonb(audience.to_json()),
            "template_name": new_template,
            "template_settings": Jsonb(dict(new_settings or {})),
        }
        if message_frequency is not NOT_SET:
            sets["message_frequency"] = (
                Jsonb(message_frequency.to_json()) if message_frequency else None
            )
        simple = {
            "scheduled_at": scheduled_at,
            "tags": tags,
            "campaign_name": campaign_name,
            "metadata": metadata,
            "enqueue_as_draft": enqueue_as_draft,
            "sender_email_address": sender_email_address,
            "dry_run": dry_run,
            "manual_send_only": manual_send_only,
        }
        for name, value in simple.items():
            if value is NOT_SET:
                continue
            if name == "scheduled_at":
                value = _aware(value, "scheduled_at")
            elif name == "metadata":
                value = Jsonb(dict(value or {}))
            elif name == "tags":
                value = list(value or [])
            sets[name] = value
        assignments = ", ".join(f"{column} = %({column})s" for column in sets)
        conn.execute(
            f"update app.shoots set {assignments}, error_type = null, error_message = null,"
            " updated_at = now() where shoot_id = %(shoot_id)s",
            {**sets, "shoot_id": str(shoot_id)},
        )
        return get_shoot(conn, shoot_id)


def duplicate_shoot(
    conn: psycopg.Connection, shoot_id: UUID | str, *, scheduled_at: datetime | None = None
) -> EmailShoot:
    """A new scheduled shoot with the same settings (ad hoc: no config_id, fresh counters).

    Its recipients are new to its ledger, so frequency limits are what prevents a duplicate from
    reaching users twice (recurring campaigns limit one message per occurrence by default).
    """
    source = get_shoot(conn, shoot_id)
    copy = replace(
        source,
        shoot_id=uuid.uuid4(),
        config_id=None,
        state=EmailShootState.scheduled,
        scheduled_at=scheduled_at or source.scheduled_at,
        duplicated_from=source.shoot_id,
    )
    with conn.transaction():
        created = _insert_shoot(conn, copy, on_conflict_nothing=False)
    assert created is not None
    return created


def set_shoot_error(
    conn: psycopg.Connection, shoot_id: UUID | str, error_type: str, message: str
) -> None:
    """Record a business error that stopped a dispatch; the shoot waits for a patch."""
    conn.execute(
        "update app.shoots set error_type = %s, error_message = %s, updated_at = now(),"
        " state = case when state = 'sending' and recipient_count = 0 then 'scheduled'"
        " else state end where shoot_id = %s",
        (error_type, message[:2000], str(shoot_id)),
    )


# ---------------------------------------------------------------------------------------------
# Recurring campaigns: overrides and planning
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigOverride:
    cancelled: bool = False
    scheduled_at: datetime | None = None
    patch: dict[str, Any] = field(default_factory=dict)


def _overrides(conn: psycopg.Connection, campaign_name: str) -> dict[str, ConfigOverride]:
    rows = conn.execute(
        "select config_id, cancelled, scheduled_at, patch from app.shoot_config_overrides"
        " where campaign_name = %s",
        (campaign_name,),
    ).fetchall()
    return {r[0]: ConfigOverride(r[1], r[2], dict(r[3] or {})) for r in rows}


def apply_override(config: EmailShootConfig, override: ConfigOverride | None) -> EmailShootConfig:
    """The config as the operator amended it (pure)."""
    if override is None:
        return config
    patch = override.patch
    config = replace(
        config,
        scheduled_at=override.scheduled_at or config.scheduled_at,
        template_settings={**config.template_settings, **patch.get("template_settings", {})},
        metadata={**config.metadata, **patch.get("metadata", {})},
        sender_email_address=patch.get("sender_email_address", config.sender_email_address),
        manual_send_only=patch.get("manual_send_only", config.manual_send_only),
    )
    if override.cancelled:
        config = replace(config, state=EmailShootState.cancelled)
    return config


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


def plan_campaign(
    conn: psycopg.Connection,
    campaign: RecurringCampaign,
    start: datetime,
    end: datetime,
) -> PlanResult:
    """Persist the campaign's shoot configs with ``start <= scheduled_at < end``.

    Idempotent: an occurrence already in ``app.shoots`` is left as it is (patch it to change it).
    """
    result = PlanResult()
    if not campaign.enabled:
        return result
    overrides = _overrides(conn, campaign.campaign_name)
    configs = campaign.get_shoot_configs(_aware(start, "start"), _aware(end, "end"))
    with conn.transaction():
        for config in configs:
            config = apply_override(config, overrides.get(config.config_id))
            shoot = shoot_from_config(campaign, config)
            created = _insert_shoot(conn, shoot, on_conflict_nothing=True)
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
    campaigns = (
        [registry.get_recurring_campaign(campaign_name)]
        if campaign_name
        else registry.list_recurring_campaigns()
    )
    for campaign in campaigns:
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
) -> list[EmailShoot]:
    """Persist the shoots of enabled recurring campaigns due up to ``scheduled_before``
    (inclusive), from ``scheduled_after`` or else from the start of the local day (in each
    campaign's zone) ``backfill_days`` days back (seed 004). Returns the shoots created now."""
    if scheduled_after is not None and backfill_days is not None:
        raise ValueError("give scheduled_after or backfill_days, not both")
    before = _aware(scheduled_before, "scheduled_before")
    created: list[EmailShoot] = []
    campaigns = (
        [registry.get_recurring_campaign(campaign_name)]
        if campaign_name
        else registry.list_recurring_campaigns()
    )
    for campaign in campaigns:
        after = scheduled_after or local_day_start(before, campaign.timezone, backfill_days or 0)
        try:
            result = plan_campaign(conn, campaign, after, before + timedelta(microseconds=1))
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
    campaigns = (
        [registry.get_recurring_campaign(campaign_name)]
        if campaign_name
        else registry.list_recurring_campaigns()
    )
    zones = {c.timezone for c in campaigns} or {"UTC"}
    return min(local_day_start(on_date, zone, backfill_days) for zone in zones)


def _upsert_override(
    conn: psycopg.Connection,
    campaign_name: str,
    config_id: str,
    *,
    cancelled: bool | None = None,
    scheduled_at: Any = NOT_SET,
    patch: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        "insert into app.shoot_config_overrides (campaign_name, config_id, cancelled,"
        " scheduled_at, patch) values (%(c)s, %(id)s, coalesce(%(cancelled)s, false),"
        " %(at)s, coalesce(%(patch)s, '{}'::jsonb))"
        " on conflict (campaign_name, config_id) do update set"
        " cancelled = coalesce(%(cancelled)s, app.shoot_config_overrides.cancelled),"
        " scheduled_at = case when %(set_at)s then %(at)s"
        "   else app.shoot_config_overrides.scheduled_at end,"
        " patch = app.shoot_config_overrides.patch || coalesce(%(patch)s, '{}'::jsonb),"
        " updated_at = now()",
        {
            "c": campaign_name,
            "id": config_id,
            "cancelled": cancelled,
            "at": None if scheduled_at is NOT_SET else scheduled_at,
            "set_at": scheduled_at is not NOT_SET,
            "patch": Jsonb(patch) if patch else None,
        },
    )


def cancel_shoot_config(
    conn: psycopg.Connection, campaign_name: str, config_id: str
) -> EmailShoot | None:
    """Cancel one occurrence of a recurring campaign, planned or not (seed 004).

    Returns the persisted shoot if there is one (now cancelled unless it had started).
    """
    with conn.transaction():
        _upsert_override(conn, campaign_name, config_id, cancelled=True)
        conn.execute(
            "update app.shoots set state = 'cancelled', cancelled_at = now(), updated_at = now()"
            " where campaign_name = %s and config_id = %s and state in ('pending', 'scheduled')",
            (campaign_name, config_id),
        )
        found = list_shoots(conn, campaign_name=campaign_name, config_id=config_id)
    return found[0] if found else None


def resume_shoot_config(
    conn: psycopg.Connection, campaign_name: str, config_id: str
) -> EmailShoot | None:
    """Undo ``cancel_shoot_config``: the occurrence is scheduled again if it never started."""
    with conn.transaction():
        _upsert_override(conn, campaign_name, config_id, cancelled=False)
        conn.execute(
            "update app.shoots set state = 'scheduled', cancelled_at = null, updated_at = now()"
            " where campaign_name = %s and config_id = %s and state = 'cancelled'"
            " and started_at is null",
            (campaign_name, config_id),
        )
        found = list_shoots(conn, campaign_name=campaign_name, config_id=config_id)
    return found[0] if found else None


def patch_shoot_config(
    conn: psycopg.Connection,
    campaign_name: str,
    config_id: str,
    *,
    scheduled_at: Any = NOT_SET,
    template_settings: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
) -> EmailShoot | None:
    """Change one occurrence (time, template settings merged, metadata merged), planned or not.

    A planned occurrence is updated only while it has not started.
    """
    if scheduled_at is not NOT_SET and scheduled_at is not None:
        _aware(scheduled_at, "scheduled_at")
    patch: dict[str, Any] = {}
    if template_settings:
        patch["template_settings"] = template_settings
    if metadata:
        patch["metadata"] = metadata
    with conn.transaction():
        _upsert_override(conn, campaign_name, config_id, scheduled_at=scheduled_at, patch=patch)
        sets = ["updated_at = now()", "error_type = null", "error_message = null"]
        params: dict[str, Any] = {"c": campaign_name, "id": config_id}
        if scheduled_at is not NOT_SET and scheduled_at is not None:
            sets.append("scheduled_at = %(at)s")
            params["at"] = scheduled_at
        if template_settings:
            sets.append("template_settings = template_settings || %(ts)s")
            params["ts"] = Jsonb(template_settings)
        if metadata:
            sets.append("metadata = metadata || %(md)s")
            params["md"] = Jsonb(metadata)
        conn.execute(
            f"update app.shoots set {', '.join(sets)} where campaign_name = %(c)s"
            " and config_id = %(id)s and state in ('pending', 'scheduled')",
            params,
        )
        found = list_shoots(conn, campaign_name=campaign_name, config_id=config_id)
    return found[0] if found else None


def get_planning(
    conn: psycopg.Connection,
    registry: Registry,
    campaign_name: str,
    before: datetime,
    after: datetime | None = None,
    config_id: str | None = None,
    states: list[EmailShootState] | None = None,
    limit: int | None = None,
) -> Planning:
    """The campaign's shoots in ``[after, before)``: persisted ones, and the configs not planned
    yet as ``pending`` (or ``cancelled`` if an operator cancelled them) with ``is_persisted``
    False (seed 004)."""
    campaign = registry.get_recurring_campaign(campaign_name)
    after = after or _now()
    persisted = list_shoots(
        conn,
        scheduled_before=before,
        scheduled_after=after,
        campaign_name=campaign_name,
        config_id=config_id,
    )
    configs = campaign.get_shoot_configs(after, before)
    # Occurrences planned already, possibly patched to a time outside the window.
    planned_ids = {s.config_id for s in persisted} | {
        row[0]
        for row in conn.execute(
            "select config_id from app.shoots where campaign_name = %s and config_id = any(%s)",
            (campaign_name, [c.config_id for c in configs]),
        )
    }
    overrides = _overrides(conn, campaign_name)
    shoots = list(persisted)
    for config in configs:
        if config.config_id in planned_ids:
            continue
        if config_id is not None and config.config_id != config_id:
            continue
        shoot = shoot_from_config(campaign, apply_override(config, overrides.get(config.config_id)))
        if shoot.state == EmailShootState.scheduled:
            shoot.state = EmailShootState.pending
        shoot.is_persisted = False
        shoots.append(shoot)
    shoots.sort(key=lambda s: (s.scheduled_at, s.config_id or ""))
    if states is not None:
        shoots = [s for s in shoots if s.state in states]
    if limit is not None:
        shoots = shoots[:limit]
    return Planning(campaign_name=campaign_name, shoots=shoots)
