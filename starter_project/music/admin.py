from django.contrib import admin

from .models import Album, Artist


class AlbumInline(admin.TabularInline):
    model = Album
    extra = 0
    readonly_fields = ["created_at"]


@admin.register(Artist)
class ArtistAdmin(admin.ModelAdmin):
    list_display = ["name", "email", "genres", "joined_at"]
    search_fields = ["name", "email"]
    readonly_fields = ["joined_at"]
    inlines = [AlbumInline]


@admin.register(Album)
class AlbumAdmin(admin.ModelAdmin):
    list_display = ["title", "artist", "created_at"]
    list_select_related = ["artist"]
    search_fields = ["title", "artist__name"]
    readonly_fields = ["created_at"]
