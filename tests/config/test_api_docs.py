"""The API documentation page loads everything from the site itself: no CDN, no other host."""

from __future__ import annotations

import re

import pytest
from django.contrib.staticfiles import finders


@pytest.mark.django_db
def test_the_api_docs_load_swagger_ui_from_our_own_static_files(client) -> None:
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    assert not [s for s in sources if "//" in s], sources  # nothing from another host
    bundle = [s for s in sources if s.endswith("swagger-ui-bundle.js")]
    assert bundle and bundle[0].startswith("/static/drf_spectacular_sidecar/")
    # The files are really there to be served.
    assert finders.find("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    schema = client.get("/api/schema/")
    assert schema.status_code == 200
