"""A warm process for the stages after the model calls: metrics, the run record, the report, MLflow.

Those stages need scipy, scikit-learn, statsmodels, Jinja and MLflow: about three seconds of imports
and store opening, which a command that loaded them after its model calls would spend with nothing
else to do. The command line starts this process first thing; it imports them, opens the tracking
store and compiles the report templates on the other core while the parent loads the inputs and
makes the model calls (in a thread they would take the GIL from the event loop). The parent then
hands over the judged verdicts and gets the finished run record back.

Nothing depends on it: if the process cannot be started, dies, or cannot take the verdicts, the
parent runs the same `score_and_finish` itself (`pipeline.finish`). An error raised in it (an output that cannot be
written) is raised again in the parent, so the command reports it as it would any other.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

from harness._util.processes import harness_child, stop_process

if TYPE_CHECKING:
    from harness.pipeline.finish import Judged
    from harness.record import RunRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepare:
    """What the process should ready: the MLflow experiment (None: no tracking) and the report."""
    mlflow_experiment: str | None
    report: bool
    timings: bool
    origin: float  # the parent's start, so stage times read as the parent's own


@dataclass(frozen=True)
class FinishJob:
    judged: Judged
    out_dir: Path
    track: bool
    report: bool


@dataclass(frozen=True)
class Finished:
    record: RunRecord | None
    error: BaseException | None = None
    written: bool = False  # the outputs are on disk, though the record could not be sent back


ACCEPTED = b"+"  # the process has the job: from here on, finishing it again here could log MLflow runs twice


class Finisher:
    """The parent's handle on the warm process: a `pipeline.finish.Finishing`."""

    def __init__(self, process: subprocess.Popen[bytes] | None, replies: IO[bytes] | None) -> None:
        self.process = process
        self._replies = replies
        self._prepared = False
        self._migrating = False  # preparing a new SQLite store: never stopped half way

    @property
    def alive(self) -> bool:
        return self.process is not None

    @staticmethod
    def worthwhile() -> bool:
        """False in a process that has those modules loaded already (a notebook, a test session):
        it finishes faster itself than by waiting for a new process to load them again."""
        from harness.pipeline.finish import stages_loaded

        return not stages_loaded()

    @classmethod
    def start(cls) -> Finisher:
        """Start the process (it begins its imports at once); a handle without one if it cannot start."""
        read_fd, write_fd = os.pipe()
        try:
            process = subprocess.Popen(harness_child("from harness.pipeline.warm import serve; serve(int(sys.argv[1]))",
                                                     str(write_fd)),
                                       stdin=subprocess.PIPE, pass_fds=(write_fd,))
        except Exception:  # no process can be started here (no pass_fds on Windows)
            os.close(read_fd)
            return cls(None, None)
        finally:
            os.close(write_fd)
        return cls(process, os.fdopen(read_fd, "rb"))

    def prepare(self, mlflow_experiment: str | None, *, report: bool) -> None:
        """Sent once the inputs have loaded: a run whose inputs fail never touches MLflow."""
        from harness._util.timings import log as timings_log
        from harness._util.timings import process_started_at
        from harness.tracking.prepare import new_sqlite_store

        timings = timings_log.isEnabledFor(logging.INFO)
        migrating = mlflow_experiment is not None and new_sqlite_store()  # before the process can create it
        self._prepared = self._send(Prepare(mlflow_experiment, report, timings, process_started_at()))
        self._migrating = self._prepared and migrating

    def finish(self, judged: Judged, out_dir: Path, *, track: bool, report: bool) -> RunRecord:
        """score_and_finish in the warm process, or here when that process is not there to do it."""
        from harness.pipeline.finish import score_and_finish

        if self._prepared and self._send(FinishJob(judged, out_dir, track, report)):
            accepted = self._accepted()
            reply = self._receive() if accepted else None
            if reply is not None:
                if reply.error is not None:
                    raise reply.error
                if reply.record is not None:
                    return reply.record
                if reply.written:
                    from harness.record import read_record

                    return read_record(out_dir)
            if accepted:
                log.warning("the process finishing the run ended before it was done; finishing here (MLflow may "
                            "keep an unfinished run of the first attempt)")
        self.close()
        return score_and_finish(judged, out_dir, track=track, report=report)

    def close(self) -> None:
        """End the process: at once, unless it is creating a new SQLite store (a half-migrated one would be
        left); after a finished job it has ended by itself."""
        if self.process is None:
            return
        process, self.process = self.process, None
        try:
            if process.stdin:
                process.stdin.close()  # the process reads the end of its input and exits
        except OSError:
            pass
        if self._replies:
            self._replies.close()
        if not self._migrating:
            stop_process(process, timeout_s=1.0)
            return
        from harness.tracking.prepare import WAIT_S

        try:
            process.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            stop_process(process)

    def __enter__(self) -> Finisher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, message: Prepare | FinishJob) -> bool:
        if self.process is None or self.process.stdin is None:
            return False
        try:
            data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:  # something in the run that does not pickle: finish here instead
            return False
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except OSError:  # the process has gone
            return False
        return True

    def _accepted(self) -> bool:
        try:
            return self._replies is not None and self._replies.read(1) == ACCEPTED
        except OSError:
            return False

    def _receive(self) -> Finished | None:
        if self._replies is None:
            return None
        try:
            reply = pickle.load(self._replies)
        except Exception:  # EOF: the process died before answering
            return None
        return reply if isinstance(reply, Finished) else None


