"""One-sentence descriptions of failure clusters, written by the author model: one call per
cluster (the largest `describe_clusters` of each grouping), cached like every author call. A call
that fails leaves the description empty and says why in `description_error`."""

from __future__ import annotations

import logging
import re

from harness.config import AuthorConfig
from harness.errors import HarnessError
from harness.loop.author import KIND_LABELS, UNTRUSTED, AuthorSession, cluster_line, item_block
from harness.record.diagnosis import AuthorUsage, Cluster, Diagnosis, ErrorKindDiagnosis

log = logging.getLogger(__name__)

MAX_DESCRIPTION_CHARS = 300
MAX_DESCRIPTION_TOKENS = 200  # one sentence; the author's max_tokens is sized for a whole policy
SYSTEM = ("You analyse the errors a content-moderation reviewer made while following a policy. You are given one "
          "cluster of its errors: how it was grouped, the slice values and rule ids over-represented in it, and "
          f"example items. {UNTRUSTED} Describe in one plain sentence what the items of this cluster have in "
          "common and what the reviewer got wrong about them. Answer with that sentence only.")


def description_messages(cluster: Cluster, kind: ErrorKindDiagnosis, policy: str,
                         texts: dict[str, str]) -> list[dict[str, str]]:
    plain = cluster.model_copy(update={"description": None})
    lines = [f"Policy {policy}; error kind: {KIND_LABELS[kind.kind]} ({kind.errors} of {kind.decided} decided).",
             cluster_line(plain)]
    for over in cluster.over_represented[:5]:
        lines.append(f"- over-represented {over.kind} {over.value}: {over.cluster_share:.0%} of the cluster, "
                     f"{over.reference_share:.0%} of all decided items")
    for item_id in cluster.exemplars:
        lines += item_block("Example", item_id, texts.get(item_id, ""))
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "\n".join(lines)}]


def one_sentence(answer: str) -> str:
    """The first non-empty line of an answer, without list marks, quotes or emphasis, clipped."""
    line = next((ln.strip() for ln in answer.replace("\r\n", "\n").split("\n") if ln.strip()), "")
    line = re.sub(r"^(?:[-*>#]+\s*|\d+[.)]\s*)", "", line).strip().strip("*_\"'`").strip()
    return line if len(line) <= MAX_DESCRIPTION_CHARS else line[:MAX_DESCRIPTION_CHARS - 1].rstrip() + "…"


def described(kinds: list[ErrorKindDiagnosis], top: int) -> list[tuple[ErrorKindDiagnosis, Cluster]]:
    """The clusters that get a description: the largest `top` of each grouping, per error kind."""
    return [(kind, cluster) for kind in kinds for group in (kind.by_rule, kind.by_slice, kind.by_text)
            for cluster in group[:top]]


async def describe_kinds(kinds: list[ErrorKindDiagnosis], policy: str, texts: dict[str, str],
                         session: AuthorSession, top: int) -> None:
    """Fill `description` (or `description_error`) of the described clusters in place."""
    fatal = ""  # after a fatal provider error (bad key, unreachable endpoint) the other calls would fail too
    for kind, cluster in described(kinds, top):
        answer, why = None, fatal
        if not fatal:
            try:
                answer, why = await session.ask(description_messages(cluster, kind, policy, texts),
                                                max_tokens=min(session.author.max_tokens, MAX_DESCRIPTION_TOKENS))
            except Exception as err:  # a description is an aid: its failure must not cost the diagnosis
                why = fatal = f"the author call failed: {type(err).__name__}: {err}"
        sentence = one_sentence(answer) if answer else ""
        cluster.description = sentence or None
        cluster.description_error = None if sentence else (why or "the author answered with no sentence")


async def describe_diagnosis_async(diagnosis: Diagnosis, texts: dict[str, str], author: AuthorConfig) -> None:
    """Describe the clusters of every reviewer x policy of a diagnosis; records the author's usage."""
    try:
        session = AuthorSession(author, AuthorUsage())
    except HarnessError as err:
        log.warning("cluster descriptions skipped: %s", err.message)
        for group in diagnosis.groups:
            for _, cluster in described(group.kinds, author.describe_clusters):
                cluster.description_error = err.message
        return
    try:
        for group in diagnosis.groups:
            await describe_kinds(group.kinds, group.policy, texts, session, author.describe_clusters)
    finally:
        await session.aclose()
    diagnosis.author_model = author.model
    diagnosis.author_usage = session.usage


def describe_diagnosis(diagnosis: Diagnosis, texts: dict[str, str], author: AuthorConfig) -> None:
    from harness._util.event_loop import run_sync

    run_sync(describe_diagnosis_async(diagnosis, texts, author))
