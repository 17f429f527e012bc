"""The one reading layer for tables: every failure of the file system, encoding, dialect or header is an
:class:`~sclcmeta.errors.EvidenceError` that names the file and says what would fix it.

Checked, in this order: the path exists, is a file and can be read; the bytes are UTF-8 (a byte-order mark is
accepted; anything else is refused with the position of the first bad byte and "re-save as UTF-8"); the file
is not empty and is comma-separated (a semicolon- or tab-separated file, as spreadsheet programs in many
locales write, is named as such); every line has no more fields than the header; no two columns share a name
(also after trimming spaces); a column that is a near-miss of a known column name ("ci_levl") is refused with
"did you mean ...?", because reading it as an unknown extra column would silently change the answer.
"""

from __future__ import annotations

import csv
import difflib
import io
from pathlib import Path

import pandas as pd

from ..errors import EvidenceError
from ..files import decode_utf8, read_bytes


def _check_dialect(text: str, path: Path) -> list[str]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise EvidenceError(f"{path}: the file is empty; it needs a header line and one row per estimate.")
    header = lines[0]
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        if header.count(sep) >= 2 and header.count(",") == 0:
            raise EvidenceError(f"{path}: the columns are separated by {name}, not commas (header: {header[:60]!r}); "
                                "re-save the file as comma-separated CSV (with a decimal point, not a comma).")
    return next(csv.reader([header]))


def _check_header(cols: list[str], path: Path, known: tuple[str, ...]) -> None:
    stripped = [c.strip() for c in cols]
    seen: dict[str, int] = {}
    for i, c in enumerate(stripped):
        if c in seen:
            raise EvidenceError(f"{path}: columns {seen[c] + 1} and {i + 1} are both named {c!r}"
                                f"{' (after trimming spaces)' if cols[i] != cols[seen[c]] else ''}; give every "
                                "column its own name (one of them would silently win).")
        seen[c] = i
        if c == "":
            raise EvidenceError(f"{path}: column {i + 1} has no name; name it or delete the empty column.")
    known_set = set(known)
    for c in stripped:
        if c in known_set:
            continue
        close = difflib.get_close_matches(c.lower(), known, n=1, cutoff=0.8)
        if close and close[0] not in stripped:
            raise EvidenceError(f"{path}: unknown column {c!r}; did you mean {close[0]!r}? (Extra columns are allowed "
                                "as covariates, so a misspelt known column would be read as something else; rename it, "
                                "or give it a name that is clearly different.)")


def _check_field_counts(text: str, path: Path, n: int) -> None:
    for line, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if len(row) > n and any(x.strip() for x in row[n:]):
            raise EvidenceError(f"{path}, line {line}: {len(row)} fields but the header has {n}; check for an unquoted "
                                "comma in a value (write 0.75, not 0,75, and quote text that contains commas).")


def read_table(path: Path, *, known: tuple[str, ...] = (), hasher=None, what: str = "table",
               folder_hint: str | None = None) -> pd.DataFrame:
    """Read a CSV as text cells (stripped), with every problem of the file reported as an :class:`EvidenceError`."""
    path = Path(path)
    raw = read_bytes(path, EvidenceError, "CSV file",
                     folder_hint or f"give the {what} CSV itself (or, for --data, a folder holding evidence.csv)")
    if hasher is not None:
        hasher.update(raw)
    text = decode_utf8(raw, path, EvidenceError, "file", " (in a spreadsheet: 'CSV UTF-8')")
    cols = _check_dialect(text, path)
    _check_header(cols, path, known)
    _check_field_counts(text, path, len(cols))
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=False)
    except pd.errors.ParserError as exc:
        raise EvidenceError(f"{path}: not a readable CSV ({str(exc).strip()}); a row probably has more fields than "
                            "the header: check for an unquoted comma (write 0.75, not 0,75, and quote text with "
                            "commas).") from None
    if len(df) == 0:
        raise EvidenceError(f"{path}: the table has a header but no rows; add one row per estimate.")
    df.columns = [c.strip() for c in df.columns]
    return df.fillna("").apply(lambda col: col.str.strip())


def read_curated_table(path: Path, columns: tuple[str, ...], *, what: str, section: str) -> pd.DataFrame:
    """A curated data table of ``data/`` (risk of bias, baselines, certainty judgements): :func:`read_table`, then
    every column of ``columns`` must be in the header (``section`` of data/README.md documents them)."""
    df = read_table(Path(path), known=tuple(columns), what=what, folder_hint=f"give the {what} CSV itself")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise EvidenceError(f"{path}: missing required column(s) {', '.join(missing)}; add them to the header "
                            f"(see data/README.md, section {section}).")
    return df
