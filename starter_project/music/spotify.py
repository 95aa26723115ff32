"""A client for the playlist API that tells which genres a playlist holds."""
import requests
from django.conf import settings


def fetch_playlist_genres(playlist_url) -> list[str]:
    """
    Return the genres of the playlist at playlist_url.

    Ask the API at SPOTIFY_API_URL, waiting at most SPOTIFY_API_TIMEOUT
    seconds. Raise requests.RequestException if the API can't be reached,
    times out or answers with an HTTP error.
    """
    response = requests.get(
        settings.SPOTIFY_API_URL,
        params={"url": playlist_url},
        timeout=settings.SPOTIFY_API_TIMEOUT,
    )
    response.raise_for_status()
    return [str(genre) for genre in response.json()["genres"]]
