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
from harness.loop.revise import REVISE_JSON, CandidateResult, ReviseResult

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Promotion:
    source: Path
    target: Path
    by: str
    at: str
    forced: bool
    registry_uri: str | None


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


def with_approval(text: str, by: str, at: str) -> str:
    """The candidate text with approved_by / approved_at added at the end of its front matter."""
    import yaml

    lines = text.split("\n")
    close = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    extra = yaml.safe_dump({"approved_by": by, "approved_at": at}, sort_keys=False, allow_unicode=True).rstrip("\n")
    kept = [line for line in lines[1:close] if not line.startswith(("approved_by:", "approved_at:"))]
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
    from harness.hashing import sha256_text

    if sha256_text(text) != entry.sha256:
        raise HarnessError("was changed after revise judged it; re-run revise on the edited text, or promote the "
                           "judged text.", path=candidate)
    current = Path(result.policy_path)
    target = current.parent / f"v{entry.version}.md"
    if target.exists():
        raise HarnessError(f"the target {target} already exists; promote never overwrites a policy file, so move "
                           "it aside or bump the candidate's version.", path=candidate)
    name = by or git_user()
    if not name:
        raise HarnessError("no approver given and `git config user.name` is not set; pass --by NAME.",
                           path=candidate)
    at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    promoted = with_approval(text, name, at)
    parse_policy(promoted, path=str(target))  # still a policy: never write one that does not parse
    atomic_write_text(target, promoted)
    uri = _tag_approved(entry, result, promoted, name, at) if track else None
    return Promotion(source=candidate, target=target, by=name, at=at, forced=force and not entry.accepted,
                     registry_uri=uri)


def _tag_approved(entry: CandidateResult, result: ReviseResult, text: str, by: str, at: str) -> str | None:
    """Tag the candidate's registry version (registered now if revise could not) status=approved."""
    from harness.tracking import client, safe_uri
    from harness.tracking.registry import register_policy

    try:
        with client() as c:
            uri = entry.registry_uri or register_policy(
                c, {"id": result.policy.split("@", 1)[0], "version": entry.version, "text": text,
                    "sha256": entry.sha256})
            if uri is None:
                return None
            prompt, version = uri.removeprefix("prompts:/").rsplit("/", 1)
            c.set_prompt_version_tag(prompt, version, "status", "approved")
            c.set_prompt_version_tag(prompt, version, "approved_by", by)
            c.set_prompt_version_tag(prompt, version, "approved_at", at)
            return uri
    except Exception as err:  # the promoted file is written; the registry can be tagged by hand
        log.warning("MLflow tracking at %s failed (%s); the promoted file is written, but its registry version "
                    "is not tagged status=approved", safe_uri(), (str(err).strip().splitlines() or [""])[0][:200])
        return None
