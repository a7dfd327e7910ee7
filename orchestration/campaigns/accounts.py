"""Accounts and users of a shoot: seed 004's ``account_refs`` / ``user_ids`` filters on shoots.

A recipient's account is ``user_context["account_ref"]`` from the segment's row (seed 004's
segments put it there); dispatch writes it on the recipient's ledger row (``account_ref``). A
shoot *is for* an account (or a user) when one of its recipients is:

* a shoot that has ledger rows and is not being sent: its ledger says who it was for (what was
  sent, whatever the segment holds today);
* a shoot not sent yet (scheduled, a planning's pending config, cancelled or skipped before
  sending): its audience as the segment gives it now, within the audience limit;
* a shoot being sent: either.

With both filters a single recipient must match both (as ``paginate_email_logs`` does). The
filters select whole shoots: they never split one, so a shoot they select is sent to its whole
audience. Campaigns that send per account plan one shoot per account (an audience setting).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from orchestration.campaigns.entities import Audience, EmailShoot, EmailShootState
from orchestration.campaigns.registry import Registry

if TYPE_CHECKING:
    import psycopg


@dataclass(frozen=True)
class RecipientFilter:
    """``account_refs`` and/or ``user_ids`` (None: that filter is off; an empty list matches
    nothing)."""

    account_refs: tuple[str, ...] | None = None
    user_ids: tuple[str, ...] | None = None

    @classmethod
    def of(
        cls, account_refs: Iterable[str] | None, user_ids: Iterable[str] | None
    ) -> RecipientFilter | None:
        """The filter, or None when neither is given (nothing to filter)."""
        if account_refs is None and user_ids is None:
            return None
        return cls(
            None if account_refs is None else tuple(str(a) for a in account_refs),
            None if user_ids is None else tuple(str(u) for u in user_ids),
        )

    def _ledger_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = [], {}
        if self.account_refs is not None:
            where.append("e.account_ref = any(%(accounts)s)")
            params["accounts"] = list(self.account_refs)
        if self.user_ids is not None:
            where.append("e.user_id = any(%(users)s)")
            params["users"] = list(self.user_ids)
        return " and ".join(where), params


def account_refs_argument(
    account_refs: Iterable[str] | None, account_ids: Iterable[str] | None
) -> Iterable[str] | None:
    """Seed 004 names the account filter ``account_ids`` on ``schedule_pending_shoots`` and
    ``process_pending_shoots`` and ``account_refs`` elsewhere: both are accepted, not both."""
    if account_refs is not None and account_ids is not None:
        raise ValueError("give account_refs or account_ids (the same filter), not both")
    return account_refs if account_refs is not None else account_ids


def audience_matches(
    conn: psycopg.Connection, registry: Registry, audience: Audience, wanted: RecipientFilter
) -> bool:
    """Whether the audience has a recipient the filter wants (one query on the segment)."""
    segment = registry.get_segment(audience.segment)
    return segment.has_member(
        conn,
        audience.settings,
        limit=audience.limit,
        account_refs=None if wanted.account_refs is None else list(wanted.account_refs),
        user_ids=None if wanted.user_ids is None else list(wanted.user_ids),
    )


def _ledgers(
    conn: psycopg.Connection, shoot_ids: list[UUID], wanted: RecipientFilter
) -> dict[UUID, bool]:
    """For the shoots among ``shoot_ids`` that have ledger rows: whether one row matches."""
    if not shoot_ids:
        return {}
    where, params = wanted._ledger_sql()
    rows = conn.execute(
        "select s.shoot_id, exists (select 1 from app.email_sends e"
        f"  where e.shoot_id = s.shoot_id and {where})"
        " from unnest(%(ids)s::uuid[]) as s(shoot_id)"
        " where exists (select 1 from app.email_sends e where e.shoot_id = s.shoot_id)",
        {**params, "ids": shoot_ids},
    ).fetchall()
    return {row[0]: bool(row[1]) for row in rows}


def filter_shoots(
    conn: psycopg.Connection,
    registry: Registry,
    shoots: list[EmailShoot],
    wanted: RecipientFilter,
    limit: int | None = None,
) -> list[EmailShoot]:
    """The shoots (in their order, at most ``limit``) that are for the wanted accounts/users
    (see the module docstring); audiences are read only as far as ``limit`` needs."""
    ledgers = _ledgers(
        conn, [s.shoot_id for s in shoots if s.shoot_id is not None and s.is_persisted], wanted
    )
    kept: list[EmailShoot] = []
    for shoot in shoots:
        if limit is not None and len(kept) >= limit:
            break
        in_ledger = ledgers.get(shoot.shoot_id) if shoot.is_persisted else None
        if in_ledger or (
            (in_ledger is None or shoot.state == EmailShootState.sending)
            and audience_matches(conn, registry, shoot.audience, wanted)
        ):
            kept.append(shoot)
    return kept
