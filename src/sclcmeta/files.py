"""Reading a user's file, with every failure of the file system or the encoding as a package error.

Shared by the evidence tables (:mod:`sclcmeta.evidence.reading`), specs (:mod:`sclcmeta.spec`) and prior
sets (:mod:`sclcmeta.priors`); each passes its own error type and says what the file is ("the spec"...).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from .errors import SclcmetaError


def read_bytes(path: Path, error: type[SclcmetaError], noun: str = "file", folder_hint: str = "give a file") -> bytes:
    """The file's bytes; a missing file, a folder or an unreadable file raise ``error`` with the fix."""
    if not path.exists():
        raise error(f"{path}: file not found; check the path of the {noun}.")
    if path.is_dir():
        raise error(f"{path}: is a folder, not a {noun}; {folder_hint}.")
    try:
        return path.read_bytes()
    except PermissionError:
        raise error(f"{path}: cannot be read (permission denied); make the file readable.") from None
    except OSError as exc:
        raise error(f"{path}: cannot be read ({exc.strerror or exc}).") from None


def decode_utf8(raw: bytes, path: Path, error: type[SclcmetaError], noun: str = "file", hint: str = "") -> str:
    """UTF-8 text (a byte-order mark removed), or ``error`` naming the first line that is not UTF-8."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise error(f"{path}: line {line} is not UTF-8 text; re-save the {noun} as UTF-8{hint}.") from None


def read_toml(path: Path, error: type[SclcmetaError], noun: str, folder_hint: str) -> tuple[dict, bytes]:
    """A TOML file parsed, and its bytes (for hashing); every failure is ``error``."""
    raw = read_bytes(path, error, f"{noun} file", folder_hint)
    try:
        return tomllib.loads(decode_utf8(raw, path, error, noun)), raw
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML ({exc}).") from None