def serve(reply_fd: int) -> NoReturn:
    """The process: import, read what to prepare, prepare it, then finish the one job it is given."""
    from harness._util.processes import exit_skipping_teardown

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends this process
    exit_skipping_teardown(lambda: _serve(sys.stdin.buffer, os.fdopen(reply_fd, "wb")))


def _serve(requests: IO[bytes], replies: IO[bytes]) -> int:
    try:
        prepare = _warm_up(requests)
    except Exception:  # a broken install or a shadowing module: the parent finishes the run itself, quietly
        return 0
    if prepare is None:
        return 0
    job = _read(requests)
    if not isinstance(job, FinishJob):
        return 0
    from harness.errors import HarnessError
    from harness.pipeline.finish import score_and_finish

    try:
        replies.write(ACCEPTED)
        replies.flush()
        try:
            reply = Finished(score_and_finish(job.judged, job.out_dir, track=job.track, report=job.report))
        except BaseException as err:  # SystemExit too: the parent decides what ends the command
            if not isinstance(err, (HarnessError, OSError)):  # a bug: keep where it happened
                err.add_note("in the process finishing the run:\n" + traceback.format_exc().rstrip())
            reply = Finished(None, err)
        replies.write(_pickled(reply))
        replies.flush()
    except OSError:  # the parent has gone (killed); the outputs are written all the same
        pass
    return 0


def _warm_up(requests: IO[bytes]) -> Prepare | None:
    from harness.pipeline.finish import import_stages, warm_up

    import_stages()  # at once: paid for while the parent loads its inputs and makes the model calls
    prepare = _read(requests)
    if not isinstance(prepare, Prepare):
        return None
    _configure_logging(prepare)
    warm_up(prepare.mlflow_experiment, report=prepare.report)
    return prepare


def _pickled(reply: Finished) -> bytes:
    try:
        return pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # the record or the error does not pickle
        if reply.error is None:
            return pickle.dumps(Finished(None, written=True), protocol=pickle.HIGHEST_PROTOCOL)
        return pickle.dumps(Finished(None, RuntimeError(str(reply.error))), protocol=pickle.HIGHEST_PROTOCOL)


def _read(requests: IO[bytes]) -> object:
    try:
        return pickle.load(requests)
    except Exception:  # the parent closed its end: the run ended before this step
        return None


def _configure_logging(prepare: Prepare) -> None:
    from harness._util.logs import log_warnings_to_stderr
    from harness._util.timings import measure_from, print_timings

    log_warnings_to_stderr()
    if prepare.timings:
        print_timings()
        measure_from(prepare.origin)
