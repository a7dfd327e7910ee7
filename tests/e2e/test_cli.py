"""The `mailtrail` command as a user runs it: a real process, real Dagster instance storage."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from orchestration.cli.main import NOTHING_TO_BUILD
from orchestration.warehouse.embedded import stop_embedded_postgres
from tests.integration.ses_records import bounce, delivery, line

pytestmark = pytest.mark.e2e


def mailtrail(
    home: Path, database_url: str | None, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    env["MAILTRAIL_HOME"] = str(home)
    env.update(extra_env or {})
    if database_url:
        env["MAILTRAIL_DATABASE_URL"] = database_url
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).parents[2],
    )


def test_load_prints_counts_and_records_the_run(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    data = tmp_path / "export"
    data.mkdir()
    (data / "a.json").write_bytes(
        line(delivery("m-1", ["a@example.com"])) + line(bounce("m-2", ["b@x.io", "c@x.io"]))
    )
    (data / "b.json").write_bytes(line(delivery("m-1", ["a@example.com"])) + b"\n{oops\n")

    done = mailtrail(tmp_path / "home", database_url, "load", "ses", str(data))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "loaded=2 duplicate=1 rejected=1"

    again = mailtrail(tmp_path / "home", database_url, "load", "ses", str(data))
    assert again.stdout.strip().splitlines()[-1] == "loaded=0 duplicate=0 rejected=0"
    # both runs went through Dagster and are stored in the same PostgreSQL as the warehouse
    (runs,) = db.execute("select count(*) from public.runs where status = 'SUCCESS'").fetchone()
    assert runs == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("load", "sendgrid", "x"), "unknown provider 'sendgrid'"),
        (("load", "ses", "/nonexistent/folder"), "no such file or folder: /nonexistent/folder"),
    ],
)
def test_usage_errors_exit_non_zero_with_a_clear_message(
    database_url: str, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    done = mailtrail(tmp_path / "home", database_url, *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_bad_database_url_is_reported_with_its_variable(tmp_path: Path) -> None:
    done = mailtrail(tmp_path / "home", "mysql://root@localhost/x", "warehouse-url")
    assert done.returncode == 2
    assert "MAILTRAIL_DATABASE_URL" in done.stderr


def test_warehouse_url_starts_the_embedded_server_under_home(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = mailtrail(home, None, "warehouse-url")
    try:
        assert done.returncode == 0, done.stderr
        url = done.stdout.strip()
        assert url.startswith("postgresql://") and str(home / "pg") in url
        with psycopg.connect(url) as conn:
            tables = {r[0] for r in conn.execute("select schemaname from pg_tables")}
        assert {"raw"} <= tables
    finally:
        stop_embedded_postgres(home / "pg")  # the CLI leaves it running for the next command


def test_demo_runs_the_campaign_loop_and_prints_the_stats(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    # a warehouse after its first `mailtrail build`: dispatch reads dbt's suppression list
    done = mailtrail(tmp_path / "home", database_url, "demo")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Shoots of demo_daily_digest" in done.stdout
    assert "weekly_digest" in done.stdout and "spring_sale_pinpoint" in done.stdout
    # the console keeps to the results: dbt's own log and Dagster's step events go elsewhere
    assert "START sql" not in done.stdout and " - DEBUG - " not in done.stderr
    run_log = tmp_path / "home" / "logs" / "ingest_and_build.log"
    assert "Completed successfully" in run_log.read_text()
    assert f"step output: {run_log}" in done.stdout

    shoots = db.execute(
        "select shoot_id, state from app.shoots where campaign_name = 'demo_daily_digest'"
        " order by scheduled_at"
    ).fetchall()
    assert [state for _, state in shoots] == ["completed", "completed"]
    # day two skipped whoever bounced or complained on day one: the loop is closed
    (dropped, suppressed) = db.execute(
        "select count(*), count(*) filter (where s.recipient in"
        "  (select recipient from marts.suppression_list))"
        " from app.email_sends as s where s.shoot_id = %s and s.status = 'dropped'",
        (shoots[1][0],),
    ).fetchone()
    assert dropped > 0 and dropped == suppressed
    # our sends and the provider's events meet in email_logs
    (joined,) = db.execute(
        "select count(*) from marts.email_logs"
        " where campaign_name = 'demo_daily_digest' and user_id is not null"
        " and state in ('delivered', 'bounced')"
    ).fetchone()
    assert joined > 0
    # the runs went through Dagster and are in its storage
    (runs,) = db.execute("select count(*) from public.runs where status = 'SUCCESS'").fetchone()
    assert runs >= 3
    # ... as runs of the code location's jobs, so each job's page lists them after the demo
    jobs = dict(
        db.execute(
            "select r.pipeline_name, count(*) from runs r join run_tags t on t.run_id = r.run_id"
            " where t.key = '.dagster/repository' and t.value = '__repository__@mailtrail'"
            " group by r.pipeline_name"
        ).fetchall()
    )
    assert jobs["plan_campaigns"] == 2 and jobs["dispatch_shoot"] == 2
    assert jobs["ingest_and_build"] == 2 and jobs["tracker_pipeline"] == 1

    # `mailtrail build` builds what changed since the demo's last whole build, then finds
    # nothing to do: it says so and starts no run
    builds = "select count(*) from public.runs where pipeline_name = 'build_marts'"
    built = mailtrail(tmp_path / "home", database_url, "build")
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (runs_after_build,) = db.execute(builds).fetchone()
    idle = mailtrail(tmp_path / "home", database_url, "build")
    assert idle.returncode == 0 and idle.stdout.strip() == NOTHING_TO_BUILD
    assert db.execute(builds).fetchone() == (runs_after_build,)

    # `mailtrail build --from --to` is one run of the daily marts' partitions of those days
    (day,) = db.execute("select max(date_day) from marts.campaign_daily_stats").fetchone()
    reprocessed = mailtrail(tmp_path / "home", database_url, "build", "--from", str(day))
    assert reprocessed.returncode == 0, reprocessed.stdout[-2000:] + reprocessed.stderr[-2000:]
    tags = dict(
        db.execute(
            "select t.key, t.value from runs r join run_tags t on t.run_id = r.run_id"
            " where r.pipeline_name = 'reprocess_days' and r.status = 'SUCCESS'"
            " and t.key like 'dagster/asset_partition_range_%'"
        ).fetchall()
    )
    assert tags == {
        "dagster/asset_partition_range_start": str(day),
        "dagster/asset_partition_range_end": str(day),
    }
    too_early = mailtrail(tmp_path / "home", database_url, "build", "--from", "2019-06-01")
    assert too_early.returncode == 2
    assert too_early.stderr.strip().splitlines() == [
        "mailtrail: build --from/--to: 2019-06-01 is before 2020-01-01, the first daily"
        " partition (a full refresh rebuilds every day)"
    ]


def test_plan_then_dispatch_sends_each_contact_and_queued_email_once_through_the_sender(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    from orchestration.campaigns import EmailPriority, EmailRecipient, Registry
    from orchestration.campaigns.send_queue import enqueue
    from orchestration.campaigns.send_requests import SendRequest
    from orchestration.demo.campaign import DEMO_TEMPLATE, register_demo, seed_demo_contacts

    seed_demo_contacts(db, count=6)
    subscribed = db.execute("select count(*) from app.contacts where is_subscribed").fetchone()[0]
    home, outbox = tmp_path / "home", tmp_path / "outbox"
    env = {
        "MAILTRAIL_SENDER": "outbox",
        "MAILTRAIL_OUTBOX_DIR": str(outbox),
        "MAILTRAIL_CAMPAIGNS": "orchestration.demo.campaign:register_demo",
    }

    # the last two days' 09:00 Paris digests, both already due
    planned = mailtrail(
        home, database_url, "plan", "--days", "0", "--backfill-days", "2", extra_env=env
    )
    assert planned.returncode == 0, planned.stderr[-3000:]
    summary = ast.literal_eval(planned.stdout.strip().splitlines()[-1])
    created = summary["shoots_created"]
    assert created >= 1 and summary["sends_marked_unknown"] == 0

    # and two queued single emails (send_email(async_send=True) in the app's process), one urgent
    queued = [
        SendRequest(EmailRecipient(None, f"q{i}@example.com", {"first_name": "Q", "plan": "pro"}),
                    DEMO_TEMPLATE, {"headline": "h", "edition": "e"}, email_priority=priority)
        for i, priority in enumerate([EmailPriority.low, EmailPriority.high])
    ]  # fmt: skip
    enqueue(db, queued, datetime.now(UTC), register_demo(Registry()))

    sent = mailtrail(home, database_url, "dispatch", extra_env=env)
    assert sent.returncode == 0, sent.stderr[-3000:]
    assert f"dispatched {created} shoot(s)" in sent.stdout
    assert "drained 2 queued send(s)" in sent.stdout
    assert len(list(outbox.rglob("*.eml"))) == subscribed * created + 2 > 2
    again = mailtrail(home, database_url, "dispatch", extra_env=env)
    assert "dispatched 0 shoot(s)" in again.stdout and "drained 0 queued send(s)" in again.stdout
    assert len(list(outbox.rglob("*.eml"))) == subscribed * created + 2  # nobody got one twice


def test_a_fresh_deployment_plans_nothing_nobody_registered(
    database_url: str, db: psycopg.Connection, tmp_path: Path
) -> None:
    """No MAILTRAIL_CAMPAIGNS: the demo campaign is not there, so nothing is planned or sent."""
    planned = mailtrail(tmp_path / "home", database_url, "plan", "--backfill-days", "3")
    assert planned.returncode == 0, planned.stderr[-3000:]
    summary = ast.literal_eval(planned.stdout.strip().splitlines()[-1])
    assert summary["shoots_created"] == 0 and summary["campaigns"] == ""
    assert db.execute("select count(*) from app.shoots").fetchone()[0] == 0
    # the run is on the plan_campaigns job's page: created from the code location, tagged
    (label, command) = db.execute(
        "select max(t.value) filter (where t.key = '.dagster/repository'),"
        " max(t.value) filter (where t.key = 'mailtrail/command')"
        " from runs r join run_tags t on t.run_id = r.run_id"
        " where r.pipeline_name = 'plan_campaigns'"
    ).fetchone()
    assert (label, command) == ("__repository__@mailtrail", "plan")


def test_dispatch_with_an_unknown_sender_fails_before_sending(
    database_url: str, tmp_path: Path
) -> None:
    done = mailtrail(
        tmp_path / "home", database_url, "dispatch", extra_env={"MAILTRAIL_SENDER": "pigeon"}
    )
    assert done.returncode == 2
    assert "MAILTRAIL_SENDER must be one of ses, smtp, outbox, simulator, got 'pigeon'" in (
        done.stderr
    )


def test_dev_serves_the_ui_with_the_code_location_loaded(database_url: str, tmp_path: Path) -> None:
    """`make dev` as a user runs it: no venv activated, so `dbt` is not on PATH."""
    import json
    import signal
    import time
    import urllib.request

    from tests.conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    env.update(
        MAILTRAIL_HOME=str(tmp_path / "home"),
        MAILTRAIL_DATABASE_URL=database_url,
        PATH="/usr/local/bin:/usr/bin:/bin",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "dev", "--port", str(port)],
        env=env,
        cwd=Path(__file__).parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # dagster dev stops on a signal only in its own process group
    )
    query = (
        "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus"
        " locationOrLoadError { __typename ... on PythonError { message }"
        " ... on RepositoryLocation { repositories { jobs { name } sensors { name } } } } } } } }"
    )
    try:
        entry = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(2)
            try:
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/graphql",
                    data=json.dumps({"query": query}).encode(),
                    headers={"content-type": "application/json"},
                )
                with urllib.request.urlopen(request, timeout=10) as response:
                    (entry,) = json.load(response)["data"]["workspaceOrError"]["locationEntries"]
            except OSError:
                continue  # not listening yet
            if entry["loadStatus"] == "LOADED":
                break
        assert entry is not None and entry["loadStatus"] == "LOADED", entry
        location = entry["locationOrLoadError"]
        assert location["__typename"] == "RepositoryLocation", location.get("message")
        (repository,) = location["repositories"]
        jobs = {job["name"] for job in repository["jobs"]}
        sensors = {sensor["name"] for sensor in repository["sensors"]}
        assert {"ingest_and_build", "plan_campaigns", "dispatch_shoot"} <= jobs
        assert {"ses_landing_sensor", "shoot_dispatch_sensor"} <= sensors
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_preview_serves_a_template_preview_over_http(database_url: str, tmp_path: Path) -> None:
    """`mailtrail preview` as a user starts it: the campaigns of MAILTRAIL_CAMPAIGNS, a page a
    browser opens on loopback, stopped with Ctrl-C."""
    import json
    import signal
    import time
    import urllib.request

    from orchestration.campaigns.preview import preview_link
    from orchestration.demo.campaign import DEMO_TEMPLATE
    from tests.conftest import free_port

    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    env.update(
        MAILTRAIL_HOME=str(tmp_path / "home"),
        MAILTRAIL_DATABASE_URL=database_url,
        MAILTRAIL_CAMPAIGNS="orchestration.demo.campaign:register_demo",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "orchestration.cli", "preview", "--port", str(port)],
        env=env, cwd=Path(__file__).parents[2], stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    url = preview_link(
        f"http://127.0.0.1:{port}",
        template=DEMO_TEMPLATE,
        template_settings={"headline": "Trail news", "edition": "2026-11-30"},
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr
                time.sleep(0.5)
        assert "<title>Ada, your digest for 2026-11-30</title>" in page
        assert json.dumps("Trail news")[1:-1] in page
    finally:
        # Ctrl-C; handled although this test may run in a background job, where SIGINT is
        # inherited ignored
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
