from django.urls import path

from . import views

app_name = "music"

urlpatterns = [
    path("artists/", views.artist_list, name="artist_list"),
    path("artists/register/", views.register, name="register"),
    path("albums/new/", views.album_create, name="album_create"),
]
