from django.shortcuts import redirect, render

from .emails import send_feedback_email
from .forms import FeedbackForm


def feedback_form(request):
    """Show the feedback form; on a valid POST, email the visitor and redirect."""
    if request.method == "POST":
        form = FeedbackForm(request.POST)
        if form.is_valid():
            # TODO(exercise 02): this call sleeps for FEEDBACK_EMAIL_DELAY seconds
            # while the visitor waits. Hand it to a Celery task instead.
            send_feedback_email(form.cleaned_data["email"], form.cleaned_data["message"])
            return redirect("feedback:thanks")
    else:
        form = FeedbackForm()
    return render(request, "feedback/feedback_form.html", {"form": form})


def thanks(request):
    """Thank the visitor once their feedback is sent."""
    return render(request, "feedback/thanks.html")
