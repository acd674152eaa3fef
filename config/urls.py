from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config import views

urlpatterns = [
    # First: the debtor's pages are the busiest URLs, and resolving walks the list in order.
    path("", include("surveys.urls")),
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("collections_link.api_urls")),
    path("api/v1/", include("nps.api_urls")),
    path("dashboard/", include("nps.urls")),
    path("cati/", include("surveys.cati_urls")),
    path("", include("surveys.webhook_urls")),
]
