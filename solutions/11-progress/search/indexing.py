"""Building the search index: one SearchEntry per album."""
import time

from django.conf import settings
from django.db import transaction

from music.models import Album

from .models import SearchEntry


def entry_text(album):
    """Return the text to search an album by: title, artist name and genres."""
    genres = [str(genre) for genre in album.artist.genres]
    return " ".join([album.title, album.artist.name, *genres])


def rebuild_index(progress=None):
    """
    Replace every search entry with a fresh one per album, and return how
    many entries were created.

    Each album takes SEARCH_INDEX_DELAY seconds, a stand-in for real indexing
    work. If given, progress(current, total) is called after each album,
    counting from 1.

    The slow part builds the new entries in memory; the old index is then
    swapped for them in one short transaction, so a search never sees a
    half-built index, and no write lock is held while the work goes on.
    """
    albums = list(Album.objects.select_related("artist").order_by("pk"))
    total = len(albums)
    entries = []
    for current, album in enumerate(albums, start=1):
        time.sleep(settings.SEARCH_INDEX_DELAY)
        entries.append(SearchEntry(album=album, text=entry_text(album)))
        if progress is not None:
            progress(current, total)
    with transaction.atomic():
        # An album deleted while the work went on gets no entry.
        still_there = Album.objects.filter(pk__in=[album.pk for album in albums])
        kept = set(still_there.values_list("pk", flat=True))
        SearchEntry.objects.all().delete()
        for entry in entries:
            if entry.album_id in kept:
                entry.save()
    return len(kept)
