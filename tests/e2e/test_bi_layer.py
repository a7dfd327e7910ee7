"""What BI users and report readers get: campaign totals, the semantic layer's metrics queried
through MetricFlow, and ``mailtrail report``, each checked against the generator's ground truth
on one warehouse built by a real ``dbt build``."""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest

from orchestration.demo.ses_generator import generate_ses_landing
from orchestration.ingestion.landing import list_objects
from orchestration.ingestion.objects import ingest_objects
from orchestration.ingestion.sources import SES
from orchestration.warehouse.connection import connect, dbt_env, with_database
from orchestration.warehouse.migrations import migrate
from tests.conftest import DBT, DBT_PROJECT, _create_database, _drop_database, run_dbt

pytestmark = pytest.mark.e2e

COUNTS = ("sent", "delivered", "hard_bounced", "soft_bounced", "complained", "opened", "clicked")
MF = str(Path(sys.executable).with_name("mf"))


@dataclass(frozen=True)
class Warehouse:
    url: str
    totals: dict[str, dict[str, int]]  # campaign -> metric -> unique email logs, from the truth


@pytest.fixture(scope="module")
def warehouse(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory, dbt_target: Path
) -> Iterator[Warehouse]:
    """Two campaigns over three days of generated SES events, loaded and built once."""
    name = f"mt_test_{uuid.uuid4().hex[:12]}"
    _create_database(pg_admin_url, name)
    url = with_database(pg_admin_url, name)
    try:
        landing = tmp_path_factory.mktemp("landing")
        summary = generate_ses_landing(
            landing, seed=23, days=3, campaigns=2, recipients_per_campaign=60
        )
        with connect(url, autocommit=True) as conn:
            migrate(conn)
            ingest_objects(conn, SES, list(list_objects(str(landing), "ses")), None)
        run_dbt(url, "build", "--exclude-resource-type", "unit_test", target_path=dbt_target)
        totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
        for (_day, campaign), counts in summary.truth.items():
            for metric in COUNTS:
                totals[campaign][metric] += counts.get(metric, 0)
        yield Warehouse(url, dict(totals))
    finally:
        _drop_database(pg_admin_url, name)


def test_campaign_stats_are_each_campaigns_unique_totals(warehouse: Warehouse) -> None:
    with connect(warehouse.url) as conn:
        rows = conn.execute(
            f"select campaign_name, {', '.join(COUNTS)}, open_rate, click_rate"
            " from marts.campaign_stats"
        ).fetchall()
    got = {row[0]: dict(zip(COUNTS, row[1:-2], strict=True)) for row in rows}
    assert got == warehouse.totals
    for row in rows:
        counts = dict(zip(COUNTS, row[1:-2], strict=True))
        assert row[-2] == round(Decimal(counts["opened"]) / counts["delivered"], 6)
        assert row[-1] == round(Decimal(counts["clicked"]) / counts["delivered"], 6)
        assert 0 <= row[-2] <= 1  # a campaign's rate, unlike a day's, stays a rate


def test_the_semantic_layer_answers_the_headline_metrics(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """MetricFlow (what dbt's semantic layer integrations query) compiles the metrics to SQL on
    this warehouse, and they equal the truth."""
    # MetricFlow reads <project>/target/semantic_manifest.json, which names the database it was
    # parsed for: a copy of the project, parsed for this warehouse, as a BI deployment does
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs"))
    env = {**os.environ, **dbt_env(warehouse.url), "DBT_PROFILES_DIR": str(project)}
    out = tmp_path / "metrics.csv"
    metrics = "emails_sent,emails_delivered,emails_opened,open_rate,click_rate,bounce_rate"
    for command in (
        [DBT, "parse", "--quiet"],
        [MF, "query", "--metrics", metrics, "--group-by", "campaign_day__campaign_name",
         "--csv", str(out)],
    ):  # fmt: skip
        done = subprocess.run(
            command, cwd=project, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    with out.open(newline="") as handle:
        rows = {row["campaign_day__campaign_name"]: row for row in csv.DictReader(handle)}
    assert set(rows) == set(warehouse.totals)
    for campaign, truth in warehouse.totals.items():
        row = rows[campaign]
        assert int(row["emails_sent"]) == truth["sent"]
        assert int(row["emails_delivered"]) == truth["delivered"]
        assert int(row["emails_opened"]) == truth["opened"]
        assert float(row["open_rate"]) == pytest.approx(truth["opened"] / truth["delivered"])
        assert float(row["click_rate"]) == pytest.approx(truth["clicked"] / truth["delivered"])
        bounced = truth["hard_bounced"] + truth["soft_bounced"]
        assert float(row["bounce_rate"]) == pytest.approx(bounced / truth["sent"])


def mailtrail(home: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAILTRAIL_", "DAGSTER_"))}
    env.update(MAILTRAIL_HOME=str(home), MAILTRAIL_DATABASE_URL=database_url)
    return subprocess.run(
        [sys.executable, "-m", "orchestration.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_cwd(home),
    )


def tmp_cwd(home: Path) -> Path:
    cwd = home.parent / "cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    return cwd


def test_report_writes_one_self_contained_page_with_the_campaigns_figures(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    campaign = sorted(warehouse.totals)[0]
    truth = warehouse.totals[campaign]
    done = mailtrail(tmp_path / "home", warehouse.url, "report", "--campaign", campaign)
    assert done.returncode == 0, done.stderr
    page = tmp_cwd(tmp_path / "home") / f"campaign-{campaign}.html"
    assert str(page) in done.stdout
    html = page.read_text(encoding="utf-8")
    assert f"<h1>{campaign}</h1>" in html
    for metric in ("sent", "delivered", "opened", "clicked", "complained"):
        card = f'data-metric="{metric}"><div class="value">{truth[metric]:,}</div>'
        assert card in html, metric
    open_rate = truth["opened"] / truth["delivered"] * 100
    assert f'<td data-metric="open_rate">{open_rate:.1f}%</td>' in html
    assert 'src="data:image/png;base64,' in html  # the chart is inside the page
    assert "<link " not in html and "<script" not in html  # nothing to fetch: it opens offline


def test_report_of_an_unknown_campaign_names_the_ones_there_are(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    done = mailtrail(
        tmp_path / "home", warehouse.url, "report", "--campaign", "nope", "--output", str(out)
    )
    assert done.returncode == 1 and not out.exists()
    (line,) = done.stderr.strip().splitlines()
    assert "no campaign 'nope'" in line
    assert all(campaign in line for campaign in warehouse.totals)


def test_docs_writes_one_static_page_describing_the_marts(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    out = tmp_path / "docs"
    done = mailtrail(tmp_path / "home", warehouse.url, "docs", "--output", str(out))
    assert done.returncode == 0, done.stderr
    page = out / "static_index.html"
    assert str(page) in done.stdout
    html = page.read_text(encoding="utf-8")
    # the manifest is inside the page: it opens from disk, no server
    assert "model.mailtrail.campaign_stats" in html
