"""Where an IP address is, from a MaxMind-format database (GeoIP2 / GeoLite2 City or Country, or
any database with the same record shape), read with MaxMind's ``maxminddb`` reader.

Nothing is downloaded: the user points ``MAILTRAIL_GEOIP_DATABASE`` at a file they obtained under
its own licence. Without one, addresses are still validated (the ``ip`` column, used by dbt to
match Apple's proxy ranges) and get no geolocation.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

__all__ = ["GeoIpDatabase", "GeoLocation", "valid_ip"]


@dataclass(frozen=True)
class GeoLocation:
    country: str | None = None
    region: str | None = None
    city: str | None = None
    latitude: float | None = None
    longitude: float | None = None


def valid_ip(text: str) -> str | None:
    """The address in canonical form, or None when ``text`` is not an IP address."""
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _name(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    names = record.get("names")
    if isinstance(names, dict):
        return names.get("en") or next(iter(names.values()), None)
    return None


class GeoIpDatabase:
    """An open MaxMind-format database; use as a context manager."""

    def __init__(self, path: str | Path) -> None:
        import maxminddb  # by an enrichment run only, not by every load of the code location

        try:
            self._reader = maxminddb.open_database(str(path))
        except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
            raise ValueError(f"GeoIP database {path}: cannot be read ({exc})") from None
        meta = self._reader.metadata()
        self.build = f"{meta.database_type}@{meta.build_epoch}"

    def __enter__(self) -> GeoIpDatabase:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._reader.close()

    def locate(self, ip: str) -> GeoLocation:
        """The location of a valid address (empty when the database does not know it)."""
        record = self._reader.get(ip)
        if not isinstance(record, dict):
            return GeoLocation()
        subdivisions = record.get("subdivisions") or [None]
        location = record.get("location") if isinstance(record.get("location"), dict) else {}
        return GeoLocation(
            country=_name(record.get("country")) or _name(record.get("registered_country")),
            region=_name(subdivisions[0]),
            city=_name(record.get("city")),
            latitude=location.get("latitude"),
            longitude=location.get("longitude"),
        )
