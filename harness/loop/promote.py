"""`promote`: a person copies a candidate `revise` accepted to the next version path beside the
current policy, with who and when in its front matter, and tags its registry version approved."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from harness.errors import HarnessError
from harness.record.revision import REVISE_JSON, CandidateResult, ReviseResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Promotion:
    source: Path
    target: Path
    by: str
    at: str
    forced: bool
    registry_uri: str | None
    version: int  # the promoted file's version: the current policy's plus one
    renumbered_from: int | None  # the candidate's own version when the author did not bump by exactly one


def find_revise(candidate: Path) -> tuple[ReviseResult, Path, CandidateResult]:
    """revise.json of the output directory holding `candidate` (OUT/candidates/NAME.md) and its entry."""
    candidate = candidate.absolute()
    if not candidate.is_file():
        raise HarnessError("candidate file not found; give a file under OUT/candidates/ written by revise.",
                           path=candidate)
    out = candidate.parent.parent
    path = out / REVISE_JSON
    if not path.is_file():
        raise HarnessError(f"has no {REVISE_JSON} two folders up ({path}); promote a file under the "
                           "candidates/ folder of a revise output directory.", path=candidate)
    try:
        result = ReviseResult.model_validate_json(path.read_text(encoding="utf-8"))
    except (ValidationError, ValueError) as err:
        raise HarnessError(f"is not a revise.json this version can read ({str(err).splitlines()[0]}); re-run "
                           "revise.", path=path) from None
    relative = candidate.relative_to(out).as_posix()
    entry = next((c for c in result.candidates if c.file == relative), None)
    if entry is None:
        raise HarnessError(f"is not one of the candidates {path} lists; promote one of "
                           f"{', '.join(c.file for c in result.candidates if c.file) or '(none)'}.", path=candidate)
    return result, out, entry


def git_user() -> str | None:
    try:
        done = subprocess.run(["git", "config", "user.name"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None


APPROVAL_KEYS = ("approved_by:", "approved_at:", "renumbered_from:")


def with_approval(text: str, by: str, at: str, *, version: int | None = None,
                  renumbered_from: int | None = None) -> str:
    """The candidate text with approved_by / approved_at (and renumbered_from, when the version is
    set to `version`) added at the end of its front matter."""
    import yaml

    lines = text.split("\n")
    close = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    fields: dict[str, object] = {"approved_by": by, "approved_at": at}
    if renumbered_from is not None:
        fields["renumbered_from"] = renumbered_from
    extra = yaml.safe_dump(fields, sort_keys=False, allow_unicode=True).rstrip("\n")
    kept = [line for line in lines[1:close] if not line.startswith(APPROVAL_KEYS)]
    if version is not None:
        kept = [f"version: {version}" if line.startswith("version:") else line for line in kept]
    return "\n".join([lines[0], *kept, extra, *lines[close:]])


def promote(candidate: Path, *, by: str | None = None, force: bool = False, track: bool = True) -> Promotion:
    from harness.policy import parse_policy
    from harness.record import atomic_write_text

    result, out, entry = find_revise(candidate)
    if not entry.accepted and not force:
        raise HarnessError(f"was not accepted by revise ({entry.why}); promote only an accepted candidate, or "
                           "pass --force to promote it anyway.", path=candidate)
    if not entry.valid or entry.version is None:
        raise HarnessError(f"is not a valid policy ({entry.reason}); it cannot be promoted even with --force.",
                           path=candidate)
    text = candidate.read_text(encoding="utf-8")
    from harness._util.hashing import sha256_text

    if sha256_text(text) != entry.sha256:
        raise HarnessError("was changed after revise judged it; re-run revise on the edited text, or promote the "
                           "judged text.", path=candidate)
    current = Path(result.policy_path)
    version = _current_version(result) + 1
    target = current.parent / f"v{version}.md"
    if target.exists():
        raise HarnessError(f"the target {target} already exists (a version {version} was promoted or written "
                           "since revise ran); promote never overwrites a policy file, so re-run revise against "
                           "the newest policy or move the file aside.", path=candidate)
    name = by or git_user()
    if not name:
        raise HarnessError("no approver given and `git config user.name` is not set; pass --by NAME.",
                           path=candidate)
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    renumbered_from = entry.version if entry.version != version else None
    promoted = with_approval(text, name, at, version=version, renumbered_from=renumbered_from)
    parsed = parse_policy(promoted, path=str(target))  # still a policy: never write one that does not parse
    if parsed.version != version:
        raise HarnessError(f"has a front matter whose version line promote cannot set to {version}; edit it to "
                           f"'version: {version}' and re-run revise.", path=candidate)
    atomic_write_text(target, promoted)
    if renumbered_from is not None:
        log.warning("%s declares version %d; promoted as version %d (the current policy's version plus one), "
                    "recorded as renumbered_from in its front matter", candidate, renumbered_from, version)
    from harness.tracking.revision import tag_approved

    uri = tag_approved(entry, result.policy.split("@", 1)[0], promoted, name, at, version=version) if track else None
    return Promotion(source=candidate, target=target, by=name, at=at, forced=force and not entry.accepted,
                     registry_uri=uri, version=version, renumbered_from=renumbered_from)


def _current_version(result: ReviseResult) -> int:
    """N of the current policy's label (id@vN) revise judged against."""
    return int(result.policy.rsplit("@v", 1)[1])


