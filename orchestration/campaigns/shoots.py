"""Shoots in ``app.shoots``: reading, scheduling, patching, duplicating and cancelling them.

Every function takes an explicit psycopg connection and commits nothing itself unless it opens
its own ``conn.transaction()`` (which commits on exit when the connection is in autocommit mode,
and nests as a savepoint otherwise) - the caller decides the transaction boundaries.

Recurring campaigns' shoots are planned in ``planning``; operator decisions about their
occurrences live in ``overrides``.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns.accounts import RecipientFilter, filter_shoots
from orchestration.campaigns.custom_blocks import CustomBlock, as_custom_blocks, select_blocks
from orchestration.campaigns.entities import (
    NOT_SET,
    Audience,
    EmailShoot,
    EmailShootState,
    MessageFrequency,
)
from orchestration.campaigns.errors import ShootNotFoundError, ShootStateError
from orchestration.campaigns.registry import Registry

if TYPE_CHECKING:
    import psycopg

EDITABLE_STATES = (EmailShootState.pending, EmailShootState.scheduled)
DEFAULT_APP_NAME = "mailtrail"


def _now() -> datetime:
    return datetime.now(UTC)


def ensure_aware(value: datetime, name: str) -> datetime:
    """``value``, refused if it is naive (a shoot's time must say which instant it is)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {value.isoformat()}")
    return value


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def get_shoot(
    conn: psycopg.Connection, shoot_id: UUID | str, *, for_update: bool = False
) -> EmailShoot:
    from psycopg.rows import dict_row

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
    account_refs: list[str] | None = None,
    user_ids: list[str] | None = None,
    registry: Registry | None = None,
) -> list[EmailShoot]:
    """Shoots matching every given filter, by scheduled time (``metadata``: jsonb containment,
    ``tags``: shoots carrying all of them; ``account_refs`` / ``user_ids``: shoots for one of
    those accounts / users, see ``accounts``, which reads audiences through ``registry``)."""
    from psycopg.rows import dict_row
    from psycopg.types.json import Jsonb

    wanted = RecipientFilter.of(account_refs, user_ids)
    if wanted is not None and registry is None:
        raise ValueError("list_shoots filters on account_refs/user_ids need the registry")
    where, params = ["true"], {}
    if shoot_ids is not None:
        where.append("shoot_id = any(%(ids)s::uuid[])")
        params["ids"] = [str(s) for s in shoot_ids]
    if scheduled_before is not None:
        where.append("scheduled_at < %(before)s")
        params["before"] = ensure_aware(scheduled_before, "scheduled_before")
    if scheduled_after is not None:
        where.append("scheduled_at >= %(after)s")
        params["after"] = ensure_aware(scheduled_after, "scheduled_after")
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
    if limit is not None and wanted is None:
        query += " limit %(limit)s"
        params["limit"] = limit
    with conn.cursor(row_factory=dict_row) as cur:
        shoots = [EmailShoot.from_row(row) for row in cur.execute(query, params)]
    if wanted is None:
        return shoots
    assert registry is not None
    return filter_shoots(conn, registry, shoots, wanted, limit)


# ---------------------------------------------------------------------------------------------
# Writing one shoot
# ---------------------------------------------------------------------------------------------


