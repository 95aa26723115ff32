"""A real Celery worker, in this process, on the solo pool, with a deadline on every wait."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager

from celery.contrib.testing.worker import TestWorkController
from celery.result import _set_task_join_will_block
from celery.signals import setup_logging
from celery.utils.nodenames import anon_nodename
from celery.worker import state

__all__ = ["WorkerDidNotStart", "WorkerDidNotStop", "running_worker"]


class WorkerDidNotStart(Exception):
    pass


class WorkerDidNotStop(Exception):
    pass


@setup_logging.connect(weak=False)
def _keep_logging(**_):
    """Stop Celery from replacing the root logger's handlers when a worker starts."""


class _Errors(logging.Handler):
    """Keeps the worker's error log lines, to explain a worker that dies."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage().strip())


@contextmanager
def running_worker(app, start_within: float = 10.0, stop_within: float = 5.0):
    """Run a worker for ``app`` in a thread while the block runs.

    Raises WorkerDidNotStart when the worker dies or is not consuming within ``start_within``
    seconds, and WorkerDidNotStop when it has not stopped ``stop_within`` seconds after the block.
    """
    errors = _Errors()
    celery_log = logging.getLogger("celery")
    celery_log.addHandler(errors)
    state.should_terminate = None
    app.finalize()
    app.set_current()
    app.set_default()
    worker = TestWorkController(
        app=app, concurrency=1, pool="solo", hostname=anon_nodename(), loglevel="WARNING",
        logfile=None, ready_callback=None, without_heartbeat=True, without_mingle=True,
        without_gossip=True,
    )
    thread = threading.Thread(target=worker.start, name="celery-worker", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_within
    try:
        while not worker._on_started.wait(0.02):
            if not thread.is_alive() or time.monotonic() > deadline:
                state.should_terminate = 0
                why = "; ".join(errors.lines[-3:]) or (
                    f"it was not consuming after {start_within:g} s" if thread.is_alive()
                    else "it stopped without logging why")
                raise WorkerDidNotStart(why)
        # Starting a worker marks this process as one where .get() would deadlock; here the
        # checks wait on results from the main thread, which is safe.
        _set_task_join_will_block(False)
        yield worker
    finally:
        state.should_terminate = 0
        thread.join(stop_within)
        celery_log.removeHandler(errors)
        stopped = not thread.is_alive()
        state.should_terminate = None
        if not stopped:
            raise WorkerDidNotStop(
                f"the worker was still busy {stop_within:g} s after the checks ended "
                "(a task that never returns?)")
