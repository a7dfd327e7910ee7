"""Cron recurrences in an IANA time zone, correct across daylight-saving changes.

A campaign "every day at 09:00 Europe/Paris" means 09:00 on the wall clock, which is 08:00 UTC in
winter and 07:00 UTC in summer. So the cron expression is evaluated on *naive local* wall-clock
times (croniter never sees a time zone, so its own DST handling cannot interfere) and each
occurrence is then placed in the zone with ``zoneinfo``:

* a wall-clock time that does not exist (the spring-forward gap, e.g. 02:30 on the last Sunday of
  March in Paris) is moved forward by the gap (to 03:30), as most schedulers do; if that lands on
  another occurrence, it is dropped so the slot is sent once;
* a wall-clock time that happens twice (the autumn fall-back hour) is taken once, at its first
  occurrence (``fold=0``).

Each occurrence keeps its local wall-clock time: that is what identifies it (the ``config_id``),
so an occurrence has the same identity whatever the zone's offset when it is planned.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter


@dataclass(frozen=True)
class Occurrence:
    local: datetime  # naive wall-clock time as the cron expression names it
    scheduled_at: datetime  # aware, UTC
    shifted: bool = False  # fell in a DST gap and was moved forward

    @property
    def config_id(self) -> str:
        """Stable identity of the occurrence: its local wall-clock minute."""
        return self.local.strftime("%Y-%m-%dT%H:%M")


def _require_aware(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


def to_utc(local: datetime, zone: ZoneInfo) -> tuple[datetime, bool]:
    """Place a naive wall-clock time in ``zone``; True if it was in a gap and moved forward."""
    aware = local.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    round_trip = utc.astimezone(zone).replace(tzinfo=None)
    if round_trip == local:
        return utc, False
    # Non-existent: fold=0 used the offset from before the transition, which lands after the gap
    # by exactly the gap's length (02:30 CET -> 03:30 CEST). That is "moved forward by the gap".
    return utc, True


def cron_occurrences(cron: str, timezone: str, start: datetime, end: datetime) -> list[Occurrence]:
    """Occurrences of ``cron`` in ``timezone`` with ``start <= scheduled_at < end`` (UTC)."""
    start_utc = _require_aware(start, "start")
    end_utc = _require_aware(end, "end")
    if end_utc <= start_utc:
        return []
    if not croniter.is_valid(cron):
        raise ValueError(f"invalid cron expression {cron!r}")
    zone = ZoneInfo(timezone)
    # Walk local wall-clock times from a day before (offsets differ by < 1 day) to a day after.
    local_start = start_utc.astimezone(zone).replace(tzinfo=None) - timedelta(days=1)
    local_end = end_utc.astimezone(zone).replace(tzinfo=None) + timedelta(days=1)
    iterator = croniter(cron, local_start)
    found: list[Occurrence] = []
    while True:
        local = iterator.get_next(datetime)
        if local > local_end:
            break
        utc, shifted = to_utc(local, zone)
        if start_utc <= utc < end_utc:
            found.append(Occurrence(local=local, scheduled_at=utc, shifted=shifted))
    genuine = {occ.scheduled_at for occ in found if not occ.shifted}
    unique: list[Occurrence] = []
    seen: set[datetime] = set()
    for occ in found:
        if occ.shifted and occ.scheduled_at in genuine:
            continue
        if occ.scheduled_at in seen:
            continue
        seen.add(occ.scheduled_at)
        unique.append(occ)
    unique.sort(key=lambda occ: occ.scheduled_at)
    return unique


def local_day_start(moment: datetime, timezone: str, days_back: int = 0) -> datetime:
    """Midnight (as UTC) of ``moment``'s local day in ``timezone``, minus ``days_back`` days."""
    zone = ZoneInfo(timezone)
    local_date = _require_aware(moment, "moment").astimezone(zone).date() - timedelta(
        days=days_back
    )
    midnight = datetime(local_date.year, local_date.month, local_date.day)
    return to_utc(midnight, zone)[0]
