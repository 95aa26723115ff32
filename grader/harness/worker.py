"""A real Celery worker, in this process, on the solo pool, with a deadline on every wait."""

from __future__ import annotations

import logging
import threading
import time

from celery.contrib.testing.worker import TestWorkController
from celery.result import _set_task_join_will_block
from celery.signals import setup_logging, worker_ready
from celery.utils.nodenames import anon_nodename
from celery.worker import state

__all__ = ["InProcessWorker", "WorkerDidNotStart", "WorkerDidNotStop"]


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


class _Controller(TestWorkController):
    def on_consumer_ready(self, consumer):
        # `celery worker` sends worker_ready, and a project may act on it (start something,
        # change a setting); the test controller does not. Sent before the worker counts as
        # started, so that whatever it changes is in place when the checks go on.
        worker_ready.send(sender=consumer)
        super().on_consumer_ready(consumer)


class InProcessWorker:
    """A worker for ``app`` in a thread: ``start()`` returns at once, ``wait_ready()`` waits."""

    def __init__(self, app):
        self.app = app
        self._errors = _Errors()
        self._controller = None
        self._thread = None

    def start(self) -> "InProcessWorker":
        logging.getLogger("celery").addHandler(self._errors)
        state.should_terminate = None
        app = self.app
        app.finalize()
        app.set_current()
        app.set_default()
        self._controller = _Controller(
            app=app, concurrency=1, pool="solo", hostname=anon_nodename(), loglevel="WARNING",
            logfile=None, ready_callback=None, without_heartbeat=True, without_mingle=True,
            without_gossip=True,
        )
        self._thread = threading.Thread(target=self._controller.start, name="celery-worker",
                                         daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, within: float = 10.0) -> None:
        """Return once the worker consumes; raise WorkerDidNotStart if it dies or takes too long."""
        deadline = time.monotonic() + within
        while not self._controller._on_started.wait(0.02):
            if not self._thread.is_alive() or time.monotonic() > deadline:
                state.should_terminate = 0
                why = "; ".join(self._errors.lines[-3:]) or (
                    f"it was not consuming after {within:g} s" if self._thread.is_alive()
                    else "it stopped without logging why")
                raise WorkerDidNotStart(why)
        # Starting a worker marks this process as one where .get() would deadlock; here the
        # checks wait on results from the main thread, which is safe.
        _set_task_join_will_block(False)

    def stop(self, within: float = 5.0) -> None:
        """Stop the worker; raise WorkerDidNotStop if its thread still runs after ``within``."""
        state.should_terminate = 0
        self._thread.join(within)
        logging.getLogger("celery").removeHandler(self._errors)
        stopped = not self._thread.is_alive()
        state.should_terminate = None
        if not stopped:
            raise WorkerDidNotStop(
                f"the worker was still busy {within:g} s after the checks ended "
                "(a task that never returns?)")
