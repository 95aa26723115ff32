"""Controlled clocks: Celery's real beat scheduler on a simulated clock, and the project's "now".

``BeatClock``: nothing sleeps; the clock jumps straight to the moment the scheduler says
something is next due, so a fortnight of schedule runs in well under a second.

``ProjectClock``: what ``timezone.now()`` (and ``datetime.now()``, ``date.today()``) answer in
the student's code, on the worker's thread as in the checker's, so a task can be run "30 days
later" for real.
"""

from __future__ import annotations

import datetime as _datetime
import os
import sys
import time as _time
import types
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from celery.beat import Scheduler

__all__ = ["BeatClock", "BeatSend", "ProjectClock"]

# Where Python's own modules and the installed packages live: never the student's project, and
# most of sys.modules, whose paths would each be resolved otherwise (30 ms a clock).
_LIBRARIES = tuple({os.path.join(prefix, "lib", "") for prefix in
                    (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix)})
_STEP = 0.02  # seconds the clock moves when beat asks to wait "0 s" and sends nothing


@dataclass(frozen=True)
class BeatSend:
    entry: str
    task: str
    at: datetime
    # The options the task is sent with: the entry's, over the task's own defaults (expires...).
    options: dict = field(default_factory=dict, compare=False)


class _RecordingScheduler(Scheduler):
    def __init__(self, app, clock: "BeatClock", **kwargs):
        self._clock = clock
        super().__init__(app, **kwargs)

    @property
    def producer(self):
        return None if not self._clock.really_send else super().producer

    def apply_async(self, entry, producer=None, advance=True, **kwargs):
        task = self.app.tasks.get(entry.task)
        options = dict(task._get_exec_options() if task else {})
        options.update({key: value for key, value in (entry.options or {}).items()
                        if value is not None})
        self._clock.sends.append(BeatSend(entry.name, entry.task, self._clock.now, options))
        if self._clock.really_send:
            return super().apply_async(entry, producer=producer, advance=advance, **kwargs)
        if advance:
            self.reserve(entry)
        return None


class BeatClock:
    """Runs ``app``'s beat schedule from ``start`` for as long as asked, recording every send.

    ``really_send=True`` also publishes each due task to the broker, as ``celery beat`` would.
    """

    def __init__(self, app, start: datetime, really_send: bool = False, max_interval: float = 3600):
        if start.tzinfo is None:
            raise ValueError("start must be an aware datetime")
        self.app = app
        self.now = start
        self.really_send = really_send
        self.sends: list[BeatSend] = []
        self._saved_now = app.__dict__.get("now")
        app.now = lambda: self.now.astimezone(app.timezone)
        self.scheduler = _RecordingScheduler(app, self, max_interval=max_interval)

    def run_for(self, duration: timedelta, max_ticks: int = 100_000) -> list[BeatSend]:
        """Advance the clock by ``duration``, sending whatever falls due; return those sends."""
        end = self.now + duration
        first = len(self.sends)
        for _ in range(max_ticks):
            sent_before = len(self.sends)
            delay = self.scheduler.tick()
            if len(self.sends) > sent_before:
                continue  # another entry may be due at this same moment
            if self.now >= end:
                break
            # Beat aims 10 ms early and then waits "0 s" for the rest; real time always moves on.
            self.now = min(end, self.now + timedelta(seconds=max(delay or 0, _STEP)))
        else:
            raise RuntimeError(f"beat did not settle within {max_ticks} ticks")
        return self.sends[first:]

    def close(self) -> None:
        if self._saved_now is None:
            self.app.__dict__.pop("now", None)
        else:
            self.app.now = self._saved_now


