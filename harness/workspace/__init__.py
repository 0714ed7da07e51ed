"""`init`: a small team workspace (policy, eval set, experiment, README) that runs offline as it stands.

The files live in `template/` as package data, so an installed wheel writes the same workspace as
the checkout does."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from harness.errors import HarnessError

EXPERIMENT_FILE = "experiment.yaml"


def init_workspace(target: str | Path) -> list[Path]:
    """Write the workspace into `target` (created when missing); return the files written.

    A non-empty folder is refused: a workspace never overwrites a team's files."""
    target = Path(target).expanduser()
    if target.exists() and not target.is_dir():
        raise HarnessError("is a file, not a folder; give init the path of a new or empty folder.", path=target)
    if target.is_dir() and any(target.iterdir()):
        raise HarnessError("is not empty; give init a new or empty folder so no file is overwritten.", path=target)
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    _copy(resources.files("harness.workspace").joinpath("template"), target, written)
    return sorted(written)


def _copy(source: Traversable, into: Path, written: list[Path]) -> None:
    for entry in source.iterdir():
        if entry.name.startswith((".", "__")):  # editor and bytecode litter, never part of the template
            continue
        destination = into / entry.name
        if entry.is_dir():
            destination.mkdir(exist_ok=True)
            _copy(entry, destination, written)
        else:
            destination.write_bytes(entry.read_bytes())
            written.append(destination)
