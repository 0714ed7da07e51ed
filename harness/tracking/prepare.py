"""A new SQLite tracking store, created in a child process while the model calls are under way.

MLflow creates a new database by running every schema migration since its first release: seconds
of CPU. In a thread that would take the GIL from the event loop making the model calls (the LLM
phase measured twice as long), so a child process does it: it opens the store and looks the
experiment up, then exits. The run waits for it before
`open_runs`, which then finds the store ready. Nothing depends on the child succeeding: if it
fails, `open_runs` meets the same problem and warns as before.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import NoReturn

from harness._util.processes import harness_child
from harness.tracking import client, sqlite_path, tracking_uri

WAIT_S = 300.0  # far beyond a migration; only a stuck child waits this long, and then open_runs goes ahead


@dataclass
class StorePreparation:
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, experiment_name: str) -> StorePreparation | None:
        """Start the child when the store is a SQLite file that does not exist yet; None otherwise
        (an existing store needs no migrations, and a tracking server runs its own)."""
        if not new_sqlite_store():
            return None
        command = harness_child("from harness.tracking.prepare import main; main(sys.argv[1])", experiment_name)
        process = subprocess.Popen(command,
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri()})
        return cls(process)

    def wait(self) -> None:
        """Until the child has finished: it is never stopped early, which could leave a half-migrated store."""
        try:
            self.process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            pass


def main(experiment_name: str) -> NoReturn:
    """The child: open the store (creating it) and look the experiment up."""
    from harness._util.processes import exit_skipping_teardown

    def prepare() -> int:
        open_store(experiment_name)
        return 0

    exit_skipping_teardown(prepare)


def open_store(experiment_name: str) -> None:
    """Open the configured store (creating and migrating a new SQLite file) and look the experiment up.
    MLflow keeps the opened store for the process, so the run's later calls find it ready."""
    with client() as c:
        c.get_experiment_by_name(experiment_name)


def new_sqlite_store() -> bool:
    """Whether the tracking store is a SQLite file that does not exist yet (MLflow will migrate it)."""
    path = sqlite_path(tracking_uri())
    return path is not None and not path.exists()


def warm_store(experiment_name: str) -> None:
    """Load MLflow and, when the store is a local SQLite file, open it (migrating a new one) now.

    A server is left to `open_runs`, so a dead one costs its timeout once, not twice."""
    import mlflow.tracking  # noqa: F401

    import harness.tracking.registry  # noqa: F401  the imports are the point

    if sqlite_path(tracking_uri()) is not None:
        try:
            open_store(experiment_name)
        except Exception:  # open_runs meets the same problem later and warns then
            pass
