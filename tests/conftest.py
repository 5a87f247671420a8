"""Shared pytest configuration: Hypothesis profiles.

Select a profile with the HYPOTHESIS_PROFILE environment variable ("ci" by default).
"""

import os

from hypothesis import settings

settings.register_profile("dev", max_examples=50)
settings.register_profile("ci", derandomize=True, deadline=None, max_examples=60)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
