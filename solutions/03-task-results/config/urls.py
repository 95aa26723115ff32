"""URL configuration for the Encore project."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

from .views import task_status

task_patterns = ([path("<str:task_id>/", task_status, name="status")], "tasks")

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("feedback/", include("feedback.urls")),
    # music serves both artists/ and albums/.
    path("", include("music.urls")),
    path("search/", include("search.urls")),
    # Any task's state, by id: /tasks/<task_id>/ (URL name "tasks:status").
    path("tasks/", include(task_patterns)),
    path("admin/", admin.site.urls),
]
