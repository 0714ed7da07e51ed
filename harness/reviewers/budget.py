"""A reviewer's spending limit (`max_cost_usd`): calls in flight count against it before they are sent."""

from __future__ import annotations

import asyncio

from harness.config import LLMReviewerConfig, Price
from harness.config.local import is_local
from harness.errors import HarnessError
from harness.reviewers.prompts import PromptBuilder

# The provider's tokenizer may count a prompt differently from litellm's (which falls back to a
# generic one for models it does not know): reserve a little more than counted.
PROMPT_TOKEN_MARGIN = 1.1


def check_budget(config: LLMReviewerConfig) -> None:
    """Refuse a budget that could not be enforced: a priced model, a `price:`, or a free local model."""
    if config.max_cost_usd is None or config.price is not None or is_local(config.model):
        return
    from harness.providers.client import estimate_cost

    if estimate_cost(config.model, 1, 1) is None:
        raise HarnessError(
            f"reviewer '{config.name}' sets max_cost_usd but litellm has no price for model '{config.model}', "
            "so the budget could not be enforced; add 'price: {input_per_million: USD, output_per_million: USD}' "
            "to the reviewer, or remove max_cost_usd.")


class Budget:
    """Reserve a call's worst-case cost before it is sent, settle to its actual cost when it returns.

    The worst case is the prompt as counted here (with a margin) plus `max_tokens` of completion,
    so the spend plus everything in flight never passes the limit. A call that does not fit waits
    for the calls in flight to settle (they usually cost less than reserved); when nothing is in
    flight and it still does not fit, the budget is exhausted and no further call is sent."""

    def __init__(self, limit: float, *, spent: float, config: LLMReviewerConfig, builder: PromptBuilder) -> None:
        from harness.providers.client import count_tokens

        self.limit = limit
        self.spent = spent
        self.reserved = 0.0
        self.in_flight = 0
        self.exhausted = False
        self._settled = asyncio.Event()
        self._model = config.model
        self._price: Price | None = config.price
        self._max_tokens = config.max_tokens
        self._builder = builder
        self._count = count_tokens
        # The system part (policy and instructions) is the same for every item: count it once
        # (in a single-user-message layout it is inside the item's message, counted with it).
        self._split = len(builder.messages("")) > 1
        self._system_tokens = count_tokens(self._model, builder.messages("")[:1]) if self._split else 0

    def worst_case(self, text: str) -> float:
        from harness.providers.client import estimate_cost

        messages = self._builder.messages(text)
        user = self._count(self._model, messages[1:] if self._split else messages)
        prompt_tokens = int((self._system_tokens + user) * PROMPT_TOKEN_MARGIN) + 1
        cost = estimate_cost(self._model, prompt_tokens, self._max_tokens, self._price)
        return float("inf") if cost is None else cost

    async def reserve(self, cost: float) -> bool:
        """Hold `cost` for a call about to be sent; False (and no more calls) when it cannot fit."""
        while not self.exhausted and self.spent + self.reserved + cost > self.limit:
            if self.in_flight == 0:  # nothing left to settle could make room
                self.exhausted = True
                break
            self._settled.clear()
            await self._settled.wait()
        if self.exhausted:
            return False
        self.reserved += cost
        self.in_flight += 1
        return True

    def settle(self, reserved: float, actual: float | None) -> None:
        """Release a reservation for what the call cost; an unknown cost is charged at its worst case."""
        self.reserved -= reserved
        self.in_flight -= 1
        self.spent += reserved if actual is None else actual
        self._settled.set()
