"""The REST API of collections_link, included at /api/v1/ (OpenAPI at /api/schema/)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from collections_link import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("import/accounts/", api.ImportAccountsView.as_view(), name="api-import-accounts"),
    path("import/contacts/", api.ImportContactsView.as_view(), name="api-import-contacts"),
    path("import/payments/", api.ImportPaymentsView.as_view(), name="api-import-payments"),
]
