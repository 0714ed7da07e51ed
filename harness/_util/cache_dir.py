"""Where the judgement cache lives: one per user, whatever folder a command is run from.

Precedence: the experiment's `cache:` key (explicit, per project), then the environment variable
POLICY_HARNESS_CACHE (a file), then the platform's per-user cache folder. platformdirs is not a
dependency, so the three platform conventions are spelled out here."""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP = "policy-harness"
CACHE_FILE = "judgements.sqlite"
CACHE_ENV = "POLICY_HARNESS_CACHE"


def user_cache_dir() -> Path:
    """The per-user cache folder by the platform's convention: Linux `$XDG_CACHE_HOME/policy-harness`
    (else `~/.cache/policy-harness`), macOS `~/Library/Caches/policy-harness`, Windows
    `%LOCALAPPDATA%\\policy-harness\\Cache`."""
    if sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(local) / APP / "Cache"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / APP
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    # The XDG spec: a relative value is invalid and must be ignored.
    base = Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / APP


def cache_file(configured: Path | None = None) -> Path:
    """The judgement cache's SQLite file: `configured` (the experiment's `cache:` key, resolved from
    its folder), else $POLICY_HARNESS_CACHE, else `judgements.sqlite` in the per-user cache folder."""
    if configured is not None:
        return configured
    if env := os.environ.get(CACHE_ENV):
        return Path(env).expanduser()
    return user_cache_dir() / CACHE_FILE
