"""URL configuration for the Encore project."""
from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView

urlpatterns = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("feedback/", include("feedback.urls")),
    # music serves both artists/ and albums/.
    path("", include("music.urls")),
    path("search/", include("search.urls")),
    # TODO(exercise 03): the task status endpoint /tasks/<task_id>/ goes here (URL name "tasks:status").
    path("admin/", admin.site.urls),
]
