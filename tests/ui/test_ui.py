"""The Dagster UI as a person opens it after `make demo` then `make dev`, in a real browser.

Debian's chromium driven by Playwright (no browser download: ``executable_path``). One demo, on
embedded defaults in a fresh ``MAILTRAIL_HOME``, then ``mailtrail dev``; each test opens one page,
asserts what a user must see there and saves a screenshot under ``docs/screenshots/``. Marked
``ui``: not in the default run (``make test``); ``make test-ui`` runs them.
``MAILTRAIL_TEST_UI_PORT=N`` points them at a UI already serving a demo instead (`make demo`,
`make dev`): quicker while working on these tests.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

# the first test also waits for the demo and the UI to start (minutes on a busy machine)
pytestmark = [pytest.mark.ui, pytest.mark.timeout(2400)]

ROOT = Path(__file__).parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
PAGE_TIMEOUT_MS = 90_000


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"no browser: {CHROMIUM} is missing (`make test-ui` installs Debian's chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "no browser driver: the playwright package is missing (make setup installs it)"
    return None


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    env["MAILTRAIL_HOME"] = str(home)  # embedded defaults: PostgreSQL and landing under home
    return env


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["data"]


def _wait_for_location(port: int, server: subprocess.Popen, seconds: float = 300) -> None:
    query = "{ workspaceOrError { ... on Workspace { locationEntries { loadStatus } } } }"
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert server.poll() is None, "mailtrail dev exited"
        try:
            entries = graphql(port, query)["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return
        except OSError:
            pass
        time.sleep(2)
    pytest.fail("the code location did not load")


DEMO: dict[str, Path] = {}  # the demo's MAILTRAIL_HOME, when this module ran the demo


@pytest.fixture(scope="module")
def ui() -> Iterator[int]:
    """The port of a UI serving a demo's results; the demo and the server are torn down after."""
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    reuse = os.environ.get("MAILTRAIL_TEST_UI_PORT")  # a UI already serving a demo's results
    if reuse:
        yield int(reuse)
        return
    work = Path(tempfile.mkdtemp(prefix="mailtrail-ui-"))
    work.chmod(0o755)  # the embedded server runs as an unprivileged user when tests run as root
    home = work / "home"
    DEMO["home"] = home
    cli = [sys.executable, "-m", "orchestration.cli"]
    demo = subprocess.run(
        [*cli, "demo"], env=_env(home), cwd=ROOT, capture_output=True, text=True, timeout=1800
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    port = free_port()
    log = (work / "dev.log").open("wb")
    server = subprocess.Popen(
        [*cli, "dev", "--port", str(port)],
        env=_env(home),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_for_location(port, server)
        yield port
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=90)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        from orchestration.warehouse.embedded import stop_embedded_postgres

        stop_embedded_postgres(home / "pg")
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def browser(ui: int) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser, ui: int):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield page
    finally:
        context.close()


