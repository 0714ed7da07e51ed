"""What every configuration section shares: strict models, path resolution and YAML reading."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from harness.errors import HarnessError, unreadable, yaml_problem


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)



def resolve_path(path: str | Path, base_dir: Path) -> Path:
    """The one place paths are resolved: `~` expands, an absolute path stays, a relative one is read
    from `base_dir` (the experiment file's folder), never from the working directory."""
    candidate = Path(path).expanduser()
    if not candidate.is_absolute():
        candidate = Path(base_dir).expanduser().absolute() / candidate
    # Lexical, as docker-compose does: error messages show the path as written, not symlink targets.
    return Path(os.path.normpath(candidate))



def read_yaml(path: Path) -> Any:
    if not path.exists():
        raise HarnessError("file not found; check the path.", path=path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise HarnessError("is not UTF-8 text; save it as UTF-8.", path=path) from None
    except (yaml.YAMLError, ValueError, RecursionError) as err:
        raise HarnessError(f"is not valid YAML{yaml_problem(err)}; fix the syntax there.", path=path) from None
    except OSError as err:  # a directory, no permission
        raise HarnessError(f"could not be read ({unreadable(err)}); give the path of an experiment YAML file.",
                           path=path) from None
