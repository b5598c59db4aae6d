"""Rules of the house that a test can hold: the core does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "regulars"
CORE = ["analytics", "models", "recommend"]
FORBIDDEN = {"duckdb", "sqlalchemy", "fastapi", "pyspark", "requests", "httpx"}


def core_modules() -> list[Path]:
    return sorted(p for pkg in CORE if (SRC / pkg).is_dir() for p in (SRC / pkg).rglob("*.py"))


@pytest.mark.parametrize("path", core_modules(), ids=lambda p: str(p.relative_to(SRC)))
def test_core_imports_no_engine_or_io_library(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"
            assert not name.startswith("ibis.backends"), f"{path.name} imports {name}"


def test_core_exists() -> None:
    assert core_modules(), "the analytics core should have modules to check"


def test_modules_stay_small() -> None:
    for path in SRC.rglob("*.py"):
        lines = len(path.read_text().splitlines())
        assert lines <= 500, f"{path.relative_to(SRC)} has {lines} lines; split it"
