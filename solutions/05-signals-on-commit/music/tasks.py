"""Music tasks."""

from celery import shared_task
from django.core.mail import send_mail

from .models import Album, Artist
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


# Fire and forget, as in lesson 02: nobody reads what it returns, so no result is stored.
@shared_task(ignore_result=True)
def send_album_congratulations(album_id):
    """Congratulate the artist on their new album, by email."""
    # get() raises Album.DoesNotExist if the album is not committed yet: see the lesson.
    album = Album.objects.select_related("artist").get(pk=album_id)
    artist = album.artist
    send_mail(
        subject=f'Congratulations on "{album.title}"',
        message=(
            f"Hello {artist.name},\n\n"
            f"“{album.title}” is now on Encore. Congratulations on the new album!\n\n"
            "The Encore team"
        ),
        from_email=None,  # DEFAULT_FROM_EMAIL
        recipient_list=[artist.email],
    )
