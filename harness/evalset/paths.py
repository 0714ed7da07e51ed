"""Which files an eval set names (paths, glob patterns, lists of them) and values read from their paths."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from harness.config import resolve_path
from harness.errors import HarnessError

_GLOB = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class SourceFile:
    """One file of an eval set: as the user would recognise it, and where it is."""
    shown: str  # the path as given, or as the glob expanded it (POSIX); what `from_path` searches
    raw: str  # the entry of eval_set.path it came from (a path, pattern or hf:<name>), for errors
    path: Path | None = None  # the resolved local file; None for hf:<name>

    @property
    def stem(self) -> str:
        return PurePosixPath(self.shown).stem if self.path is not None else self.shown


def expand(raw: str, base_dir: Path) -> list[SourceFile]:
    """One entry of eval_set.path -> its files; a glob pattern is expanded, sorted, and must match."""
    if raw.startswith("hf:"):
        return [SourceFile(shown=raw, raw=raw)]
    if not _GLOB.search(raw):
        return [SourceFile(shown=raw, raw=raw, path=resolve_path(raw, base_dir))]
    parts = PurePosixPath(Path(raw).expanduser().as_posix()).parts
    first_glob = next(i for i, part in enumerate(parts) if _GLOB.search(part))
    anchor_text = PurePosixPath(*parts[:first_glob]).as_posix() if first_glob else "."
    anchor = resolve_path(anchor_text, base_dir)
    pattern = "/".join(parts[first_glob:])
    matches = sorted(p for p in anchor.glob(pattern) if p.is_file()) if anchor.is_dir() else []
    if not matches:
        raise HarnessError(f"the pattern matches no files (looked for '{pattern}' in {anchor}); fix eval_set.path.",
                           path=raw)
    prefix = PurePosixPath(anchor_text) if first_glob else PurePosixPath()
    return [SourceFile(shown=(prefix / match.relative_to(anchor).as_posix()).as_posix(), raw=raw, path=match)
            for match in matches]


def path_values(file: SourceFile, patterns: dict[str, str]) -> dict[str, str]:
    """Column -> the first group of its regex searched in the file's path."""
    values = {}
    for column, pattern in patterns.items():
        found = re.search(pattern, file.shown)
        if found is None or not found.group(1):
            raise HarnessError(f"the path '{file.shown}' does not match the eval_set.from_path regex '{pattern}' "
                               f"for column '{column}' (or its group is empty); fix the regex or the path.",
                               path=file.raw)
        values[column] = found.group(1)
    return values


def default_line_ids(files: list[SourceFile], lines: list[list[int]]) -> list[str]:
    """`<file stem>:<line number>`; files that share a stem are told apart by their folders."""
    stems = [f.stem for f in files]
    shared = {s for s in stems if stems.count(s) > 1}
    ids: list[str] = []
    for file, numbers in zip(files, lines, strict=True):
        name = str(PurePosixPath(file.shown).with_suffix("")) if file.stem in shared else file.stem
        ids.extend(f"{name}:{n}" for n in numbers)
    return ids
