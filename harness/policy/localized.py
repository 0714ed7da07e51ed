"""Localized policies: a policy's translation lives beside it as `vN.<lang>.md` (`v2.de.md`) with
`language: de` in its front matter, the same id and version, and the same rule and exception ids."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from pathlib import Path

from harness._util.hashing import sha256_text
from harness.errors import HarnessError
from harness.policy.parse import Policy, load_policy

# BCP 47 as the harness reads it: a 2-3 letter language subtag, then script / region / variant subtags.
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
_TRANSLATION = re.compile(r"^(?P<stem>.+?)\.(?P<lang>[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*)\.md$")
_LANGUAGE_KEY = re.compile(r"^language\s*:\s*\S")
# ISO 639-1 codes (the language subtags of most BCP 47 tags); three-letter ISO 639-2/3 subtags pass on syntax.
_ISO_639_1 = frozenset("""aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy
da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io
is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na
nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr ss
st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu""".split())
# Language names people write instead of a tag, for the fix in the error message.
_NAMES = {"arabic": "ar", "chinese": "zh", "mandarin": "zh", "dutch": "nl", "english": "en", "french": "fr",
          "german": "de", "deutsch": "de", "hindi": "hi", "italian": "it", "japanese": "ja", "korean": "ko",
          "polish": "pl", "portuguese": "pt", "russian": "ru", "spanish": "es", "swedish": "sv", "turkish": "tr",
          "ukrainian": "uk", "greek": "el", "danish": "da", "finnish": "fi", "norwegian": "no", "czech": "cs",
          "romanian": "ro", "hungarian": "hu", "indonesian": "id", "vietnamese": "vi", "thai": "th",
          "hebrew": "he", "persian": "fa", "bengali": "bn", "urdu": "ur", "swahili": "sw"}


@dataclass(frozen=True)
class LocalizedPolicy(Policy):
    """The original policy, judging each item with the translation in the item's language when there
    is one (and with the original otherwise). Judged beside the original (`side_by_side`), its label
    says so: `hate_speech@v2+localized`; as the default way of judging (`auto`), it keeps the original's."""

    translations: dict[str, Policy] = field(default_factory=dict, compare=False, hash=False)
    column: str = "language"  # the items' language slice
    # The original itself: items without a translation are judged with it, so their judgements are the
    # original's cached ones (the cache key holds the policy's hash, and this policy's hash is its own).
    original: Policy | None = field(default=None, compare=False, hash=False)
    side_by_side: bool = True

    @classmethod
    def of(cls, original: Policy, translations: dict[str, Policy], column: str, *,
           side_by_side: bool = True) -> LocalizedPolicy:
        """The original with its translations; its hash covers every translation's text too."""
        values = {f.name: getattr(original, f.name) for f in fields(Policy)}
        values["sha256"] = sha256_text(" ".join([original.sha256, *(translations[t].sha256 for t in sorted(translations))]))
        return cls(**values, translations=translations, column=column, original=original, side_by_side=side_by_side)

    @property
    def label(self) -> str:
        return f"{self.id}@v{self.version}" + ("+localized" if self.side_by_side else "")

    def for_language(self, value: str) -> Policy | None:
        """The translation for an item's language tag: the exact tag, else its language subtag (de-AT -> de)."""
        tag = translation_tag(value, self.translations)
        return self.translations[tag] if tag else None


def translation_tag(value: str, tags: Iterable[str]) -> str | None:
    """Which of the translations' (lower-case) tags judges items tagged `value`: the exact tag, else
    its language subtag (de-AT -> de); None when none does."""
    tag, known = value.strip().lower(), set(tags)
    return next((t for t in (tag, tag.split("-")[0]) if t in known), None)


def language_tag_problem(value: str) -> str | None:
    """None for a well-formed BCP 47 tag with a known language subtag; else what to write instead."""
    text = value.strip()
    if _TAG.match(text):
        primary = text.split("-")[0].lower()
        if len(primary) == 3 or primary in _ISO_639_1:
            return None
    named = _NAMES.get(text.lower())
    fix = f"write '{named}'" if named else "write a BCP 47 tag such as 'de', 'pt-BR' or 'zh-Hans'"
    return f"'{value}' is not a BCP 47 language tag; {fix}"