class ProjectClock:
    """Sets "now" for Django and for the project's own modules, in every thread, while open.

    It replaces ``django.utils.timezone.now`` (what ``auto_now_add`` and ``timezone.now()``
    read), and, in each module loaded from the project's folder, the names bound to that
    function, to ``datetime.datetime``, ``datetime.date`` or the ``datetime`` module, so
    ``from django.utils.timezone import now``, ``datetime.now(UTC)`` and ``time.time()`` see the
    same clock;
    the ``datetime`` module's own names too, for imports made inside a function.
    Django's ``Now()`` expression reads this clock too (it becomes a parameter instead of the
    database's own CURRENT_TIMESTAMP), so ``.update(last_reminded_at=Now())`` is judged like
    ``timezone.now()``. Only raw SQL that asks the database for its time keeps the real time.
    The clock stands still until ``set()`` moves it.
    """

    def __init__(self, project_path: Path, now: datetime):
        self.root = Path(project_path).resolve()
        self.set(now)
        self._undo: list[tuple[object, str, object]] = []

    def set(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.now = now.astimezone(timezone.utc)  # as Django's own now() gives it

    def __enter__(self) -> "ProjectClock":
        from django.conf import settings
        from django.utils import timezone as django_timezone

        clock = self
        real_now = django_timezone.now

        def now():
            return clock.now if settings.USE_TZ else clock._local_naive()

        class Clocked(type):
            """Real datetimes and dates still pass isinstance() against the stand-ins."""

            def __instancecheck__(cls, value):
                return isinstance(value, cls.__mro__[1])

            def __subclasscheck__(cls, other):
                return issubclass(other, cls.__mro__[1])

        class FakeDatetime(_datetime.datetime, metaclass=Clocked):
            @classmethod
            def now(cls, tz=None):
                return clock.now.astimezone(tz) if tz else clock._local_naive()

            @classmethod
            def utcnow(cls):
                return clock.now.astimezone(timezone.utc).replace(tzinfo=None)

            @classmethod
            def today(cls):
                return clock._local_naive()

        class FakeDate(_datetime.date, metaclass=Clocked):
            @classmethod
            def today(cls):
                return clock._local_naive().date()

        module = types.ModuleType("datetime", _datetime.__doc__)
        module.__dict__.update(_datetime.__dict__)
        module.datetime, module.date = FakeDatetime, FakeDate
        # time.time() too, in the project's modules only (Celery's own timers keep the real
        # one): `datetime.fromtimestamp(time.time(), UTC)` is another way to read "now".
        def clock_time():
            return clock.now.timestamp()

        def clock_time_ns():
            return int(clock.now.timestamp() * 1_000_000_000)

        time_module = types.ModuleType("time", _time.__doc__)
        time_module.__dict__.update(_time.__dict__)
        time_module.time, time_module.time_ns = clock_time, clock_time_ns
        swap = {id(real_now): now, id(_datetime.datetime): FakeDatetime,
                id(_datetime.date): FakeDate, id(_datetime): module, id(_time): time_module,
                id(_time.time): clock_time, id(_time.time_ns): clock_time_ns}
        self._replace(django_timezone, "now", now)
        self._clock_now_expression(now)
        # For `from datetime import datetime` run inside a function, while the clock is open.
        self._replace(_datetime, "datetime", FakeDatetime)
        self._replace(_datetime, "date", FakeDate)
        # And for `import time` run inside a function: that import reads sys.modules. Modules
        # imported earlier (Celery's, kombu's) keep the real module, and its monotonic() and
        # sleep() are the real ones in this one.
        self._replace_item(sys.modules, "time", time_module)
        for loaded in list(sys.modules.values()):
            if self._in_project(loaded):
                for name, value in list(vars(loaded).items()):
                    if id(value) in swap:
                        self._replace(loaded, name, swap[id(value)])
        return self

    def __exit__(self, *exc) -> None:
        for target, name, value in reversed(self._undo):
            if isinstance(target, dict):
                target[name] = value
            else:
                setattr(target, name, value)
        self._undo.clear()

    def _clock_now_expression(self, now) -> None:
        """Django's Now() as this clock's time, on every database vendor."""
        from django.db.models.functions import Now

        def as_sql(expression, compiler, connection, **extra):
            return "%s", [connection.ops.adapt_datetimefield_value(now())]

        for name in ("as_sql", "as_sqlite", "as_postgresql", "as_mysql", "as_oracle"):
            self._replace(Now, name, as_sql)

    def _replace(self, target, name: str, value) -> None:
        self._undo.append((target, name, getattr(target, name)))
        setattr(target, name, value)

    def _replace_item(self, mapping: dict, key: str, value) -> None:
        self._undo.append((mapping, key, mapping[key]))
        mapping[key] = value

    def _in_project(self, module) -> bool:
        file = getattr(module, "__file__", None)
        if not file or (file.startswith(_LIBRARIES) and not str(self.root).startswith(_LIBRARIES)):
            return False  # the standard library and site-packages: no need to resolve each
        try:
            return Path(file).resolve().is_relative_to(self.root)
        except (OSError, ValueError):
            return False

    def _local_naive(self) -> datetime:
        return self.now.astimezone().replace(tzinfo=None)
