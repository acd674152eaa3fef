"""Settings for bench/survey_page.py: the product's own settings, with the URLconf that adds
the minimal comparison view. Nothing else changes, so both views run the same middleware."""

from __future__ import annotations

import warnings

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls_bench"

# The bench serves no static files (the survey page inlines its CSS), so there is no
# collectstatic directory for WhiteNoise to find.
warnings.filterwarnings("ignore", message="No directory at", module="whitenoise.base")
