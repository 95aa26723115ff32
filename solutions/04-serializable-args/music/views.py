from django.contrib import messages
from django.db.models import Count
from django.shortcuts import redirect, render

from .forms import AlbumForm, ArtistForm
from .models import Artist
from .tasks import fetch_spotify_genres


def artist_list(request):
    """List every artist with their genres and how many albums they have."""
    artists = Artist.objects.annotate(album_count=Count("albums"))
    return render(request, "music/artist_list.html", {"artists": artists})


def register(request):
    """
    Register an artist. If they gave a playlist URL, a worker reads their
    genres from the playlist API after the page has answered.
    """
    if request.method == "POST":
        form = ArtistForm(request.POST)
        if form.is_valid():
            artist = form.save()
            messages.success(request, f"Welcome to Encore, {artist.name}!")
            if artist.spotify_playlist_url:
                # Pass the id, never the artist: a message carries plain JSON values.
                # On commit: a worker must not look for the artist before it is saved.
                fetch_spotify_genres.delay_on_commit(artist.pk)
                messages.info(
                    request, "We are reading the genres from your playlist: "
                    "they will show on your profile in a moment."
                )
            return redirect("music:artist_list")
    else:
        form = ArtistForm()
    return render(request, "music/register.html", {"form": form})


def album_create(request):
    """Add an album for an artist chosen from a list."""
    if request.method == "POST":
        form = AlbumForm(request.POST)
        if form.is_valid():
            album = form.save()
            messages.success(request, f"“{album.title}” by {album.artist} was added.")
            return redirect("music:artist_list")
    else:
        form = AlbumForm()
    return render(request, "music/album_form.html", {"form": form})
