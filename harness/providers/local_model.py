"""A managed local model: llama.cpp's OpenAI-compatible server on a free loopback port."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from harness._util.processes import free_port, stop_process
from harness.config.local import INSTALL_HINT, LOCAL_MODELS, LOCAL_PREFIX, is_local
from harness.errors import HarnessError

__all__ = ["FORCED_PREFIX", "LocalModelServer", "chat_prompt", "gguf_path", "is_local"]

# The answer the first-token path makes the model continue: its next token is the verdict's value.
FORCED_PREFIX = '{"violation":'


def chat_prompt(messages: list[dict[str, str]], answer_prefix: str = FORCED_PREFIX) -> str:
    """Chat messages as the embedded model's raw prompt (ChatML, SmolLM2's chat format), with the
    assistant's answer already begun by `answer_prefix`. Every item's prompt starts with the same
    system part, so llama.cpp reuses its evaluated prefix from one item to the next."""
    turns = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return f"{turns}<|im_start|>assistant\n{answer_prefix}"


def gguf_path(model: str) -> Path:
    """The model file shipped inside a Python package (no download at run time)."""
    name = model.removeprefix(LOCAL_PREFIX)
    if name not in LOCAL_MODELS:
        if Path(name).suffix == ".gguf":
            if Path(name).is_file():
                return Path(name)
            raise HarnessError(f"the local model file {name} does not exist; check the path after 'local/' "
                               "(a relative path is read from the experiment file's folder).")
        raise HarnessError(f"unknown local model '{model}'; use one of "
                           f"{', '.join(LOCAL_PREFIX + m for m in LOCAL_MODELS)} or local/<path to a .gguf file>.")
    package, filename = LOCAL_MODELS[name]
    try:
        module = __import__(package)
    except ImportError:
        raise HarnessError(f"local model '{model}' needs the package '{package.replace('_', '-')}'; {INSTALL_HINT}.") from None
    path = Path(module.__file__).parent / filename if module.__file__ is not None else None
    if path is None or not path.exists():
        raise HarnessError(f"the package '{package}' has no model file {filename}; reinstall it.")
    return path


class LocalModelServer:
    """Starts `python -m llama_cpp.server`, waits until it answers, and stops it on exit."""

    def __init__(self, model: str, *, n_ctx: int = 4096, startup_timeout_s: float = 180.0) -> None:
        self.model = model
        self.path = gguf_path(model)
        self.n_ctx = n_ctx
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LocalModelServer:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise HarnessError(f"local model '{self.model}' needs llama-cpp-python; {INSTALL_HINT}.") from None
        self.port = free_port()
        command = [sys.executable, "-m", "llama_cpp.server", "--model", str(self.path), "--host", "127.0.0.1",
                   "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--n_threads", str(os.cpu_count() or 2),
                   "--model_alias", self.model.removeprefix(LOCAL_PREFIX), "--verbose", "False"]
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                self._log.seek(0)
                tail = self._log.read().decode("utf-8", "replace").strip().splitlines()[-3:]
                raise HarnessError(f"the local model server for '{self.model}' exited at start ({' | '.join(tail)}).")
            try:
                with urllib.request.urlopen(f"{self.api_base}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.25)
        self.stop()
        raise HarnessError(f"the local model server for '{self.model}' did not answer within "
                           f"{self.startup_timeout_s:.0f} s; is the machine overloaded?")

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
        self._process = None

    def __enter__(self) -> LocalModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
