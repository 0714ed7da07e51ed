"""`translate`: the experiment's author model translates eval items into other languages (one request
per item and language, through the reviewers' cache and the author's budget), keeping gold and slices;
native speakers review the translations in a sheet, and `translate --reviewed` builds the reviewed set.

It sits in loop/ beside `revise` because it is a workflow on the author model (`AuthorSession`)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd

from harness.config import AuthorConfig, Experiment
from harness.errors import HarnessError
from harness.evalset import GOLD, ID, MISSING_SLICE, TEXT, EvalSet
from harness.evalset.columns import PARALLEL_ID
from harness.loop.author import UNTRUSTED, AuthorSession, item_block
from harness.policy.localized import language_tag_problem

ITEMS_CSV = "items.csv"
REVIEW_CSV = "review.csv"
EVALSET_YAML = "eval_set.yaml"
LANGUAGE, ORIGIN = "language", "origin"
NATIVE, MACHINE, REVIEWED = "native", "machine_translated", "reviewed_translation"
REVIEW_COLUMNS = ["id", "source_id", "language", "source_text", "text", "label", "review", "reason"]
REVIEWS = ("accept", "fix", "reject")


@dataclass
class Translated:
    items: pd.DataFrame  # the source items (origin native) and their translations (origin machine_translated)
    translated: int
    failed: list[str]  # "id -> de: why" for each translation with no answer


def target_languages(raw: str) -> list[str]:
    """`--to de,fr,pt-BR` as tags; a value that is not BCP 47 is one line with the fix."""
    tags = [t.strip() for t in raw.split(",") if t.strip()]
    if not tags:
        raise HarnessError("--to needs at least one language tag, e.g. --to de,fr.")
    for tag in tags:
        problem = language_tag_problem(tag)
        if problem:
            raise HarnessError(f"--to: {problem}.")
    return list(dict.fromkeys(tags))


def check_author(experiment: Experiment) -> AuthorConfig:
    """The experiment's `author:`; a hosted model needs a budget and a known price before it is called."""
    author = experiment.author
    if author is None:
        raise HarnessError("translate uses the experiment's author model; add an 'author:' section "
                           "(model, and for a hosted model max_cost_usd and a price).", path=experiment.source)
    if _hosted(author):
        from harness.providers.client import estimate_cost

        if author.max_cost_usd is None:
            raise HarnessError(f"the author model {author.model} is hosted and has no budget; add author.max_cost_usd "
                               "so a translation run cannot spend without limit.", path=experiment.source)
        if estimate_cost(author.model, 1, 1, author.price) is None:
            raise HarnessError(f"the author model {author.model} has no known price, so its budget cannot be "
                               "kept; add author.price (usd_per_1m_input, usd_per_1m_output).", path=experiment.source)
    return author


def translation_messages(text: str, item_id: str, tag: str) -> list[dict[str, str]]:
    """One item, one target language. The content is untrusted: delimited, never obeyed."""
    system = (f"You translate content-moderation test items into the language with BCP 47 tag '{tag}'. Keep the "
              "meaning, the register, the target of any insult and any offensive words as offensive words of "
              "that language; do not soften, censor, explain or add anything. " + UNTRUSTED +
              " Answer with the translation only.")
    return [{"role": "system", "content": system},
            {"role": "user", "content": "\n".join(item_block("Translate", item_id, text))}]


async def translate_items(evalset: EvalSet, targets: list[str], session: AuthorSession) -> Translated:
    """Every item into every target language but its own; a call with no answer is listed, not guessed."""
    items = evalset.items
    language = items[LANGUAGE].astype(str) if LANGUAGE in items else pd.Series("", index=items.index)
    slices = [s for s in evalset.slices if s not in (LANGUAGE, ORIGIN)]
    source = pd.DataFrame({"id": items[ID], "text": items[TEXT], "label": items[GOLD], LANGUAGE: language,
                           ORIGIN: items[ORIGIN] if ORIGIN in items else NATIVE,
                           PARALLEL_ID: items[PARALLEL_ID] if PARALLEL_ID in items else items[ID],
                           **{s: items[s] for s in slices}})
    source[PARALLEL_ID] = source[PARALLEL_ID].where(source[PARALLEL_ID] != "", source["id"])
    rows: list[dict[str, object]] = []
    failed: list[str] = []
    for tag in targets:
        for _, item in source.iterrows():
            if str(item[LANGUAGE]).lower() == tag.lower():
                continue
            answer, why = await session.ask(translation_messages(str(item["text"]), str(item["id"]), tag))
            if answer is None or not answer.strip():
                failed.append(f"{item['id']} -> {tag}: {why or 'empty answer'}")
                continue
            rows.append({**{str(k): v for k, v in item.items()}, "id": f"{item['id']}@{tag}", "text": answer.strip(), LANGUAGE: tag,
                         ORIGIN: MACHINE, PARALLEL_ID: item[PARALLEL_ID]})
    out = pd.concat([source, pd.DataFrame(rows, columns=source.columns)], ignore_index=True)
    out[LANGUAGE] = out[LANGUAGE].replace({"": MISSING_SLICE})
    return Translated(items=out, translated=len(rows), failed=failed)


