"""An HTTP emulator of the Facebook Graph API, the X API and the video site, serving a synthetic world, so the
real source adapters run unchanged in tests and the demo."""

from workloads.emulator.app import family_of, make_app
from workloads.emulator.ratelimit import Family, Limit, Limiter, RateLimits, Verdict
from workloads.emulator.server import EmulatorServer, serve

__all__ = [
    "EmulatorServer",
    "Family",
    "Limit",
    "Limiter",
    "RateLimits",
    "Verdict",
    "family_of",
    "make_app",
    "serve",
]
