"""The house rules that keep the layout honest, read from the source itself (docs/architecture.md).

- the code location (everything but ``cli/``) never imports the CLI;
- runtime code never imports the demo: only ``demo/`` itself and the CLI's ``demo`` command do;
- the environment is read (and written) in ``settings.py`` only;
- a module stays small enough to live in.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "orchestration"
MAX_LINES = 500


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def relative(path: Path) -> str:
    return str(path.relative_to(PACKAGE.parent))


def test_the_code_location_never_imports_the_cli() -> None:
    offenders = [
        relative(path)
        for path in modules()
        if "cli" not in path.relative_to(PACKAGE).parts[:1]
        and any(name.startswith("orchestration.cli") for name in imported_modules(path))
    ]
    assert offenders == []


def test_runtime_never_imports_the_demo() -> None:
    allowed = {"demo", "cli"}
    offenders = [
        relative(path)
        for path in modules()
        if path.relative_to(PACKAGE).parts[0] not in allowed
        and any(name.startswith("orchestration.demo") for name in imported_modules(path))
    ]
    assert offenders == []


def test_only_settings_touches_the_environment() -> None:
    offenders = []
    for path in modules():
        if path == PACKAGE / "settings.py":
            continue
        source = path.read_text(encoding="utf-8")
        if "os.environ" in source or "os.getenv" in source or "putenv" in source:
            offenders.append(relative(path))
    assert offenders == []


@pytest.mark.parametrize("path", modules(), ids=relative)
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text(encoding="utf-8").splitlines()) <= MAX_LINES
