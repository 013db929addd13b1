"""Settings every unit test shares.

Hypothesis's default 200 ms deadline per example times the test, and a unit test is
not timed here (speed targets live in benchmarks/): on a loaded CI machine, or with
the suite spread over every core by pytest-xdist, a property test whose examples
all hold failed with DeadlineExceeded. The properties themselves are unchanged.
"""

from hypothesis import settings

settings.register_profile("reaper", deadline=None)
settings.load_profile("reaper")
