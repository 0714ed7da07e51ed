"""Run a coroutine to completion from sync code, whether or not an event loop is already running."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run(coro)`; inside a running loop (Jupyter, IPython, an async web app) the
    coroutine runs on a worker thread with a loop of its own, and this call blocks until it ends.

    The caller's loop cannot run it: it is busy running the cell or request that called us, so
    awaiting there would deadlock. Client objects bound to a loop (the openai/aiohttp pool) are
    made on the worker's loop and closed with it. An interrupt (Ctrl-C, a notebook's stop button)
    cancels the coroutine, which stops the way a spent budget does: what was paid is cached."""
    return _on_worker_thread(coro) if _loop_running() else asyncio.run(coro)


def _loop_running() -> bool:
    # Not asyncio.run() inside the except: every error of the run would carry this one as context.
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _on_worker_thread(coro: Coroutine[Any, Any, T]) -> T:
    result: concurrent.futures.Future[T] = concurrent.futures.Future()
    started = threading.Event()
    task: list[asyncio.Task[T]] = []
    loop: list[asyncio.AbstractEventLoop] = []

    async def main() -> T:
        loop.append(asyncio.get_running_loop())
        task.append(asyncio.ensure_future(coro))
        started.set()
        return await task[0]

    def target() -> None:
        try:
            result.set_result(asyncio.run(main()))
        except BaseException as err:  # handed to the calling thread, which raises it
            result.set_exception(err)
        finally:
            started.set()

    thread = threading.Thread(target=target, name="harness-run", daemon=True)
    thread.start()
    try:
        return result.result()
    except KeyboardInterrupt:
        started.wait()
        if task:
            try:
                loop[0].call_soon_threadsafe(task[0].cancel)
            except RuntimeError:  # the loop closed meanwhile: the run has already ended
                pass
        thread.join()
        raise
