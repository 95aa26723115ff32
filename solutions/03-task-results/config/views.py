"""Project-wide views."""

from celery.result import AsyncResult
from django.http import JsonResponse


def task_status(request, task_id):
    """Report a task's state as JSON, read from the result backend; never wait for it."""
    result = AsyncResult(task_id)
    data = {"task_id": task_id, "state": result.state, "result": None}
    if result.successful():
        data["result"] = result.result
    elif result.failed():
        # The exception's message only: a traceback would show visitors the inside of the code.
        data["error"] = str(result.result)
    return JsonResponse(data)
