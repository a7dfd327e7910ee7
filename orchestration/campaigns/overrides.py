"""Operator decisions about single occurrences of a recurring campaign: cancel, resume, patch,
complete.

They live in ``app.shoot_config_overrides`` (one row per campaign and config_id), so they apply
whether the occurrence was planned already or not: planning applies them to the configs it
persists (``apply_override``), and an occurrence already planned is updated in place while it has
not started.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from orchestration.campaigns.custom_blocks import select_blocks
from orchestration.campaigns.entities import NOT_SET, EmailShoot, EmailShootConfig, EmailShootState
from orchestration.campaigns.registry import Registry
from orchestration.campaigns.shoots import ensure_aware, list_shoots

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class ConfigOverride:
    cancelled: bool = False
    scheduled_at: datetime | None = None
    patch: dict[str, Any] = field(default_factory=dict)


def load_overrides(conn: psycopg.Connection, campaign_name: str) -> dict[str, ConfigOverride]:
    """The campaign's overrides by config_id."""
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
        custom_blocks_variation_id=patch.get(
            "custom_blocks_variation_id", config.custom_blocks_variation_id
        ),
    )
    if patch.get("state") == EmailShootState.completed:
        config = replace(config, state=EmailShootState.completed)
    if override.cancelled:
        config = replace(config, state=EmailShootState.cancelled)
    return config


def _upsert_override(
    conn: psycopg.Connection,
    campaign_name: str,
    config_id: str,
    *,
    cancelled: bool | None = None,
    scheduled_at: Any = NOT_SET,
    patch: dict[str, Any] | None = None,
) -> None:
    from psycopg.types.json import Jsonb

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


def _planned(conn: psycopg.Connection, campaign_name: str, config_id: str) -> EmailShoot | None:
    found = list_shoots(conn, campaign_name=campaign_name, config_id=config_id)
    return found[0] if found else None


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
        return _planned(conn, campaign_name, config_id)


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
        return _planned(conn, campaign_name, config_id)


def check_variation(
    registry: Registry, campaign_name: str, config_id: str, variation_id: str | None
) -> None:
    """``CustomBlocksError`` unless the campaign's custom blocks (and its template's) can render
    ``variation_id``: checked before an occurrence is patched to it."""
    campaign = registry.get_recurring_campaign(campaign_name)
    select_blocks(
        registry.get_template(campaign.template_name).custom_blocks, campaign.custom_blocks,
        variation_id, where=f"campaign {campaign_name!r} occurrence {config_id!r}",
    )  # fmt: skip


def patch_shoot_config(
    conn: psycopg.Connection,
    campaign_name: str,
    config_id: str,
    *,
    scheduled_at: Any = NOT_SET,
    template_settings: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    custom_blocks_variation_id: Any = NOT_SET,
) -> EmailShoot | None:
    """Change one occurrence (time, template settings merged, metadata merged, content
    variation), planned or not.

    A planned occurrence is updated only while it has not started. ``Emailing`` checks that the
    campaign's custom blocks have the variation before calling this.
    """
    from psycopg.types.json import Jsonb

    moved = scheduled_at is not NOT_SET and scheduled_at is not None
    if moved:
        ensure_aware(scheduled_at, "scheduled_at")
    patch: dict[str, Any] = {}
    if template_settings:
        patch["template_settings"] = template_settings
    if metadata:
        patch["metadata"] = metadata
    if custom_blocks_variation_id is not NOT_SET:  # None: back to the default content
        patch["custom_blocks_variation_id"] = custom_blocks_variation_id
    with conn.transaction():
        _upsert_override(conn, campaign_name, config_id, scheduled_at=scheduled_at, patch=patch)
        sets = ["updated_at = now()", "error_type = null", "error_message = null"]
        params: dict[str, Any] = {"c": campaign_name, "id": config_id}
        if moved:
            sets.append("scheduled_at = %(at)s")
            params["at"] = scheduled_at
        if template_settings:
            sets.append("template_settings = template_settings || %(ts)s")
            params["ts"] = Jsonb(template_settings)
        if metadata:
            sets.append("metadata = metadata || %(md)s")
            params["md"] = Jsonb(metadata)
        if custom_blocks_variation_id is not NOT_SET:
            sets.append("custom_blocks_variation_id = %(variation)s")
            params["variation"] = custom_blocks_variation_id
        conn.execute(
            f"update app.shoots set {', '.join(sets)} where campaign_name = %(c)s"
            " and config_id = %(id)s and state in ('pending', 'scheduled')",
            params,
        )
        return _planned(conn, campaign_name, config_id)


def complete_shoot_config(
    conn: psycopg.Connection, campaign_name: str, config_id: str
) -> EmailShoot | None:
    """Mark one occurrence done without sending it (seed 004), e.g. its message went out some
    other way: planned and not started, it is ``completed`` now; not planned yet, it will be
    planned ``completed`` (never sent). A shoot already sending or sent is left as it is.

    Returns the persisted shoot if there is one."""
    with conn.transaction():
        _upsert_override(
            conn, campaign_name, config_id, patch={"state": str(EmailShootState.completed)}
        )
        conn.execute(
            "update app.shoots set state = 'completed', completed_at = now(), updated_at = now()"
            " where campaign_name = %s and config_id = %s and state in ('pending', 'scheduled')",
            (campaign_name, config_id),
        )
        return _planned(conn, campaign_name, config_id)
