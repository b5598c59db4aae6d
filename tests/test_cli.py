"""The command line: help for every command, one clear message per user error, exit codes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import typer

from regulars.cli import app, main

GOOD = """order_id,customer_id,ordered_at,product_id,quantity,unit_price
A1,c1,2024-01-05 10:00,p1,2,3.50
A2,c1,2024-02-05 10:00,p2,1,10
A3,,2024-02-06 10:00,p2,1,10
"""

BAD = {
    "missing column": (GOOD.replace("quantity", "qty"), "Required column quantity missing"),
    "unparsable date": (GOOD.replace("2024-02-05", "5 Feb 2024"), "ordered_at is not a date"),
    "unparsable number": (GOOD.replace(",10\n", ",ten\n", 1), "unit_price is not a number"),
    "negative quantity": (GOOD.replace(",2,3.50", ",-2,3.50"), "quantity must be positive"),
    "conflicting duplicate order id": (
        GOOD.replace("A2,c1,2024-02-05", "A1,c1,2024-02-05"),
        "conflicting ordered_at",
    ),
    "wrong encoding": (None, "not valid utf-8"),
}


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def command_names() -> list[str]:
    group = typer.main.get_command(app)
    return sorted(group.commands)  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", command_names())
def test_every_command_explains_itself(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run([name, "--help"], capsys)
    assert code == 0
    assert "Usage" in out and len(out.split()) > 15
    group = typer.main.get_command(app)
    command = group.commands[name]  # type: ignore[attr-defined]
    assert command.help and len(command.help) > 20
    for param in command.params:
        if param.name != "help":
            assert getattr(param, "help", None), f"{name} --{param.name} has no help"


def test_top_level_help_lists_commands(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    for name in ("import", "simulate", "summary"):
        assert name in out


def test_import_then_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "lines.csv"
    src.write_text(GOOD)
    ws = tmp_path / "ws.duckdb"
    code, out, _ = run(["import", str(src), "--workspace", str(ws)], capsys)
    assert code == 0
    assert "orders" in out and "Imported into" in out
    code, out, _ = run(["summary", "--workspace", str(ws)], capsys)
    assert code == 0
    assert "repeat-purchase rate" in out and "100.0%" in out  # c1 ordered twice, the only customer
    code, out, _ = run(["import", str(src), "--workspace", str(ws)], capsys)
    assert "imported into" in out and "before" in out


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_file_exits_2_and_leaves_workspace_unchanged(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    ws = tmp_path / "ws.duckdb"
    assert run(["import", str(good), "-w", str(ws)], capsys)[0] == 0
    before = hashlib.sha256(ws.read_bytes()).hexdigest()
    files_before = sorted(p.name for p in tmp_path.iterdir())

    text, message = BAD[kind]
    bad = tmp_path / "bad.csv"
    if text is None:
        bad.write_bytes(GOOD.replace("p2", "pé").encode("latin-1"))
    else:
        bad.write_text(text)
    code, out, err = run(["import", str(bad), "-w", str(ws)], capsys)
    assert code == 2
    assert message in " ".join(err.split())
    assert str(bad.name) in err and "How to fix" in " ".join(err.split())
    assert "Traceback" not in err + out
    assert hashlib.sha256(ws.read_bytes()).hexdigest() == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "bad.csv") == files_before


def test_bad_file_into_new_workspace_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD.replace("quantity", "qty"))
    code, _, _ = run(["import", str(bad), "-w", str(tmp_path / "new.duckdb")], capsys)
    assert code == 2
    assert not (tmp_path / "new.duckdb").exists()


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD.replace("quantity", "qty"))
    from regulars.errors import InputError

    with pytest.raises(InputError):
        main(["import", str(bad), "-w", str(tmp_path / "ws.duckdb"), "--debug"])


def test_bad_option_values_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "lines.csv"
    src.write_text(GOOD)
    code, _, err = run(["import", str(src), "--map", "nonsense"], capsys)
    assert code == 2 and "their_column=canonical_field" in err
    code, _, err = run(["import", str(src), "--timezone", "Mars/Olympus"], capsys)
    assert code == 2 and "Unknown time zone" in err
    code, _, err = run(["import", str(src), "--format", "excel"], capsys)
    assert code == 2 and "Unknown format" in err


def test_report_rejects_writes_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "lines.csv"
    src.write_text(GOOD)
    rejects = tmp_path / "rejects.csv"
    code, _, _ = run(
        ["import", str(src), "-w", str(tmp_path / "ws.duckdb"), "--report-rejects", str(rejects)],
        capsys,
    )
    assert code == 0
    assert rejects.read_text().splitlines()[0] == '"source","row","rule","detail","record"'


def test_docs_importing_page_is_up_to_date() -> None:
    from regulars.importers import formats_markdown

    page = Path(__file__).resolve().parents[1] / "docs" / "importing.md"
    assert page.read_text() == formats_markdown(), (
        "run: regulars formats --markdown > docs/importing.md"
    )
