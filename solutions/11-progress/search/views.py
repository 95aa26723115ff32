from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import reverse

from music.models import Album

from .models import SearchEntry
from .tasks import start_rebuild


def results(request):
    """List the albums whose index entry contains every word of ?q=."""
    query = request.GET.get("q", "").strip()
    entries = SearchEntry.objects.none()
    if query:
        entries = SearchEntry.objects.select_related("album__artist").order_by(
            "album__title"
        )
        for word in query.split():
            entries = entries.filter(text__icontains=word)
    context = {
        "query": query,
        "entries": entries,
        "index_size": SearchEntry.objects.count(),
    }
    return render(request, "search/results.html", context)


def rebuild(request):
    """Explain the search index; on POST, start a rebuild on a worker and answer at once."""
    if request.method == "POST":
        # Optional: the address to email when the rebuild is done.
        email_address = request.POST.get("email", "").strip() or None
        if email_address:
            try:
                validate_email(email_address)
            except ValidationError:
                return JsonResponse({"error": "Enter a valid email address."}, status=400)
        # While a rebuild runs, this is its id: a second click starts nothing new.
        task_id = start_rebuild(email_address)
        status_url = reverse("tasks:status", args=[task_id])
        # 202 Accepted: the work has started, and status_url says how it goes.
        return JsonResponse({"task_id": task_id, "status_url": status_url}, status=202)
    album_count = Album.objects.count()
    context = {
        "album_count": album_count,
        "index_size": SearchEntry.objects.count(),
        "estimate": album_count * settings.SEARCH_INDEX_DELAY,
    }
    return render(request, "search/rebuild.html", context)
