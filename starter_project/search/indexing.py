"""Building the search index: one SearchEntry per album."""
import time

from django.conf import settings

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
    """
    # TODO(exercise 11): between this delete and the last create, a search
    # sees a half-built index. Build the entries first, then swap them in.
    SearchEntry.objects.all().delete()
    albums = list(Album.objects.select_related("artist").order_by("pk"))
    total = len(albums)
    for current, album in enumerate(albums, start=1):
        time.sleep(settings.SEARCH_INDEX_DELAY)
        SearchEntry.objects.create(album=album, text=entry_text(album))
        if progress is not None:
            progress(current, total)
    return total