def write_translated(result: Translated, out_dir: Path) -> None:
    """DIR/items.csv (source and translations), DIR/review.csv (one row per translation, `review` empty)
    and DIR/eval_set.yaml (the eval_set section that reads items.csv)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    items = result.items
    items.to_csv(out_dir / ITEMS_CSV, index=False)
    machine = items[items[ORIGIN] == MACHINE]
    texts = dict(zip(items["id"], items["text"], strict=True))
    sheet = pd.DataFrame({"id": machine["id"], "source_id": machine["id"].str.rsplit("@", n=1).str[0],
                          "language": machine[LANGUAGE], "text": machine["text"], "label": machine["label"],
                          "review": "", "reason": ""})
    sheet.insert(3, "source_text", sheet["source_id"].map(texts))
    sheet[REVIEW_COLUMNS].to_csv(out_dir / REVIEW_CSV, index=False)
    _write_evalset_yaml(items, out_dir)


def build_reviewed(sheet_path: Path, out_dir: Path) -> pd.DataFrame:
    """The filled sheet beside its items.csv -> DIR2/items.csv: source items, accepted and fixed
    translations (origin reviewed_translation); rejected ones left out. A sheet whose ids were edited, a
    row without a review, a `fix` without new text or a changed label without a reason is one error."""
    items_path = sheet_path.parent / ITEMS_CSV
    if not sheet_path.is_file() or not items_path.is_file():
        raise HarnessError(f"needs the review sheet and the {ITEMS_CSV} translate wrote beside it; give "
                           f"--reviewed DIR/{REVIEW_CSV} of a translate output folder.", path=sheet_path)
    items = pd.read_csv(items_path, dtype=str, keep_default_na=False)
    sheet = pd.read_csv(sheet_path, dtype=str, keep_default_na=False)
    missing = [c for c in REVIEW_COLUMNS if c not in sheet.columns]
    if missing:
        raise HarnessError(f"the sheet has no '{missing[0]}' column; keep the columns translate wrote "
                           f"({', '.join(REVIEW_COLUMNS)}).", path=sheet_path)
    machine = items[items[ORIGIN] == MACHINE].set_index("id")
    unknown = [i for i in sheet["id"] if i not in machine.index]
    if unknown:
        raise HarnessError(f"row id '{unknown[0]}' is not a translation in {ITEMS_CSV}: ids were edited; keep the "
                           "id column as translate wrote it.", path=sheet_path)
    left_out = [i for i in machine.index if i not in set(sheet["id"])]
    if left_out or sheet["id"].duplicated().any():
        shown = left_out[0] if left_out else sheet["id"][sheet["id"].duplicated()].iloc[0]
        raise HarnessError(f"translation '{shown}' is {'missing from' if left_out else 'twice in'} the sheet: ids "
                           "were edited; keep one row per translation, rejecting the ones you do not want.",
                           path=sheet_path)
    keep: list[dict[str, object]] = []
    for row_number, row in enumerate(sheet.itertuples(index=False), start=2):
        review, item = str(row.review).strip().lower(), machine.loc[str(row.id)]
        where = f"row {row_number} ('{row.id}')"
        if review not in REVIEWS:
            raise HarnessError(f"{where} has review '{row.review}'; write accept, fix (with the corrected text) or "
                               "reject.", path=sheet_path)
        if str(row.label) != str(item["label"]) and not str(row.reason).strip():
            raise HarnessError(f"{where} changes the label from '{item['label']}' to '{row.label}' without a reason; "
                               "say why in the reason column, or restore the label.", path=sheet_path)
        if review == "fix" and str(row.text).strip() in ("", str(item["text"]).strip()):
            raise HarnessError(f"{where} is marked fix but its text is unchanged; write the corrected text, or "
                               "mark it accept.", path=sheet_path)
        if review == "reject":
            continue
        text = str(row.text).strip() if review == "fix" else str(item["text"])
        keep.append({**{str(k): v for k, v in item.items()}, "id": str(row.id), "text": text, "label": str(row.label), ORIGIN: REVIEWED})
    source = items[items[ORIGIN] != MACHINE]
    out = pd.concat([source, pd.DataFrame(keep, columns=items.columns)], ignore_index=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    out.to_csv(out_dir / ITEMS_CSV, index=False)
    _write_evalset_yaml(out, out_dir)
    return out


def _write_evalset_yaml(items: pd.DataFrame, out_dir: Path) -> None:
    slices = [c for c in items.columns if c not in ("id", "text", "label", PARALLEL_ID)]
    (out_dir / EVALSET_YAML).write_text(
        "# The eval_set section that reads this folder's items.csv (gold is already in the policy's category ids).\n"
        "eval_set:\n"
        f"  path: {ITEMS_CSV}\n"
        f"  columns: {{id: id, text: text, label: label, slices: [{', '.join(slices)}], parallel_id: {PARALLEL_ID}}}\n",
        encoding="utf-8")


def _hosted(author: AuthorConfig) -> bool:
    """A model someone bills for: not a local GGUF file and not a server on this machine."""
    from harness.providers.local_model import is_local

    if is_local(author.model):
        return False
    host = urlparse(author.api_base).hostname if author.api_base else None
    if host is None:
        return True
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


def load_source(source: str, experiment: Experiment) -> EvalSet:
    """SOURCE as an eval set: an experiment file (its eval_set), or a data file read with the columns of
    the `--experiment`'s eval_set."""
    from harness.config import load_experiment
    from harness.evalset import load_evalset

    if source.endswith((".yaml", ".yml")):
        named = load_experiment(source)
        return load_evalset(named.eval_set, base_dir=Path(named.base_dir))
    if not Path(source).exists():
        raise HarnessError("eval set not found; give an experiment file or an eval-set file.", path=source)
    config = experiment.eval_set.model_copy(update={"path": str(Path(source).resolve()), "from_path": None})
    return load_evalset(config, base_dir=Path.cwd())


async def translate(source: str, experiment: Experiment, targets: list[str], out_dir: Path) -> Translated:
    """Check the author, load the items, translate them and write DIR (items, review sheet, eval_set.yaml)."""
    author = check_author(experiment)
    evalset = load_source(source, experiment)
    session = AuthorSession(author)
    try:
        result = await translate_items(evalset, targets, session)
    finally:
        await session.aclose()
    write_translated(result, out_dir)
    return result
