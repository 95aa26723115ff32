from django.db import models


class Artist(models.Model):
    """A musician or band registered on Encore."""

    name = models.CharField(max_length=100)
    email = models.EmailField()
    spotify_playlist_url = models.URLField("Spotify playlist URL", blank=True)
    genres = models.JSONField(default=list, blank=True)
    # True once the playlist API answered 404: asking again won't make the playlist exist.
    playlist_not_found = models.BooleanField(default=False)
    joined_at = models.DateTimeField(auto_now_add=True)
    # When remind_inactive_artists last emailed this artist (empty: never).
    last_reminded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self):
        return self.name


class Album(models.Model):
    """An album released by an artist."""

    artist = models.ForeignKey(Artist, on_delete=models.CASCADE, related_name="albums")
    title = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)
    # TODO(exercise 10): remember here that the artist was congratulated on this album.

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return self.title
