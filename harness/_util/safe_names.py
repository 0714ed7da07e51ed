"""Names that come from files (experiment, reviewer, policy ids, slice values) as safe path parts.

A name read from an experiment or a data set is untrusted: it may hold '/', '..', NUL, newlines,
a drive letter or a Windows device name. Every path built from such a name goes through
`safe_name` (one path component that stays inside its folder) or `child_path`."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

MAX_BYTES = 100  # well under the 255-byte limit of common file systems, leaving room for suffixes
# Windows refuses these as file names with any extension ("con.txt" too).
_DEVICES = {"con", "prn", "aux", "nul", "conin$", "conout$",
            *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10)),
            "com¹", "com²", "com³", "lpt¹", "lpt²", "lpt³"}
_UNSAFE = re.compile(r"[^\w.-]+")  # \w is Unicode-aware: letters and digits of any script stay
_EDGES = "._- "


def safe_name(name: object, *, fallback: str = "unnamed", max_bytes: int = MAX_BYTES) -> str:
    """One path component made from `name`: letters, digits, '_', '-' and '.' only, never
    '.' or '..', no leading dot (hidden files), no Windows device name, at most `max_bytes`
    UTF-8 bytes. A name that had to be shortened ends in a hash of the whole name, so two
    long names that differ only at the end stay apart."""
    text = unicodedata.normalize("NFC", str(name))
    cleaned = _UNSAFE.sub("_", text).strip(_EDGES)
    cleaned = re.sub(r"_{2,}", "_", cleaned) or fallback
    if cleaned.split(".", 1)[0].lower() in _DEVICES:
        cleaned = f"_{cleaned}"
    if len(cleaned.encode("utf-8")) > max_bytes:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        room = max_bytes - len(digest) - 1
        cut = cleaned.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip(_EDGES)
        cleaned = f"{cut}-{digest}"
    return cleaned


def child_path(folder: str | Path, *names: object, suffix: str = "") -> Path:
    """`folder / safe_name(n1) / ... ` (+ suffix on the last part); always inside `folder`."""
    if not names:
        raise ValueError("child_path needs at least one name")
    parts = [safe_name(n) for n in names]
    parts[-1] += suffix
    path = Path(folder).joinpath(*parts)
    base = Path(folder).absolute()
    if not path.absolute().is_relative_to(base):  # unreachable with safe parts; kept as the guarantee
        raise ValueError(f"{path} is outside {folder}")
    return path