def shot(page, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def open_page(page, port: int, path: str) -> None:
    page.goto(f"http://127.0.0.1:{port}{path}", wait_until="networkidle")
    skip = page.get_by_role("button", name="Skip")  # Dagster's newsletter dialog, first visit
    if skip.count():
        skip.first.click()


def see(page, text: str) -> None:
    """Wait until the page's text holds ``text`` (the UI loads its data after the page)."""
    page.wait_for_function("text => document.body.innerText.includes(text)", arg=text)


def number_after(page, label: str) -> int:
    """The number shown right after ``label`` in the page's text (a metadata row)."""
    match = re.search(re.escape(label) + r"\s+([\d,]+)", page.inner_text("body"))
    assert match, f"{label} not shown"
    return int(match.group(1).replace(",", ""))


def body_text(page) -> str:
    return page.inner_text("body")


SENSOR_TICKS = (
    '{ sensorOrError(sensorSelector: {repositoryLocationName: "mailtrail",'
    ' repositoryName: "__repository__", sensorName: "%s"})'
    " { ... on Sensor { sensorState { ticks(limit: 5) { status skipReason } } } } }"
)
RUNS = "{ runsOrError(limit: 100) { ... on Runs { results { jobName status } } } }"
DEMO_JOBS = {
    "tracker_pipeline",
    "plan_campaigns",
    "dispatch_shoot",
    "ingest_and_build",
    "build_marts",
    "raw_freshness_checks",  # evaluates the freshness checks: no load, no build
}


def test_asset_graph_shows_the_three_groups_loaded(page, ui: int) -> None:
    open_page(page, ui, "/asset-groups")
    for group in ("ingestion", "transform", "campaigns"):
        see(page, group)
    # what the page lists under each group, as the UI's own API serves it
    nodes = graphql(ui, "{ assetNodes { groupName assetKey { path } } }")["assetNodes"]
    groups: dict[str, set[str]] = {}
    for node in nodes:
        groups.setdefault(node["groupName"], set()).add("/".join(node["assetKey"]["path"]))
    assert groups["ingestion"] == {
        "raw/ses_events", "raw/pinpoint_events", "raw/emailit_events", "raw/tracker_open_events"
    }  # fmt: skip
    assert groups["campaigns"] == {"app/shoots", "app/email_sends"}
    assert "marts/campaign_stats" in groups["transform"]
    text = body_text(page)
    assert "Error" not in text and "Failed to load" not in text
    page.wait_for_timeout(2000)
    shot(page, "asset-graph")


def test_raw_asset_shows_the_real_load_its_table_and_no_failed_check(page, ui: int) -> None:
    open_page(page, ui, "/assets/raw/ses_events")
    see(page, "Row count")
    see(page, "raw.ses_events")  # table name
    see(page, "event_key")  # column schema
    see(page, "<landing>/ses/")  # the placeholder is shown, not eaten as a tag
    assert number_after(page, "Row count") > 0
    shot(page, "raw-ses-events")

    open_page(page, ui, "/assets/raw/ses_events?view=events")
    see(page, "records_loaded")
    # the latest materialization is the demo's real load, not an idle "0 loaded" run
    assert number_after(page, "records_loaded") > 0
    see(page, "rejected_records_total")
    shot(page, "raw-ses-events-load")

    open_page(page, ui, "/assets/raw/emailit_events?view=checks")
    see(page, "freshness_check")
    see(page, "not configured: Emailit is off")
    assert "Failed" not in body_text(page)
    shot(page, "raw-emailit-off")


def test_mart_shows_row_counts_columns_and_passing_checks(page, ui: int) -> None:
    open_page(page, ui, "/assets/marts/campaign_daily_stats")
    see(page, "Row count")
    assert number_after(page, "Row count") > 0
    see(page, "Columns")
    shot(page, "mart-campaign-daily-stats")
    open_page(page, ui, "/assets/marts/campaign_daily_stats?view=checks")
    see(page, "Succeeded")
    assert "Failed" not in body_text(page)
    shot(page, "mart-checks")


def test_runs_page_shows_the_demo_and_make_dev_starts_quiet(page, ui: int) -> None:
    """After the demo, the landing sensors tick and skip: nothing is loaded or built again."""
    deadline = time.monotonic() + 300
    for sensor in ("ses_landing_sensor", "pinpoint_landing_sensor"):
        while True:
            ticks = graphql(ui, SENSOR_TICKS % sensor)["sensorOrError"]["sensorState"]["ticks"]
            if ticks:
                break
            assert time.monotonic() < deadline, f"{sensor} never ticked"
            time.sleep(5)
        assert all(tick["status"] == "SKIPPED" for tick in ticks), ticks
    runs = graphql(ui, RUNS)["runsOrError"]["results"]
    assert {run["jobName"] for run in runs} <= DEMO_JOBS, runs
    assert all(run["status"] in ("SUCCESS", "STARTED", "STARTING", "QUEUED") for run in runs)

    open_page(page, ui, "/runs")
    for job in ("ingest_and_build", "dispatch_shoot", "plan_campaigns"):
        see(page, job)
    see(page, "Success")
    text = body_text(page)
    assert "Failure" not in text and "ses_pipeline" not in text and "pinpoint_pipeline" not in text
    shot(page, "runs")


def test_campaign_assets_show_the_shoots_and_their_states(page, ui: int) -> None:
    open_page(page, ui, "/assets/app/shoots?view=events")
    see(page, "shoot_state")
    see(page, "completed")
    see(page, "recent_shoots")
    see(page, "demo_daily_digest")
    assert number_after(page, "shoot_sent_count") > 0
    shot(page, "campaign-shoots")
    open_page(page, ui, "/assets/app/email_sends?view=events")
    see(page, "shoot_state")
    assert number_after(page, "shoot_recipient_count") > 0
    shot(page, "campaign-email-sends")


def test_campaign_report_opens_in_the_browser_with_the_campaigns_figures(
    page, ui: int, tmp_path: Path
) -> None:
    """`mailtrail report` of the demo's campaign, opened from disk as a user would."""
    import psycopg

    home = DEMO.get("home")
    if home is None:
        pytest.skip("MAILTRAIL_TEST_UI_PORT names a UI whose demo home is not known")
    cli = [sys.executable, "-m", "orchestration.cli"]
    report = tmp_path / "report.html"
    done = subprocess.run(
        [*cli, "report", "--campaign", "demo_daily_digest", "--output", str(report)],
        env=_env(home), cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    url = subprocess.run(
        [*cli, "warehouse-url"], env=_env(home), cwd=ROOT, capture_output=True, text=True,
        timeout=600,
    ).stdout.strip()  # fmt: skip
    with psycopg.connect(url) as conn:
        (sent, delivered) = conn.execute(
            "select sum(sent), sum(delivered) from marts.campaign_stats"
            " where campaign_name = 'demo_daily_digest'"
        ).fetchone()
    page.goto(report.as_uri(), wait_until="load")
    see(page, "demo_daily_digest")
    text = body_text(page)
    assert re.search(rf"\b{sent:,}\s+Sent\b", text), text[:2000]
    assert re.search(rf"\b{delivered:,}\s+Delivered\b", text), text[:2000]
    assert "Shoots" in text and "completed" in text  # the demo's two shoots
    chart = page.locator("img[alt^='Daily sent']")
    assert chart.count() == 1 and chart.evaluate("img => img.naturalWidth") > 0  # drawn
    page.screenshot(path=str(SCREENSHOTS / "campaign-report.png"), full_page=True)
