"""One exception tree for regulars.

Every error a user can cause is a :class:`RegularsError`. Its message says what is
wrong, where (file, row, column), what was expected and how to fix it, so that the CLI
can print it as it is, without a traceback.

The tree::

    RegularsError
    +-- InputError          bad input data (a file, a row, a value)
    |   +-- ImportFormatError   the layout of a source is not what the format expects
    +-- ConfigError         a wrong option, flag or setting
    +-- WorkspaceError      the workspace cannot be opened or written
    +-- ModelError          a model cannot be fitted or used
        +-- NotFittedError      a prediction was asked of a model before ``fit``
        +-- ConvergenceError    the likelihood could not be maximized
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "ConfigError",
    "ConvergenceError",
    "ImportFormatError",
    "InputError",
    "ModelError",
    "NotFittedError",
    "RegularsError",
    "WorkspaceError",
]

_MAX_VALUE_CHARS = 80


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


class RegularsError(Exception):
    """Base class of every error regulars raises on purpose.

    Parameters
    ----------
    message
        What is wrong, in one sentence.
    fix
        How the user can fix it, in one sentence (optional).
    """

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.fix:
            return f"{self.message}\nHow to fix: {self.fix}"
        return self.message


class InputError(RegularsError):
    """Bad input data: names the file, row, column and value, and what was expected.

    Parameters
    ----------
    message
        What is wrong.
    file
        The source file.
    row
        The row as a spreadsheet numbers it (the header is row 1; for JSON lines, the line),
        or ``None`` when the whole file is at fault.
    column
        The column (or field) at fault.
    value
        The offending value as read.
    expected
        What a valid value looks like.
    fix
        How to fix it.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | Path | None = None,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        expected: str | None = None,
        fix: str | None = None,
    ) -> None:
        self.file = str(file) if file is not None else None
        self.row = row
        self.column = column
        self.value = value
        self.expected = expected
        super().__init__(message, fix=fix)

    @property
    def location(self) -> str:
        """Where the error is, as ``file, row N, column 'c'``."""
        parts = []
        if self.file is not None:
            parts.append(self.file)
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column is not None:
            parts.append(f"column {self.column!r}")
        return ", ".join(parts)

    def __str__(self) -> str:
        lines = []
        where = self.location
        lines.append(f"{where}: {self.message}" if where else self.message)
        if self.value is not None:
            lines.append(f"Found: {_show(self.value)}")
        if self.expected:
            lines.append(f"Expected: {self.expected}")
        if self.fix:
            lines.append(f"How to fix: {self.fix}")
        return "\n".join(lines)


class ImportFormatError(InputError):
    """The layout of a source does not match the format (missing columns, unknown layout)."""


class ConfigError(RegularsError):
    """A wrong option, flag or setting."""

    exit_code = 2


class WorkspaceError(RegularsError):
    """The workspace cannot be opened, read or written."""

    exit_code = 2


class ModelError(RegularsError):
    """A model cannot be fitted on the data given, or used as asked."""

    exit_code = 2


class NotFittedError(ModelError, AttributeError):
    """A model was asked for a prediction (or its parameters) before ``fit``."""


class ConvergenceError(ModelError):
    """The maximum of the likelihood could not be found from any starting point."""
