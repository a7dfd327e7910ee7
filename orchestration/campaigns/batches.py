"""Batches of a shoot: its audience split into ``count`` disjoint batches sent side by side, in
threads of one process or as steps of one Dagster run on different workers.

Three steps, each on its own connection, so each can run anywhere:

1. ``start_batches`` claims the shoot as a whole dispatch would (``claim_shoot``: due or named,
   state ``sending``), checks its template, and lets go of it again: the batches of the shoot.
2. ``send_batch`` sends one batch: the recipients whose normalized address hashes to it
   (``segments.partition_sql``). It holds the shoot's lock *shared* and its batch's lock
   exclusive for its whole run (``claiming.lock_batch``): batches run together, a batch runs
   once at a time, and a whole-shoot dispatcher (exclusive lock) cannot start beside them. A
   batch resuming after a crash turns its own ``queued`` rows ``unknown`` first, as a whole
   dispatch does for the shoot.
3. ``finish_batches`` completes the shoot once no batch holds it any more.

No recipient can be sent twice whatever runs where: the batches' audiences are disjoint, and
even if they were not (two runs with different counts), each recipient's ledger row is claimed
by ``insert ... on conflict (shoot_id, recipient) do nothing`` before the provider is called
(``page_sending``), so only one dispatcher ever gets to send it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING
from uuid import UUID

from orchestration.campaigns.claiming import (
    claim_shoot,
    lock_batch,
    lock_shoot,
    release_shoot,
    unlock_batch,
)
from orchestration.campaigns.context import SendContext
from orchestration.campaigns.dispatch import (
    ShootOutcome,
    _finish,
    _lease,
    _not_claimable,
    _shoot_spec,
)
from orchestration.campaigns.entities import EmailRecipient, EmailShoot, EmailShootState
from orchestration.campaigns.errors import EmailingError, TemplateSettingsMissingKeyError
from orchestration.campaigns.ledger import mark_in_flight_unknown
from orchestration.campaigns.page_sending import send_pages
from orchestration.campaigns.sending import run_recipients
from orchestration.campaigns.shoots import get_shoot, set_shoot_error

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class ShootBatch:
    """Batch ``index`` of ``count`` of one shoot."""

    shoot_id: str
    index: int
    count: int

    def __post_init__(self) -> None:
        if not 0 <= self.index < self.count:
            raise ValueError(f"batch index {self.index} is not in 0..{self.count - 1}")


@dataclass
class BatchOutcome:
    """What one batch did: ``claimed`` False when it was not its turn (see ``note``)."""

    batch: ShootBatch
    claimed: bool
    counts: dict[str, int]
    audience: int = 0  # recipients of the batch read from the segment
    recovered_unknown: int = 0
    note: str = ""


def start_batches(ctx: SendContext, shoot_id: UUID | str, count: int) -> list[ShootBatch]:
    """Claim the shoot for a batched dispatch; its ``count`` batches, or [] if it is not
    claimable (not due, done, or being sent). A dry-run shoot is one batch."""
    if count < 1:
        raise ValueError("a shoot has at least one batch")
    shoot_uuid = UUID(str(shoot_id))
    with _lease(ctx) as lease:
        claimed = claim_shoot(lease, now=ctx.clock(), shoot_id=shoot_uuid)
        if claimed is None:
            return []
        try:
            _shoot_spec(ctx, claimed, persist=True)  # an unknown template fails here, once
        except EmailingError as exc:
            set_shoot_error(lease, shoot_uuid, exc.code, str(exc))
            raise
        finally:
            release_shoot(lease, shoot_uuid)
    count = 1 if claimed.dry_run else count
    return [ShootBatch(str(shoot_uuid), index, count) for index in range(count)]


def send_batch(ctx: SendContext, batch: ShootBatch) -> BatchOutcome:
    """Send one batch of a shoot that ``start_batches`` claimed (see the module docstring).

    The configured send rate is the shoot's: each of ``count`` batches sends at ``1/count``
    of it, so the batches together keep to it wherever they run."""
    shoot_id = UUID(batch.shoot_id)
    rate = ctx.settings.max_send_rate
    if rate is not None:
        ctx = replace(ctx, settings=replace(ctx.settings, max_send_rate=rate / batch.count))
    with _lease(ctx) as lease:
        if not lock_batch(lease, shoot_id, batch.index, batch.count):
            return BatchOutcome(batch, False, {}, note="the shoot or this batch is being sent")
        try:
            shoot = get_shoot(lease, shoot_id)
            if shoot.state != EmailShootState.sending:
                return BatchOutcome(batch, False, {}, note=f"shoot is {shoot.state}")
            partition = (batch.index, batch.count)
            recovered = mark_in_flight_unknown(lease, shoot_id, partition)
            spec = _shoot_spec(ctx, shoot, persist=True)
            seen = [0]
            pages = _batch_pages(ctx, lease, shoot, partition, seen)
            try:
                if spec.dry_run:
                    counts = run_recipients(ctx, lease, spec, pages)
                else:
                    counts = send_pages(ctx, lease, spec, pages)
            except TemplateSettingsMissingKeyError as exc:
                set_shoot_error(lease, shoot_id, exc.code, str(exc))
                raise
            return BatchOutcome(batch, True, dict(counts.values), seen[0], recovered)
        finally:
            unlock_batch(lease, shoot_id, batch.index, batch.count)


def _batch_pages(
    ctx: SendContext,
    lease: psycopg.Connection,
    shoot: EmailShoot,
    partition: tuple[int, int],
    seen: list[int],
) -> Iterator[list[EmailRecipient]]:
    segment = ctx.registry.get_segment(shoot.audience.segment)
    for page in segment.paginate_recipients(
        lease,
        shoot.audience.settings,
        page_size=ctx.settings.page_size,
        limit=shoot.audience.limit,
        partition=partition,
    ):
        seen[0] += len(page)
        yield page


def finish_batches(ctx: SendContext, shoot_id: UUID | str, *, audience: int) -> ShootOutcome:
    """Complete the shoot (or mark it skipped: ``audience``, the recipients every batch read,
    is 0 and nobody is in its ledger) once no batch holds it; not claimed if one still does."""
    shoot_uuid = UUID(str(shoot_id))
    with _lease(ctx) as lease:
        if not lock_shoot(lease, shoot_uuid):
            return _not_claimable(lease, shoot_uuid)
        try:
            current = get_shoot(lease, shoot_uuid)
            if current.state != EmailShootState.sending:
                return ShootOutcome(shoot_uuid, claimed=False, shoot=current,
                                    note=f"not finished: {current.state}")  # fmt: skip
            final = _finish(ctx, lease, shoot_uuid, audience_size=audience)
        finally:
            release_shoot(lease, shoot_uuid)
    return ShootOutcome(shoot_uuid, claimed=True, shoot=final)


def send_shoot_in_batches(ctx: SendContext, shoot_id: UUID | str, count: int) -> ShootOutcome:
    """``start_batches``, every ``send_batch`` in its own thread, ``finish_batches``: what a
    batched Dagster run does across workers, in one process. The first batch error is raised
    after every batch has stopped (the shoot stays ``sending``, to be resumed)."""
    batches = start_batches(ctx, shoot_id, count)
    if not batches:
        with _lease(ctx) as lease:
            return _not_claimable(lease, UUID(str(shoot_id)))
    outcomes: list[BatchOutcome | BaseException] = [RuntimeError("not run")] * len(batches)

    def run(position: int, batch: ShootBatch) -> None:
        try:
            outcomes[position] = send_batch(ctx, batch)
        except BaseException as exc:  # raised below, once every batch has stopped
            outcomes[position] = exc

    threads = [
        threading.Thread(target=run, args=(i, b), name=f"mailtrail-batch-{b.index}")
        for i, b in enumerate(batches)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    done = [o for o in outcomes if isinstance(o, BatchOutcome)]
    result = finish_batches(ctx, shoot_id, audience=sum(o.audience for o in done))
    totals: dict[str, int] = {}
    for outcome in done:
        for name, value in outcome.counts.items():
            totals[name] = totals.get(name, 0) + value
    result.counts = totals
    result.recovered_unknown = sum(o.recovered_unknown for o in done)
    return result
