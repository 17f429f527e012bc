"""The evidence layer's one way of pointing at a problem: flags kept with rows, and file/row/column/value."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Flag:
    """A suspicious but usable number, kept with its row and reported by ``sclcmeta data check``."""

    code: str
    row_id: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.row_id}: {self.message}"


def where(file: str, row: int, column: str, value: object) -> str:
    """``file, row R (line R+1), column 'C', value V`` for an error message."""
    # row is the 1-based data row; the file line is row + 1 because of the header
    return f"{file}, row {row} (line {row + 1}), column '{column}', value {value!r}"
