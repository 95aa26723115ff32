"""Feedback tasks: work a worker does so the visitor does not wait for it."""

from celery import shared_task

from config.tasks import run_task

from .emails import send_feedback_email


# @shared_task, not @app.task: the app stays in config/, and this app works with any Celery app.
# ignore_result: nobody reads what this task returns, so the worker stores no result for it.
# With Redis down, the email is sent from the request itself (lesson 12).
@run_task
@shared_task(ignore_result=True)
def send_feedback_email_task(email_address, message):
    """Send the thank-you email from a worker."""
    send_feedback_email(email_address, message)