def insert_shoot(
    conn: psycopg.Connection, shoot: EmailShoot, *, on_conflict_nothing: bool
) -> EmailShoot | None:
    from psycopg.rows import dict_row
    from psycopg.types.json import Jsonb

    params = {
        "shoot_id": str(shoot.shoot_id or uuid.uuid4()),
        "campaign_name": shoot.campaign_name,
        "app_name": shoot.app_name,
        "config_id": shoot.config_id,
        "scheduled_at": ensure_aware(shoot.scheduled_at, "scheduled_at"),
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
        "tmid": shoot.transactional_message_id,
        "duplicated_from": str(shoot.duplicated_from) if shoot.duplicated_from else None,
        "blocks": Jsonb([block.to_json() for block in shoot.custom_blocks]),
        "variation": shoot.custom_blocks_variation_id,
        "cancelled_at": _now() if shoot.state == EmailShootState.cancelled else None,
        "completed_at": _now() if shoot.state == EmailShootState.completed else None,
    }
    conflict = " on conflict (campaign_name, config_id) do nothing" if on_conflict_nothing else ""
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "insert into app.shoots (shoot_id, campaign_name, app_name, config_id, scheduled_at,"
            " state, template_name, template_settings, audience, message_frequency, metadata, tags,"
            " sender_email_address, manual_send_only, dry_run, enqueue_as_draft, duplicated_from,"
            " custom_blocks, custom_blocks_variation_id, cancelled_at, completed_at,"
            " transactional_message_id)"
            " values (%(shoot_id)s, %(campaign_name)s, %(app_name)s, %(config_id)s,"
            " %(scheduled_at)s, %(state)s, %(template_name)s, %(template_settings)s, %(audience)s,"
            " %(message_frequency)s, %(metadata)s, %(tags)s, %(sender)s, %(manual)s, %(dry_run)s,"
            " %(draft)s, %(duplicated_from)s, %(blocks)s, %(variation)s, %(cancelled_at)s,"
            " %(completed_at)s, %(tmid)s)" + conflict + " returning *",
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
    custom_blocks: list[CustomBlock | dict[str, Any]] | None = None,
    custom_blocks_variation_id: str | None = None,
    transactional_message_id: str | None = None,
) -> EmailShoot:
    """Persist a shoot to be sent at ``scheduled_at`` (seed 004's ``schedule_shoot``).

    The template and segment must be registered, the template's required settings present and
    the custom blocks complete for ``custom_blocks_variation_id`` (see ``custom_blocks``): a
    mistake is reported now, not when the shoot is due. ``campaign_name`` defaults to the
    template's name (it groups the stats).
    """
    template_obj = registry.get_template(template)
    registry.get_segment(audience.segment)
    template_obj.validate_settings(template_settings or {})
    blocks = as_custom_blocks(custom_blocks)
    select_blocks(
        template_obj.custom_blocks, blocks, custom_blocks_variation_id,
        where=f"shoot of template {template!r}",
    )  # fmt: skip
    campaign = registry.campaigns.get(campaign_name) if campaign_name else None
    shoot = EmailShoot(
        shoot_id=UUID(str(shoot_id)) if shoot_id else uuid.uuid4(),
        campaign_name=campaign_name or template,
        scheduled_at=ensure_aware(scheduled_at, "scheduled_at"),
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
        custom_blocks=blocks,
        custom_blocks_variation_id=custom_blocks_variation_id,
        transactional_message_id=transactional_message_id,
    )
    with conn.transaction():
        created = insert_shoot(conn, shoot, on_conflict_nothing=False)
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
    custom_blocks: Any = NOT_SET,
    custom_blocks_variation_id: Any = NOT_SET,
    transactional_message_id: Any = NOT_SET,
) -> EmailShoot:
    """Change a shoot that has not started (seed 004); only the arguments given are changed.

    The custom blocks must stay complete for the (new) variation and template.

    Patching also clears a dispatch error recorded on the shoot, so the dispatch sensor picks it
    up again.
    """
    from psycopg.types.json import Jsonb

    with conn.transaction():
        shoot = get_shoot(conn, shoot_id, for_update=True)
        if shoot.state not in EDITABLE_STATES:
            raise ShootStateError(
                f"shoot {shoot_id} is {shoot.state}; only pending or scheduled shoots can be patched"
            )
        audience = _patched_audience(registry, shoot.audience, segment, audience_settings,
                                     audience_limit)  # fmt: skip
        sets: dict[str, Any] = {"audience": Jsonb(audience.to_json())}
        sets |= _patched_template(registry, shoot, template, template_settings)
        sets |= _patched_blocks(
            registry, shoot, sets["template_name"], custom_blocks, custom_blocks_variation_id
        )
        if message_frequency is not NOT_SET:
            sets["message_frequency"] = (
                Jsonb(message_frequency.to_json()) if message_frequency else None
            )
        sets |= _patched_columns(
            scheduled_at=scheduled_at, tags=tags, campaign_name=campaign_name, metadata=metadata,
            enqueue_as_draft=enqueue_as_draft, sender_email_address=sender_email_address,
            dry_run=dry_run, manual_send_only=manual_send_only,
            transactional_message_id=transactional_message_id,
        )  # fmt: skip
        assignments = ", ".join(f"{column} = %({column})s" for column in sets)
        conn.execute(
            f"update app.shoots set {assignments}, error_type = null, error_message = null,"
            " updated_at = now() where shoot_id = %(shoot_id)s",
            {**sets, "shoot_id": str(shoot_id)},
        )
        return get_shoot(conn, shoot_id)


def _patched_audience(
    registry: Registry, audience: Audience, segment: Any, settings: Any, limit: Any
) -> Audience:
    if segment is not NOT_SET:
        registry.get_segment(segment)
        audience = replace(audience, segment=segment)
    if settings is not NOT_SET:
        audience = replace(audience, settings=dict(settings or {}))
    if limit is not NOT_SET:
        audience = replace(audience, limit=limit)
    return audience


def _patched_template(
    registry: Registry, shoot: EmailShoot, template: Any, template_settings: Any
) -> dict[str, Any]:
    """The template columns after the patch, checked: the template has its required settings."""
    from psycopg.types.json import Jsonb

    name = shoot.template_name if template is NOT_SET else template
    settings = shoot.template_settings if template_settings is NOT_SET else template_settings
    registry.get_template(name).validate_settings(settings or {})
    return {"template_name": name, "template_settings": Jsonb(dict(settings or {}))}


def _patched_blocks(
    registry: Registry, shoot: EmailShoot, template_name: str, blocks: Any, variation_id: Any
) -> dict[str, Any]:
    """The custom-block columns after the patch, checked against the template's blocks."""
    from psycopg.types.json import Jsonb

    new_blocks = shoot.custom_blocks if blocks is NOT_SET else as_custom_blocks(blocks)
    variation = shoot.custom_blocks_variation_id if variation_id is NOT_SET else variation_id
    select_blocks(
        registry.get_template(template_name).custom_blocks, new_blocks, variation,
        where=f"shoot {shoot.shoot_id}",
    )  # fmt: skip
    return {
        "custom_blocks": Jsonb([block.to_json() for block in new_blocks]),
        "custom_blocks_variation_id": variation,
    }


def _patched_columns(**values: Any) -> dict[str, Any]:
    """The other columns given (not ``NOT_SET``), as stored."""
    from psycopg.types.json import Jsonb

    sets: dict[str, Any] = {}
    for name, value in values.items():
        if value is NOT_SET:
            continue
        if name == "scheduled_at":
            value = ensure_aware(value, "scheduled_at")
        elif name == "metadata":
            value = Jsonb(dict(value or {}))
        elif name == "tags":
            value = list(value or [])
        sets[name] = value
    return sets


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
        created = insert_shoot(conn, copy, on_conflict_nothing=False)
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
