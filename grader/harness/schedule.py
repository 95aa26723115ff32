"""The project's beat schedule as a checker reads it: one named entry, sending the right task."""

from __future__ import annotations

from .failures import expect, fail

__all__ = ["schedule_entry"]

# Options of apply_async that people put next to "schedule" by mistake.
_OPTIONS = {"expires", "queue", "priority", "countdown", "eta", "time_limit", "soft_time_limit",
            "routing_key", "exchange", "serializer", "ignore_result"}


def schedule_entry(app, name: str, task, example: str, lesson: str) -> dict:
    """``app``'s CELERY_BEAT_SCHEDULE[name], which must send ``task``; else a plain failure.

    ``example`` is the schedule the exercise asks for, as the failure shows it.
    """
    schedule = app.conf.beat_schedule or {}
    entry = schedule.get(name)
    if not isinstance(entry, dict):
        others = [key for key, value in schedule.items()
                  if isinstance(value, dict) and value.get("task") == task.name]
        fail(f'CELERY_BEAT_SCHEDULE has no entry named "{name}"'
             + (f"; it sends the task under the name {others[0]!r}." if others else "."),
             f'"{name}": {{"task": "{task.name}", "schedule": {example}}} in '
             "CELERY_BEAT_SCHEDULE", "The entry's name is how beat's log, its schedule file "
             "and your colleagues refer to it.", lesson=lesson)
    known = {"task", "schedule", "args", "kwargs", "options", "relative"}
    stray = sorted(set(entry) - known)
    if stray:
        inside = [key for key in stray if key in _OPTIONS]
        fail(f'The "{name}" entry has the key{"s" * (len(stray) > 1)} '
             f'{", ".join(map(repr, stray))}, which beat does not know: it stops with a '
             "TypeError when it starts.",
             f'only {", ".join(sorted(known))} as keys of the entry',
             (f'Sending options go in a dict of their own: "options": {{"{inside[0]}": ...}}.'
              if inside else None), lesson=lesson)
    sent = entry.get("task")
    expect(sent == task.name, f'The "{name}" entry sends the task {sent!r}.',
           f'"task": "{task.name}"', "A task's name is its module path and function name, as "
           "the worker's [tasks] list prints it.", lesson=lesson)
    return entry
