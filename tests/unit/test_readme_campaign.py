"""The README's "campaign in ten lines" is code a user copies: it must register what it says."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[2]

CHECK = """
import re, pathlib
text = pathlib.Path("README.md").read_text(encoding="utf-8")
section = text.split("## A campaign in ten lines", 1)[1]
code = re.search(r"```python\\n(.*?)```", section, re.S).group(1)
exec(compile(code, "README.md", "exec"), {})
from orchestration.campaigns.registry import registry
campaign = registry.get_recurring_campaign("digest")
print(campaign.cron, campaign.timezone, campaign.segment_name, campaign.template_name)
print(registry.get_segment("subscribers").name, registry.get_template("digest").subject)
"""


def test_the_readme_campaign_registers_a_weekly_campaign_with_its_segment_and_template() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", readme.split("## A campaign in ten lines")[1], re.S)
    assert code is not None
    statements = [line for line in code.group(1).splitlines() if line.strip()]
    assert len(statements) <= 11  # the heading's promise, comment line included
    done = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=ROOT, capture_output=True, text=True, timeout=120
    )  # a fresh interpreter: a fresh campaign registry
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "0 9 * * 1 Europe/Paris subscribers digest",
        "subscribers Your week",
    ]
