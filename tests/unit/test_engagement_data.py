"""The labelled engagement generator: every open and click carries its truth, the mix is the
one documented, and a seed gives the same data."""

from __future__ import annotations

from collections import Counter

from bench.engagement_data import iter_labelled_engagement
from orchestration.simulation.clients import MPP_USER_AGENT


def test_every_open_and_click_is_labelled_and_deliveries_are_not() -> None:
    events = list(iter_labelled_engagement(2000, seed=3))
    for event in events:
        if event.event_type == "delivered":
            assert event.label is None
        else:
            assert event.label in ("human", "machine", "duplicate")
            kind = "Open" if event.event_type == "opened" else "Click"
            assert event.record["eventType"] == kind
    kinds = Counter((e.event_type, e.label) for e in events)
    assert kinds["delivered", None] == 2000
    assert all(kinds[k] > 0 for k in [("opened", "human"), ("opened", "machine"),
               ("opened", "duplicate"), ("clicked", "human"), ("clicked", "machine")])  # fmt: skip


def test_the_mix_is_realistic() -> None:
    events = [e for e in iter_labelled_engagement(5000, seed=4) if e.event_type == "opened"]
    machine = [e for e in events if e.label == "machine"]
    # most machine opens are Apple's prefetch; machines outnumber people's first opens
    mpp = sum(e.record["open"]["userAgent"] == MPP_USER_AGENT for e in machine)
    assert mpp / len(machine) > 0.7
    assert len(machine) > sum(e.label == "human" for e in events)


def test_a_seed_gives_the_same_data() -> None:
    first = [(e.message_id, e.at, e.label) for e in iter_labelled_engagement(300, seed=9)]
    again = [(e.message_id, e.at, e.label) for e in iter_labelled_engagement(300, seed=9)]
    assert first == again


def test_the_simulated_message_life_labels_its_opens_and_clicks() -> None:
    from datetime import UTC, datetime

    from orchestration.simulation.message_life import Event

    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert Event("machine_open", at).label == "machine"
    assert Event("scanner_click", at).label == "machine"
    assert Event("open", at).label == Event("click", at).label == "human"
    assert Event("delivery", at).label is None