def translation_paths(original: str | Path) -> list[Path]:
    """The translations beside `vN.md`, sorted: every `vN.<tag>.md` in its folder whose tag starts with
    a two-letter language code (`v2.de.md`, `v2.pt-BR.md`) or whose front matter declares a
    `language:`. Other files of that shape (`v2.bak.md`, `v2.old.md`) are not translations: they
    judge nothing and stop no run."""
    path = Path(original)
    stem = path.name.removesuffix(".md")
    out = []
    for sibling in sorted(path.parent.glob(f"{stem}.*.md")):
        found = _TRANSLATION.match(sibling.name)
        if found and found.group("stem") == stem and (
                found.group("lang").split("-")[0].lower() in _ISO_639_1 or _declares_language(sibling)):
            out.append(sibling)
    return out


def _declares_language(path: Path) -> bool:
    """Whether the file's front matter (between its first two `---` lines) has a `language:` key."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    if not lines or lines[0].strip() != "---":
        return False
    for line in lines[1:]:
        if line.strip() == "---":
            return False
        if _LANGUAGE_KEY.match(line):
            return True
    return False


def load_translations(original: Policy) -> dict[str, Policy]:
    """Language tag (lower case) -> translated policy, each checked against the original: the tag in
    its file name and its `language:` front matter agree and are BCP 47, id and version are the
    original's, and so are its rule and exception ids."""
    return load_translations_of(original, translation_paths(original.path))


def load_translations_of(original: Policy, paths: list[Path]) -> dict[str, Policy]:
    """`load_translations` for the given translation files."""
    out: dict[str, Policy] = {}
    for path in paths:
        translation = load_policy(path)
        tag = _declared_language(translation, path)
        if translation.id != original.id or translation.version != original.version:
            raise HarnessError(f"this translation says id '{translation.id}' version {translation.version}, but "
                               f"the original {Path(original.path).name} is '{original.id}' version "
                               f"{original.version}; give the translation the original's id and version.", path=path)
        problem = id_mismatch(original, translation)
        if problem:
            raise HarnessError(f"{problem}; a translation keeps every rule and exception id of the original "
                               "(policy-harness lint names them).", path=path)
        out[tag.lower()] = translation
    return out


def id_mismatch(original: Policy, translation: Policy) -> str | None:
    """The first difference between the rule and exception ids of a policy and its translation."""
    missing = [i for i in original.rule_ids if i not in translation.rule_ids]
    extra = [i for i in translation.rule_ids if i not in original.rule_ids]
    if missing:
        return f"rule id {missing[0]} of the original is missing from the translation" + _more(missing)
    if extra:
        return f"rule id {extra[0]} is not in the original" + _more(extra)
    if original.category_ids != translation.category_ids:
        return (f"the translation's categories ({', '.join(translation.category_ids)}) are not the original's "
                f"({', '.join(original.category_ids)})")
    return None


def _declared_language(translation: Policy, path: Path) -> str:
    in_name = _TRANSLATION.match(path.name)
    assert in_name is not None  # translation_paths matched it
    declared = translation.extra.get("language")
    if not isinstance(declared, str) or not declared.strip():
        raise HarnessError(f"a translation needs 'language: {in_name.group('lang')}' in its front matter; add it.",
                           path=path)
    problem = language_tag_problem(declared)
    if problem:
        raise HarnessError(f"front matter 'language': {problem}.", path=path)
    if declared.strip().lower() != in_name.group("lang").lower():
        raise HarnessError(f"front matter says 'language: {declared}' but the file name says "
                           f"'{in_name.group('lang')}'; make them the same tag.", path=path)
    return declared.strip()


def _more(ids: list[str]) -> str:
    return f" (and {', '.join(ids[1:4])}{', ...' if len(ids) > 4 else ''})" if len(ids) > 1 else ""


def translation_problems(path: str | Path) -> list[str]:
    """What `lint` reports as E106 for a policy file: for an original, each translation beside it whose
    ids, version or language do not match; for a translation, its own mismatch with the original."""
    path = Path(path)
    found = _TRANSLATION.match(path.name)
    original_path = path.with_name(f"{found.group('stem')}.md") if found else path
    if found and not original_path.is_file():
        return []  # `v2.final.md` is a policy of its own, not a translation of a missing v2.md
    try:
        original = load_policy(original_path)
    except HarnessError:
        return []  # the original's own findings say why
    problems = []
    for translation in ([path] if found else translation_paths(path)):
        try:
            load_translations_of(original, [translation])
        except HarnessError as err:
            problems.append(f"{translation.name}: {err.message}" if translation != path else err.message)
    return problems
