"""ebbflow's shell: settings (one file plus EBBFLOW_* environment), the configured store, and the CLI."""

from ebbflow.config import Settings, load_settings
from ebbflow.stores import open_scheduler, open_store

__all__ = ["Settings", "load_settings", "open_scheduler", "open_store"]
