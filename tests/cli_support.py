"""Running the ``regulars`` command inside a test."""

from __future__ import annotations

import pytest

from regulars.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run ``regulars ARGV``; return its exit code, standard output and standard error."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err
