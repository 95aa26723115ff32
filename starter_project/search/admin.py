from django.contrib import admin

from .models import SearchEntry


@admin.register(SearchEntry)
class SearchEntryAdmin(admin.ModelAdmin):
    list_display = ["album", "text", "indexed_at"]
    list_select_related = ["album"]
    search_fields = ["text"]
