"""The words a quiz answer may be, and the team mappings that add to them: an answer is never guessed.

Built-in words come first, then the quiz's `labels` mapping (quiz.json: the experiment's label mapping
and any words given with `quiz --labels`), then `proficiency --labels`; a later mapping wins.
Words are compared without case or surrounding spaces.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import HarnessError
from harness.labels import BENIGN, UNKNOWN, label_key
from harness.verdicts import ABSTAINED, ACTIONED, ALLOWED

# Raw answers meaning "allow", as `score` reads them (and a few more a person writes).
BENIGN_WORDS = ("benign", "allow", "allowed", "no", "ok", "false", "0")
# Raw answers meaning "action": the policy's category ids and the key's gold labels count too.
VIOLATING_WORDS = ("violating", "violation", "action", "actioned", "yes", "true", "1")
# Answers that are not a decision: the reviewer skipped the item (never counted as wrong). A blank is one too.
SKIP_WORDS = ("skip", "skipped", "unsure", "?", "n/a", "na", "pass", "abstain", "abstained")
EXAMPLE = "--labels keep=benign,remove=violating"
_SHOWN = 4  # unknown words and places named in an error


def normal(value: object) -> str:
    """An answer word as compared: text, no surrounding spaces, lower case ('' when blank)."""
    return (label_key(value) or "").strip().lower()


@dataclass(frozen=True)
class Vocabulary:
    """Normalised answer word -> decision (`allowed`, `actioned`, `abstained`)."""
    words: Mapping[str, str]
    shown: Mapping[str, str] = field(default_factory=dict)  # normalised word -> as first written, for messages

    def decide(self, value: object) -> str | None:
        """The decision a raw answer stands for; a blank is a skip; None when the word is not known."""
        word = normal(value)
        return ABSTAINED if not word else self.words.get(word)

    def accepted(self, *, blank: bool = True) -> str:
        """The accepted words, grouped by what they mean, for an error message."""
        groups = []
        for decision, meaning in ((ALLOWED, "benign"), (ACTIONED, "violating"), (ABSTAINED, "skip")):
            words = [self.shown.get(w, w) for w, d in self.words.items() if d == decision]
            if blank and decision == ABSTAINED:
                words.insert(0, "a blank")
            groups.append(f"{meaning}: {', '.join(words)}")
        return "; ".join(groups)


def vocabulary(categories: Iterable[str], *mappings: tuple[Mapping[str, str], str | Path | None]) -> Vocabulary:
    """The built-in words and `categories` (the policy's ids and gold labels, meaning action), then each
    (mapping, where it was given) in turn: a mapping's word means what its target word means."""
    base: dict[str, str] = {w: ALLOWED for w in BENIGN_WORDS}
    categories = [c for c in categories if normal(c) not in ("", BENIGN, UNKNOWN)]
    base |= {normal(c): ACTIONED for c in categories}
    base |= {w: ACTIONED for w in VIOLATING_WORDS}
    base |= {w: ABSTAINED for w in SKIP_WORDS}
    base[UNKNOWN] = ABSTAINED  # a label the experiment maps to `unknown` informs no rate
    words, shown = dict(base), {normal(c): str(c).strip() for c in reversed(categories)}
    for mapping, where in mappings:
        for word, target in mapping.items():
            decision = base.get(normal(target))
            if not normal(word) or decision is None:
                given = "--labels" if where is None else "labels"
                raise HarnessError(f"{given} maps '{word}' to '{target}', which is not an answer word; map each "
                                   f"word to benign, violating or skip (accepted targets: "
                                   f"{Vocabulary(base, shown).accepted(blank=False)}).", path=where)
            words[normal(word)] = decision
            shown.setdefault(normal(word), word.strip())
    return Vocabulary(words, shown)


def parse_labels(specs: str | Iterable[str] | None) -> dict[str, str]:
    """`keep=benign,remove=violating` (or several such strings) as a word -> target mapping."""
    if specs is None:
        return {}
    out: dict[str, str] = {}
    for spec in [specs] if isinstance(specs, str) else specs:
        for part in spec.split(","):
            if not part.strip():
                continue
            word, sep, target = part.partition("=")
            if not sep or not word.strip() or not target.strip():
                raise HarnessError(f"--labels '{part.strip()}' is not WORD=LABEL; write e.g. {EXAMPLE}.")
            out[word.strip()] = target.strip()
    return out


def unknown_answers(words: list[str], places: list[str], vocab: Vocabulary, *, source: str | Path) -> None:
    """Raise one error naming the answer words `vocab` does not know, where the first ones are, and
    the accepted words; `places` describes each answer (its row, reviewer and item)."""
    unknown: dict[str, list[str]] = {}
    for word, place in zip(words, places, strict=True):
        if vocab.decide(word) is None:
            unknown.setdefault(normal(word), []).append(place)
    if not unknown:
        return
    count = sum(len(p) for p in unknown.values())
    shown = list(unknown)[:_SHOWN]
    named = ", ".join(f"'{w}' ({len(unknown[w])}x, first at {unknown[w][0]})" for w in shown)
    more = f" and {len(unknown) - len(shown)} more" if len(unknown) > len(shown) else ""
    mapping = ",".join(f"{w}=..." for w in shown)
    raise HarnessError(
        f"{count} answers use {'a word' if len(unknown) == 1 else 'words'} the grader does not know: {named}{more}; "
        f"accepted words are {vocab.accepted()}; map your team's words to benign, violating or skip with "
        f"--labels {mapping} or a labels mapping in the quiz's quiz.json (an answer is never guessed).",
        path=source)
