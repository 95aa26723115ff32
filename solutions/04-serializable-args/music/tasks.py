"""Music tasks."""

from celery import shared_task

from .models import Artist
from .spotify import fetch_playlist_genres


# The argument is the artist's id, a plain number that JSON carries. The worker reads the
# artist from the database itself, so it always works on the current row. Nobody reads what
# it returns (the worker's log and Flower show it), so no result is stored: ignore_result.
@shared_task(ignore_result=True)
def fetch_spotify_genres(artist_id):
    """Read the artist's genres from their playlist and store them; return the genres."""
    artist = Artist.objects.filter(pk=artist_id).first()
    if artist is None or not artist.spotify_playlist_url:
        return []  # deleted since, or nothing to read
    playlist_url = artist.spotify_playlist_url
    genres = fetch_playlist_genres(playlist_url)
    # The API took seconds, and the artist may have changed their playlist meanwhile: store
    # these genres only if the row still has the URL they came from. update() writes only
    # this column, so it cannot undo an edit made meanwhile either.
    Artist.objects.filter(pk=artist_id, spotify_playlist_url=playlist_url).update(genres=genres)
    return genres
