"""Dispatch: claim due shoots, stream their audience, and send each recipient at most once.

The guarantees, and what provides each:

* **One dispatcher per shoot.** A shoot is claimed ``FOR UPDATE SKIP LOCKED`` with a session
  advisory lock held for the whole dispatch; it vanishes with the dispatcher's connection, so a
  crashed dispatch is picked up by the next one (``claiming``).
* **At most once per recipient per shoot.** Each recipient's ledger row is committed ``queued``
  before the provider is called, ``unique (shoot_id, recipient)``, a chunk of a page in one
  statement (``page_sending``); a dispatcher resuming a crashed shoot first turns rows still
  ``queued`` into ``unknown``, never sent again (``ledger``).
* **Frequency limits under concurrency.** A conditional upsert on ``app.message_counters`` in
  the same transaction as the ledger row (``frequency``).
* **Constant memory.** The audience is read in keyset pages, two pages in memory at a time
  (``page_sending``; dry runs and rehearsals go through ``sending``).
* **Provider limits.** A shared rate limiter, and exponential back-off on throttling
  (``ratelimit``).

Suppressed recipients (``suppression``) are recorded as ``dropped``, recipients over their
frequency limit as ``skipped``, each with the reason. The suppression list is dbt's
``marts.suppression_list``: without it nothing is claimed or sent (``MartMissingError``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns.campaign import EmailSendingOptions, check_message_id
from orchestration.campaigns.claiming import (
    claim_shoot,
    lock_key_sql,
    refresh_shoot_counters,
    release_shoot,
)
from orchestration.campaigns.context import MessageSpec, SendContext
from orchestration.campaigns.custom_blocks import select_blocks
from orchestration.campaigns.entities import EmailRecipient, EmailShoot, EmailShootState
from orchestration.campaigns.errors import EmailingError, TemplateSettingsMissingKeyError
from orchestration.campaigns.ledger import mark_in_flight_unknown
from orchestration.campaigns.page_sending import send_pages
from orchestration.campaigns.pool import connect_dispatcher
from orchestration.campaigns.sending import run_recipients
from orchestration.campaigns.shoots import get_shoot, set_shoot_error
from orchestration.campaigns.suppression import require_suppression_list

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)


@dataclass
class ShootOutcome:
    """The result of one dispatch of one shoot (counts are this run's, ``shoot`` the totals)."""

    shoot_id: UUID
    claimed: bool
    shoot: EmailShoot | None = None
    counts: dict[str, int] = field(default_factory=dict)
    recovered_unknown: int = 0
    rehearsal: bool = False
    note: str = ""

    def as_metadata(self) -> dict[str, Any]:
        out: dict[str, Any] = {f"run_{name}": value for name, value in sorted(self.counts.items())}
        out["recovered_unknown"] = self.recovered_unknown
        if self.shoot is not None:
            out.update(self.shoot.counts())
            out["state"] = str(self.shoot.state)
        return out


@contextmanager
def _lease(ctx: SendContext) -> Iterator[psycopg.Connection]:
    """A dispatcher's own connection: it holds the claim lock of the shoot being sent. Nothing is
    claimed before dbt has built the suppression list (``MartMissingError``), so a warehouse that
    is not ready leaves its shoots as they are."""
    with connect_dispatcher(ctx.database_url) as lease:
        require_suppression_list(lease)
        yield lease


# ---------------------------------------------------------------------------------------------
# One claimed shoot
# ---------------------------------------------------------------------------------------------


def _shoot_spec(ctx: SendContext, shoot: EmailShoot, *, persist: bool) -> MessageSpec:
    template = ctx.registry.get_template(shoot.template_name)
    settings = template.validate_settings(shoot.template_settings)
    campaign = ctx.registry.campaigns.get(shoot.campaign_name)
    options = campaign.sending_options if campaign is not None else EmailSendingOptions()
    check_message_id(options, several_recipients=True)
    blocks = select_blocks(
        template.custom_blocks, shoot.custom_blocks, shoot.custom_blocks_variation_id,
        where=f"shoot {shoot.shoot_id}",
    )  # fmt: skip
    return MessageSpec(
        template=template,
        template_settings=settings,
        shoot_id=shoot.shoot_id,
        campaign_name=shoot.campaign_name,
        app_name=shoot.app_name,
        message_frequency=shoot.message_frequency,
        from_address=shoot.sender_email_address or "",
        dry_run=shoot.dry_run or not persist,
        enqueue_as_draft=shoot.enqueue_as_draft,
        message_metadata={"shoot_id": str(shoot.shoot_id), **shoot.metadata},
        persist=persist,
        options=options,
        blocks=blocks,
        custom_blocks_variation_id=shoot.custom_blocks_variation_id,
        transactional_message_id=shoot.transactional_message_id,
    )


def _audience_pages(
    ctx: SendContext, reader: psycopg.Connection, shoot: EmailShoot, seen: list[int]
) -> Iterator[list[EmailRecipient]]:
    segment = ctx.registry.get_segment(shoot.audience.segment)
    for page in segment.paginate_recipients(
        reader,
        shoot.audience.settings,
        page_size=ctx.settings.page_size,
        limit=shoot.audience.limit,
    ):
        seen[0] += len(page)
        yield page


def dispatch_claimed_shoot(
    ctx: SendContext, lease: psycopg.Connection, shoot: EmailShoot
) -> ShootOutcome:
    """Send a shoot this process has claimed (holding its lock on ``lease``) to completion."""
    assert shoot.shoot_id is not None
    shoot_id = shoot.shoot_id
    recovered = mark_in_flight_unknown(lease, shoot_id)
    if recovered:
        logger.warning(
            "shoot %s: %d in-flight sends of a crashed dispatch marked unknown", shoot_id, recovered
        )
    try:
        spec = _shoot_spec(ctx, shoot, persist=True)
    except EmailingError as exc:
        set_shoot_error(lease, shoot_id, exc.code, str(exc))
        raise
    refresh_shoot_counters(lease, shoot_id)  # from here on, kept current by each page
    seen = [0]
    pages = _audience_pages(ctx, lease, shoot, seen)
    try:
        if spec.dry_run:
            counts = run_recipients(
                ctx, lease, spec, pages, on_page=lambda: _still_sending(lease, shoot_id)
            )
        else:
            counts = send_pages(ctx, lease, spec, pages)
    except TemplateSettingsMissingKeyError as exc:
        refresh_shoot_counters(lease, shoot_id)
        set_shoot_error(lease, shoot_id, exc.code, str(exc))
        raise
    final = _finish(ctx, lease, shoot_id, audience_size=seen[0])
    return ShootOutcome(
        shoot_id=shoot_id,
        claimed=True,
        shoot=final,
        counts=dict(counts.values),
        recovered_unknown=recovered,
    )


def _still_sending(lease: psycopg.Connection, shoot_id: UUID) -> bool:
    """Between pages of a dry-run shoot: publish the counters so far (recounted: dry-run rows
    are few and stay ``queued``), and stop if the shoot was cancelled."""
    refresh_shoot_counters(lease, shoot_id)
    state = lease.execute(
        "select state from app.shoots where shoot_id = %s", (shoot_id,)
    ).fetchone()[0]
    return state == EmailShootState.sending


def _finish(
    ctx: SendContext, lease: psycopg.Connection, shoot_id: UUID, *, audience_size: int
) -> EmailShoot:
    """Completed (or skipped: nobody in the audience), unless cancelled meanwhile."""
    refresh_shoot_counters(lease, shoot_id)
    lease.execute(
        "update app.shoots set state = case"
        "   when recipient_count = 0 and %(seen)s = 0 then 'skipped' else 'completed' end,"
        " completed_at = %(now)s, updated_at = now()"
        " where shoot_id = %(id)s and state = 'sending'",
        {"seen": audience_size, "now": ctx.clock(), "id": shoot_id},
    )
    final = get_shoot(lease, shoot_id)
    _call_hook(ctx, final)
    return final


def _call_hook(ctx: SendContext, shoot: EmailShoot) -> None:
    campaign = ctx.registry.campaigns.get(shoot.campaign_name)
    if campaign is None:
        return
    try:
        if shoot.state == EmailShootState.completed:
            campaign.on_shoot_completed(shoot)
        elif shoot.state == EmailShootState.skipped:
            campaign.on_shoot_skipped(shoot)
    except Exception:  # a hook must not fail a sent shoot
        logger.exception("campaign hook failed for shoot %s", shoot.shoot_id)


# ---------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------


def send_shoot(
    ctx: SendContext, shoot_id: UUID | str, *, dry_run: bool = False, is_retry: bool = False
) -> ShootOutcome:
    """Send one shoot now, whatever its scheduled time (seed 004's ``send_shoot``).

    ``dry_run`` on a shoot that is not itself a dry run is a rehearsal: the audience is read,
    suppression, limits and rendering are checked and counted, nothing is written or sent and
    the shoot's state does not change. ``is_retry`` puts a completed shoot back to scheduled
    first: recipients already in its ledger are not sent again, new audience members are.
    """
    shoot_uuid = UUID(str(shoot_id))
    with _lease(ctx) as lease:
        if dry_run:
            shoot = get_shoot(lease, shoot_uuid)
            if not shoot.dry_run:
                return _rehearse(ctx, lease, shoot)
        if is_retry:
            lease.execute(
                "update app.shoots set state = 'scheduled', completed_at = null, updated_at = now()"
                " where shoot_id = %s and state in ('completed', 'skipped')",
                (shoot_uuid,),
            )
        claimed = claim_shoot(lease, now=ctx.clock(), shoot_id=shoot_uuid)
        if claimed is None:
            return _not_claimable(lease, shoot_uuid)
        try:
            return dispatch_claimed_shoot(ctx, lease, claimed)
        finally:
            release_shoot(lease, shoot_uuid)


def _not_claimable(lease: psycopg.Connection, shoot_id: UUID) -> ShootOutcome:
    current = get_shoot(lease, shoot_id)
    note = f"not claimable: {current.state}"
    if current.state == EmailShootState.sending:
        note += " (another dispatcher holds it)"
    return ShootOutcome(shoot_id, claimed=False, shoot=current, note=note)


def _rehearse(ctx: SendContext, reader: psycopg.Connection, shoot: EmailShoot) -> ShootOutcome:
    spec = _shoot_spec(ctx, shoot, persist=False)
    seen = [0]
    counts = run_recipients(ctx, reader, spec, _audience_pages(ctx, reader, shoot, seen))
    return ShootOutcome(
        shoot.shoot_id, claimed=False, shoot=shoot, counts=dict(counts.values), rehearsal=True,
        note="rehearsal: nothing written or sent",
    )  # fmt: skip


def dispatch_due_shoots(
    ctx: SendContext,
    *,
    now: datetime | None = None,
    campaign_name: str | None = None,
    scheduled_after: datetime | None = None,
    shoot_ids: list[UUID | str] | None = None,
    campaign_names: list[str] | None = None,
    max_shoots: int | None = None,
    silent_failure: bool = True,
) -> list[ShootOutcome]:
    """Claim and send due shoots one after the other until none is left (or ``max_shoots``).

    Safe to run in several processes at once: each shoot goes to exactly one of them.
    """
    outcomes: list[ShootOutcome] = []
    while max_shoots is None or len(outcomes) < max_shoots:
        with _lease(ctx) as lease:
            claimed = claim_shoot(
                lease,
                now=now or ctx.clock(),
                campaign_name=campaign_name,
                scheduled_after=scheduled_after,
                shoot_ids=shoot_ids,
                campaign_names=campaign_names,
            )
            if claimed is None:
                break
            outcomes.append(_dispatch_one(ctx, lease, claimed, silent_failure=silent_failure))
    return outcomes


def _dispatch_one(
    ctx: SendContext, lease: psycopg.Connection, claimed: EmailShoot, *, silent_failure: bool
) -> ShootOutcome:
    assert claimed.shoot_id is not None
    try:
        return dispatch_claimed_shoot(ctx, lease, claimed)
    except EmailingError as exc:
        if not silent_failure:
            raise
        logger.error("shoot %s not sent: %s", claimed.shoot_id, exc)
        return ShootOutcome(claimed.shoot_id, claimed=True, note=f"error: {exc}")
    finally:
        release_shoot(lease, claimed.shoot_id)


# ---------------------------------------------------------------------------------------------
# Dispatchable shoots, for the sensor
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DueShoot:
    shoot_id: UUID
    campaign_name: str
    config_id: str | None
    state: str
    scheduled_at: datetime
    updated_at: datetime

    @property
    def run_key(self) -> str:
        """One run per shoot, and one more per crash (a resumed shoot has a new updated_at)."""
        return f"shoot-{self.shoot_id}-{self.updated_at.isoformat()}"


def list_due_shoots(conn: psycopg.Connection, now: datetime, limit: int = 100) -> list[DueShoot]:
    """Shoots a dispatch would claim now: due and scheduled, or sending with no live
    dispatcher. Reads ``pg_locks`` instead of trying the lock, so it never races a claim."""
    rows = conn.execute(
        "select s.shoot_id, s.campaign_name, s.config_id, s.state, s.scheduled_at, s.updated_at"
        " from app.shoots s"
        " where s.state in ('scheduled', 'sending') and s.scheduled_at <= %(now)s"
        " and not s.manual_send_only and s.error_type is null"
        " and not exists (select 1 from pg_locks l where l.locktype = 'advisory'"
        "   and l.database = (select oid from pg_database where datname = current_database())"
        "   and l.objsubid = 1 and ((l.classid::bigint << 32) | l.objid::bigint)"
        f"     = {lock_key_sql('s.shoot_id')})"
        " order by s.scheduled_at, s.shoot_id limit %(limit)s",
        {"now": now, "limit": limit},
    ).fetchall()
    return [DueShoot(*row) for row in rows]
