"""A tiny MaxMind-format database written by ``mmdb-writer``, with GeoIP2-City-shaped records, so
the GeoIP lookup runs against a real .mmdb file and nothing is downloaded."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

__all__ = ["city_record", "write_geoip_database"]


def city_record(
    country: str, region: str | None = None, city: str | None = None, *, lat: float, lon: float
) -> dict:
    record: dict = {
        "country": {"names": {"en": country}},
        "location": {"latitude": lat, "longitude": lon},
    }
    if region:
        record["subdivisions"] = [{"names": {"en": region}}]
    if city:
        record["city"] = {"names": {"en": city}}
    return record


def write_geoip_database(path: Path, networks: Mapping[str, dict]) -> Path:
    """Write ``networks`` (CIDR -> record) as a GeoIP2-City database at ``path``."""
    writer = MMDBWriter(ip_version=6, database_type="GeoIP2-City", ipv4_compatible=True)
    for cidr, record in networks.items():
        writer.insert_network(IPSet([cidr]), record)
    writer.to_db_file(str(path))
    return path
