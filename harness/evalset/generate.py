"""`generate`: HateCheck-style functional test items from templates a policy team writes.

A templates file lists target groups (any fields: `group`, `member`, ...) and functionalities,
each with one gold label and a few templates whose `{placeholders}` are filled from every target
that has those fields. A `[focus]` span marks the word a derived functionality obfuscates
(leetspeak, inserted spaces, ...), so obfuscated items are generated, not hand-written. `pair`
links an item to the item it contrasts with (the minimal pair) for the same target.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd
from pydantic import Field, ValidationError, field_validator, model_validator

from harness.config import StrictModel, describe_validation_error, read_yaml
from harness.errors import HarnessError, did_you_mean

COLUMNS = ["id", "text", "label", "functionality", "target", "language", "template_id", "pair_id", "rule"]
NO_TARGET = "none"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_FOCUS = re.compile(r"\[([^\[\]]+)\]")
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7",
                       "A": "4", "E": "3", "I": "1", "O": "0", "S": "5", "T": "7"})


def _leetspeak(word: str) -> str:
    return word.translate(_LEET)


def _spaces(word: str) -> str:
    return " ".join(ch for ch in word if ch != " ")


def _space_drop(word: str) -> str:
    return word.replace(" ", "")


def _char_swap(word: str) -> str:
    if len(word) < 4:
        return word
    i = len(word) // 2 - 1
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def _char_drop(word: str) -> str:
    return word if len(word) < 4 else word[:len(word) // 2] + word[len(word) // 2 + 1:]


def _asterisk(word: str) -> str:
    vowel = next((i for i, ch in enumerate(word) if i and ch.lower() in "aeiou"), None)
    return word if vowel is None else word[:vowel] + "*" + word[vowel + 1:]


OBFUSCATIONS: dict[str, Callable[[str], str]] = {
    "leetspeak": _leetspeak, "spaces": _spaces, "space_drop": _space_drop,
    "char_swap": _char_swap, "char_drop": _char_drop, "asterisk": _asterisk,
}


class Template(StrictModel):
    id: str
    text: str
    pair: str | None = Field(default=None, pattern=r"^[^/]+/[^/]+$")  # "functionality/template_id" it contrasts with


class Functionality(StrictModel):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    label: str
    description: str | None = None
    rule: str | None = None  # the policy rule or exception id the functionality tests
    targets: str = "protected"  # a target set name, or "none" for templates without a target
    only: list[str] | None = None  # restrict to these target ids
    templates: list[Template] = Field(default_factory=list)
    # derived functionality: the templates of other functionalities with the focus word obfuscated
    from_: list[str] | None = Field(default=None, alias="from")
    obfuscate: str | None = None

    @field_validator("templates", mode="before")
    @classmethod
    def _plain_strings(cls, value: object) -> object:
        if isinstance(value, list):
            return [{"id": str(i + 1), "text": t} if isinstance(t, str) else t for i, t in enumerate(value)]
        return value

    @field_validator("from_", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _templates_or_derived(self) -> Functionality:
        if self.obfuscate is not None and self.obfuscate not in OBFUSCATIONS:
            raise ValueError(f"unknown obfuscation '{self.obfuscate}'{_hint(self.obfuscate, OBFUSCATIONS)}; "
                             f"use one of {', '.join(OBFUSCATIONS)}")
        if bool(self.from_) != bool(self.obfuscate):
            raise ValueError("a derived functionality needs both 'from' and 'obfuscate'")
        if not self.templates and not self.from_:
            raise ValueError("give 'templates', or 'from' and 'obfuscate'")
        ids = [t.id for t in self.templates]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"template id '{dupes[0]}' is used twice")
        return self


class TemplateSuite(StrictModel):
    name: str | None = None
    language: str = "en"
    policy: str | None = None
    description: str | None = None
    targets: dict[str, list[dict[str, str]]] = Field(default_factory=dict)
    functionalities: list[Functionality] = Field(min_length=1)

    @model_validator(mode="after")
    def _references(self) -> TemplateSuite:
        names = [f.id for f in self.functionalities]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"functionality id '{dupes[0]}' is used twice")
        for f in self.functionalities:
            if f.targets != NO_TARGET and f.targets not in self.targets:
                raise ValueError(f"functionality '{f.id}' uses target set '{f.targets}'"
                                 f"{_hint(f.targets, self.targets)}, which is not under 'targets'")
            for source in f.from_ or []:
                if source not in names:
                    raise ValueError(f"functionality '{f.id}' derives from unknown '{source}'{_hint(source, names)}")
            for t in f.templates:
                if t.pair and t.pair.split("/", 1)[0] not in names:
                    other = t.pair.split("/", 1)[0]
                    raise ValueError(f"template '{f.id}/{t.id}' pairs with unknown functionality "
                                     f"'{other}'{_hint(other, names)}")
        for set_name, entries in self.targets.items():
            for entry in entries:
                if "id" not in entry:
                    raise ValueError(f"every target in '{set_name}' needs an 'id'; got {entry}")
        return self


def _hint(name: str, choices: Iterable[str]) -> str:
    hint = did_you_mean(name, choices)
    return f" (d{hint.strip()[1:]})" if hint else ""


def load_suite(path: str | Path) -> TemplateSuite:
    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise HarnessError("a templates file must be a YAML mapping with 'targets' and 'functionalities'.", path=path)
    data.setdefault("name", path.stem)
    try:
        return TemplateSuite.model_validate(data)
    except ValidationError as err:
        raise HarnessError(describe_validation_error(err, TemplateSuite), path=path) from None


def generate(suite: TemplateSuite) -> pd.DataFrame:
    """Every template x matching target as one row; derived functionalities obfuscate the focus."""
    by_id = {f.id: f for f in suite.functionalities}
    rows: list[dict[str, str]] = []
    for f in suite.functionalities:
        if f.from_:
            for source in f.from_:
                rows.extend(_render(suite, by_id[source], f, OBFUSCATIONS[f.obfuscate or ""]))
        else:
            rows.extend(_render(suite, f, f, None))
    table = pd.DataFrame(rows, columns=COLUMNS)
    dupes = table["id"][table["id"].duplicated()]
    if len(dupes):
        raise HarnessError(f"item id '{dupes.iloc[0]}' is generated twice; give templates distinct ids.")
    known = set(table["id"])
    table["pair_id"] = table["pair_id"].where(table["pair_id"].isin(known), "")
    return table


def _render(suite: TemplateSuite, source: Functionality, into: Functionality,
            obfuscate: Callable[[str], str] | None) -> list[dict[str, str]]:
    targets = [{"id": NO_TARGET}] if source.targets == NO_TARGET else suite.targets[source.targets]
    if source.only:
        targets = [t for t in targets if t["id"] in source.only]
    rows = []
    for template in source.templates:
        fields = _fields(template.text)
        if obfuscate is not None and not _FOCUS.search(template.text):
            continue  # nothing marked to obfuscate
        for target in targets:
            if not fields <= set(target):
                continue
            text = _fill(template.text, target, obfuscate)
            source_id = _item_id(source.id, template.id, target["id"])
            if obfuscate is None:
                item_id = source_id
                pair = _pair_id(template.pair, target["id"])
            else:
                item_id, pair = _item_id(into.id, f"{source.id}.{template.id}", target["id"]), source_id
            rows.append({"id": item_id, "text": text, "label": into.label, "functionality": into.id,
                         "target": target["id"], "language": suite.language, "template_id": f"{source.id}/{template.id}",
                         "pair_id": pair, "rule": into.rule or ""})
    return rows


def _fill(template: str, target: dict[str, str], obfuscate: Callable[[str], str] | None) -> str:
    text = _PLACEHOLDER.sub(lambda m: _value(target, m.group(1)), template)
    text = _FOCUS.sub(lambda m: obfuscate(m.group(1)) if obfuscate else m.group(1), text)
    if template.startswith("{") and text[:1].islower():
        text = text[0].upper() + text[1:]
    return " ".join(text.split())


def _fields(template: str) -> set[str]:
    """Target fields a template needs; {Group} needs `group`."""
    return {name[0].lower() + name[1:] for name in _PLACEHOLDER.findall(template)}


def _value(target: dict[str, str], name: str) -> str:
    if name in target:
        return target[name]
    value = target[name[0].lower() + name[1:]]
    return value[:1].upper() + value[1:]


def _item_id(functionality: str, template_id: str, target: str) -> str:
    return f"{functionality}-{template_id}-{re.sub(r'[^A-Za-z0-9_.]+', '_', target)}"


def _pair_id(pair: str | None, target: str) -> str:
    """The id of the item a template contrasts with (`pair: functionality/template_id`); '' without one."""
    functionality, slash, template_id = (pair or "").partition("/")
    return _item_id(functionality, template_id, target) if slash else ""


def write_items(table: pd.DataFrame, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False, encoding="utf-8")
    return out
