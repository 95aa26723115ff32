"""The thank-you email sent to visitors who leave feedback."""
import time

from django.conf import settings
from django.core.mail import send_mail

SUBJECT = "Thank you for your feedback"

BODY = """Thanks for writing to Encore. You said:

{message}

We read every message, and we will reply if yours needs an answer.

The Encore team
"""


def send_feedback_email(email_address, message):
    """
    Send one thank-you email to email_address, quoting message.

    First sleep FEEDBACK_EMAIL_DELAY seconds: a stand-in for a slow mail server.
    """
    time.sleep(settings.FEEDBACK_EMAIL_DELAY)
    send_mail(
        SUBJECT,
        BODY.format(message=message),
        settings.DEFAULT_FROM_EMAIL,
        [email_address],
    )
