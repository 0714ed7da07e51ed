"""The batch path of an LLM reviewer (`batch: true`): uncached judgements go out as provider batches.

One request line per judgement, its custom_id the judgement's cache key, its body the one the online
path sends. Each uploaded input file is recorded in the judgement cache before its batch is created, and
the batch id the moment the provider returns it, so a run killed while waiting resumes polling on re-run
and never submits the same lines twice: a file recorded without a batch id has its batch found by listing
the provider's batches, or created from that file if there is none. Lines that
failed transiently, went missing, or never ran (a batch that failed, expired or was cancelled) are
resubmitted once in a follow-up batch, then abstained with the reason; other error lines are
abstentions at once. Abstentions are not cached: a later run tries them again. See docs/batch.md.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import time
import warnings
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from harness._util.progress import Progress
from harness.config.provider_params import EXTRA_HEADERS
from harness.errors import BudgetExceeded, ProviderError
from harness.providers.client import Completion, LLMClient, MalformedResponse, first_line, http_status
from harness.reviewers.batch_lines import CHAT_URL, OutputLine, read_output_lines, request_line, split_lines
from harness.reviewers.budget import Budget
from harness.reviewers.cache import BatchRecord, JudgementCache
from harness.reviewers.judgements import CacheEntry, CacheWriter, Job, UsageMeter, answer_entry, budget_message
from harness.reviewers.prompts import PromptBuilder

if TYPE_CHECKING:
    from harness.config import LLMReviewerConfig

TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})
FATAL_STATUS = frozenset({400, 401, 403, 404, 422})
FINAL_ATTEMPT = 2  # the first submission and one resubmission
LIST_PAGE = 100  # batches per page when looking for the batch a killed run created (OpenAI's maximum)
CLOCK_SLACK_S = 3600.0  # the provider's clock may differ from ours: page back this far past the upload

log = logging.getLogger(__name__)
# litellm's afile_content leaves an inner coroutine of its own unawaited after returning the content;
# the warning it prints at garbage collection says nothing about this run.
warnings.filterwarnings("ignore", message="coroutine 'OpenAIFilesAPI.afile_content' was never awaited")


class BatchRun:
    """Submit, poll and collect the batches of one reviewer's uncached judgements."""

    def __init__(self, config: LLMReviewerConfig, name: str, cache: JudgementCache, meter: UsageMeter,
                 client: LLMClient, builder: PromptBuilder, schema: dict[str, Any], answers: dict[str, CacheEntry],
                 budget: Budget | None) -> None:
        self._litellm: Any = None
        self.name = name
        self.meter = meter
        self.config = config
        self.client = client
        self.builder = builder
        self.schema = schema
        self.answers = answers
        self.budget = budget
        self.cache = cache
        self.writer = CacheWriter(self.cache)
        self.provider = str(self.config.batch_provider)
        self.api_base = self.config.api_base or ""
        self.texts: dict[str, str] = {}  # this run's judgements: cache key -> item text
        self.pending: dict[str, BatchRecord] = {}
        self.states: dict[str, str] = {}  # batch id -> its last status
        self.progress: Progress | None = None  # while `run` runs
        self.cut = False  # the budget left some judgements out

    async def run(self, todo: list[Job]) -> None:
        self._litellm = await asyncio.to_thread(importlib.import_module, "litellm")  # seconds: off the loop
        self._litellm.suppress_debug_info = True
        self.texts = {key: text for _, text, _, key in todo}
        live = self.cache.live_batches(self.provider, self.api_base)
        resumed = [batch for batch in live if any(key in self.texts for key in batch.custom_ids)]
        in_live = {key for batch in live for key in batch.custom_ids}
        self.pending = {batch.batch_id: batch for batch in resumed if batch.batch_id is not None}
        uploads = [batch for batch in resumed if batch.batch_id is None]
        if resumed:
            log.info("reviewer '%s': resuming %d submitted batches", self.name, len(resumed))
        fresh = await asyncio.to_thread(self._within_budget, resumed, [key for key in self.texts if key not in in_live])
        progress = self.progress = Progress(f"{self.name} (batch)", len(self.texts), status=self._status)
        finished = False
        try:
            await self._adopt(uploads)
            await self._submit(fresh, attempt=1)
            while self.pending:
                await self._poll()
                if self.pending:
                    await asyncio.sleep(self.config.poll_s)
            finished = True
        finally:
            try:
                self.writer.flush()
            finally:
                progress.close(summary=finished)
                self.progress = None
        if self.cut:
            assert self.budget is not None
            raise BudgetExceeded(budget_message(self.name, self.budget.limit, todo, self.answers))

    def _within_budget(self, resumed: list[BatchRecord], fresh: list[str]) -> list[str]:
        """The fresh keys whose worst-case batch cost fits beside what the resumed batches may cost."""
        if self.budget is None:
            return fresh
        discount = self.config.batch_discount
        room = self.budget.limit - self.budget.spent - sum(
            self.budget.worst_case(self.texts[key]) * discount
            for batch in resumed for key in batch.custom_ids if key in self.texts)
        kept = []
        for key in fresh:
            cost = self.budget.worst_case(self.texts[key]) * discount
            if cost > room:
                self.cut = True
                break
            room -= cost
            kept.append(key)
        return kept

    async def _submit(self, keys: list[str], *, attempt: int) -> None:
        # The provider's own name for the model: litellm's "<provider>/" prefix off, as on the online path.
        model = self.config.model.split("/", 1)[-1]
        lines = [(key, request_line(key, self.client.chat_request(self.builder.messages(self.texts[key]),
                                                                   self.schema, model)[0])) for key in keys]
        files, oversized = split_lines(lines, self.config.batch_max_lines, self.config.batch_max_bytes)
        for key, size in oversized:
            self._abstain(key, f"request of {size:,} bytes is larger than batch_max_bytes "
                               f"({self.config.batch_max_bytes:,})")
        for chunk in files:
            content = b"".join(line for _, line in chunk)
            uploaded = await self._control("upload a batch file", self._litellm.acreate_file,
                                           file=("policy-harness-batch.jsonl", content, "application/jsonl"),
                                           purpose="batch")
            upload = BatchRecord(None, str(uploaded.id), self.provider, self.api_base,
                                 tuple(key for key, _ in chunk), time.time(), attempt)
            self.cache.record_batch(upload)  # before the batch exists: a kill from here on resumes this file
            await self._create(upload)
        self._show()

    async def _create(self, upload: BatchRecord) -> None:
        async def made_already() -> Any:
            # A create whose answer was lost (a timeout, a 5xx) may have made the batch: look before trying again.
            found = await self._find_batches({upload.input_file_id}, upload.submitted_at - CLOCK_SLACK_S, quiet=True)
            return found.get(upload.input_file_id)

        created = await self._control("create a batch", self._litellm.acreate_batch, before_retry=made_already,
                                      completion_window=self.config.batch_window, endpoint=CHAT_URL,
                                      input_file_id=upload.input_file_id)
        self._start(upload, str(created.id), str(created.status))
        self.meter.batches += 1

    def _start(self, upload: BatchRecord, batch_id: str, status: str) -> None:
        self.cache.set_batch_id(upload.input_file_id, batch_id)  # a kill before this: the re-run lists batches
        self.pending[batch_id] = replace(upload, batch_id=batch_id)
        self.states[batch_id] = status

    async def _adopt(self, uploads: list[BatchRecord]) -> None:
        """Poll the batch a killed run created from each recorded upload; create the missing ones from their
        files (never uploaded again)."""
        if not uploads:
            return
        found = await self._find_batches({upload.input_file_id for upload in uploads},
                                         min(upload.submitted_at for upload in uploads) - CLOCK_SLACK_S)
        for upload in uploads:
            info = found.get(upload.input_file_id)
            if info is not None:
                self._start(upload, str(info.id), str(info.status))
            else:
                await self._create(upload)
        log.info("reviewer '%s': %d recorded input files already had a batch, %d were made batches now",
                 self.name, len(found), len(uploads) - len(found))

    async def _find_batches(self, file_ids: set[str], since: float, *, quiet: bool = False) -> dict[str, Any]:
        """The provider's batches made from these input files (by file id), paging back from the newest
        until all are found or the batches are older than `since`; quiet: a failed listing is not told."""
        found: dict[str, Any] = {}
        after: str | None = None
        try:
            while True:
                paging: dict[str, Any] = {"after": after} if after else {}
                page = await self._control("list batches", self._litellm.alist_batches, limit=LIST_PAGE, **paging)
                data = list(getattr(page, "data", None) or [])
                for info in data:
                    if getattr(info, "input_file_id", None) in file_ids:
                        found.setdefault(str(info.input_file_id), info)
                if (not data or found.keys() >= file_ids or not getattr(page, "has_more", False)
                        or data[-1].id == after or min(float(info.created_at or 0) for info in data) < since):
                    return found
                after = str(data[-1].id)
        except ProviderError as err:  # listing unsupported (bedrock) or refused
            if quiet:
                return found
            log.warning("reviewer '%s': could not look for the batches a killed run may have created (%s); "
                        "creating them from the %d recorded input files instead, so lines a lost batch already "
                        "holds may be submitted and paid for twice", self.name, err,
                        len(file_ids) - len(found))
            return found

    async def _poll(self) -> None:
        """Retrieve every pending batch; collect the finished ones and resubmit their failed lines in
        one follow-up batch (per attempt), recorded before the finished ones are marked done."""
        finished: list[tuple[BatchRecord, dict[str, str]]] = []
        done: list[str] = []
        for batch_id, batch in list(self.pending.items()):
            info = await self._control("retrieve a batch", self._litellm.aretrieve_batch, batch_id=batch_id,
                                       missing_ok=True)
            status = "failed" if info is None else str(info.status)
            self.states[batch_id] = status
            if status in TERMINAL:
                finished.append((batch, await self._collect(batch, info)))
                del self.pending[batch_id]
                done.append(batch_id)
        self.writer.flush()  # the answers are on disk before a batch is marked done
        for attempt in sorted({batch.attempt for batch, _ in finished}):
            await self._resubmit(attempt, {key: reason for batch, retry in finished if batch.attempt == attempt
                                           for key, reason in retry.items()})
        for batch_id in done:
            self.cache.finish_batch(batch_id)
        self._show()

    async def _collect(self, batch: BatchRecord, info: Any) -> dict[str, str]:
        """Take the answers of a finished batch; the lines to resubmit, with why."""
        known = set(batch.custom_ids)
        seen: set[str] = set()
        retry: dict[str, str] = {}
        for file_id in (getattr(info, "output_file_id", None), getattr(info, "error_file_id", None)):
            if not file_id:
                continue
            content = await self._control("download a batch file", self._litellm.afile_content, file_id=file_id)
            for line in read_output_lines(content.content, file_id):
                if line.custom_id not in known:
                    log.warning("batch %s returned a line for custom_id %r, which it was never sent; ignored",
                                batch.batch_id, line.custom_id[:80])
                    continue
                if line.custom_id in seen or line.unfinished:
                    continue
                seen.add(line.custom_id)
                self._take(line, retry)
        status = "failed" if info is None else str(info.status)
        reason = _unfinished_reason(status, info)
        for key in batch.custom_ids:
            if key not in seen and key not in retry:
                retry[key] = reason
        return retry

    def _take(self, line: OutputLine, retry: dict[str, str]) -> None:
        if line.answered:
            try:
                completion = self.client.parse_chat_completion(line.body, price_factor=self.config.batch_discount)
            except MalformedResponse as err:
                retry[line.custom_id] = str(err)
                return
            self._answer(line.custom_id, completion)
        elif line.transient:
            retry[line.custom_id] = line.error or f"batch line error {line.status}"
        else:
            self._abstain(line.custom_id, self.client.redact(line.error or f"batch line error {line.status}"))

    async def _resubmit(self, attempt: int, retry: dict[str, str]) -> None:
        in_flight = {key for other in self.pending.values() for key in other.custom_ids}
        again = [key for key in retry if key in self.texts and key not in in_flight and key not in self.answers]
        if attempt >= FINAL_ATTEMPT:
            for key in again:
                self._abstain(key, f"{self.client.redact(retry[key])} (after one resubmission)")
        elif again:
            await self._submit(again, attempt=attempt + 1)

    def _answer(self, key: str, completion: Completion) -> None:
        entry = answer_entry(completion)
        self.writer.put(key, entry)  # every answer is cached, also one another run submitted
        if key in self.texts and key not in self.answers:
            self.answers[key] = entry
            self.meter.count(completion)
            self._advance()

    def _abstain(self, key: str, reason: str) -> None:
        if key in self.texts and key not in self.answers:
            self.answers[key] = {"error": reason[:300]}  # not cached: a later run tries again
            self._advance()

    def _advance(self) -> None:
        if self.progress is not None:
            self.progress.update(1)

    def _show(self) -> None:
        if self.progress is not None:
            self.progress.refresh()

    def _status(self) -> str:
        """Beside the progress: the batches by status and the cost so far (read from the timer thread too)."""
        counts = Counter(list(self.states.values()))
        return ", ".join([*(f"{n} {state}" for state, n in sorted(counts.items())), f"cost {self.meter.cost_text()}"])

    async def _control(self, what: str, call: Callable[..., Awaitable[Any]], *, missing_ok: bool = False,
                       before_retry: Callable[[], Awaitable[Any]] | None = None, **kwargs: Any) -> Any:
        """One files/batches API call, retried on transient failures; a fatal one names the endpoint.
        `before_retry` may find what a failed attempt did after all: its result, when not None, is the call's."""
        # max_retries 0: the SDK's own retries would re-create a batch whose answer was lost, unseen.
        auth: dict[str, Any] = {"custom_llm_provider": self.provider, "max_retries": 0}
        if isinstance(headers := self.config.params.get(EXTRA_HEADERS), dict):
            auth[EXTRA_HEADERS] = headers  # the reviewer's headers (a gateway's routing, say) on every API call
        if self.api_base:
            auth["api_base"] = self.api_base
        if self.client.endpoint.api_key:
            auth["api_key"] = self.client.endpoint.api_key
        if self.provider == "bedrock":
            auth["model"] = self.config.model  # litellm picks bedrock's batch settings by model
        attempt = 0
        while True:
            try:
                return await call(**auth, **kwargs)
            except Exception as err:  # classified: missing, fatal, or retried
                status = http_status(err)
                if status == 404 and missing_ok:
                    return None
                where = self.api_base or f"the {self.provider} batch API"
                detail = self.client.redact(first_line(err))[:200]
                if status in FATAL_STATUS or attempt >= self.config.max_retries:
                    raise ProviderError(f"{where} could not {what} for reviewer '{self.name}' "
                                        f"({status or 'no response'}: {detail}); check 'api_base', the API key and "
                                        "'batch_provider', and re-run (submitted batches resume).") from None
                attempt += 1
                await asyncio.sleep(self.client.retry_delay(attempt, err))  # the online path's backoff
                if before_retry is not None and (done := await before_retry()) is not None:
                    return done


def _unfinished_reason(status: str, info: Any) -> str:
    if info is None:
        return "batch failed: the provider no longer knows it"
    if status == "completed":
        return "missing from the completed batch"
    if status == "failed":
        errors = getattr(getattr(info, "errors", None), "data", None) or []
        text = "; ".join(str(getattr(e, "message", None) or getattr(e, "code", None) or e) for e in errors)
        return f"batch failed: {text or 'no reason given'}"[:300]
    return f"batch {status}"
