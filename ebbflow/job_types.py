"""The job types a process knows: those installed packages declare (entry points), those of every installed
pack (`ebbflow.packs`, bound to the configured stores), plus any the config file names as
`job_types = ["module:ATTRIBUTE"]` (an iterable of JobType), for types that are not packaged yet: local
development and tests. Only the operator's config can add code this way; a queued job can only name a type
that is registered here."""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from scheduler.errors import ConfigError
from scheduler.registry import JobType, JobTypeRegistry
from workloads.binding import job_types as pack_job_types
from workloads.discovery import load_packs
from workloads.resources import ResourcesSource


def load_registry(extra: Sequence[str] = (), packs: ResourcesSource | None = None) -> JobTypeRegistry:
    """With `packs`, every installed pack's job types too, bound to those stores and sources."""
    registry = JobTypeRegistry.from_entry_points()
    if packs is not None:
        for pack in load_packs().values():
            for job_type in pack_job_types(pack, packs):
                registry.register(job_type)
    for reference in extra:
        for job_type in _load(reference):
            registry.register(job_type)
    return registry


def _load(reference: str) -> list[JobType]:
    module_name, _, attribute = reference.partition(":")
    try:
        found = getattr(importlib.import_module(module_name), attribute)
        types = list(found)
    except (ImportError, AttributeError, TypeError) as err:
        raise ConfigError(f"job_types: {reference!r} cannot be loaded ({err}); give 'module:ATTRIBUTE'") from err
    if not all(isinstance(job_type, JobType) for job_type in types):
        raise ConfigError(f"job_types: {reference!r} must be an iterable of scheduler.registry.JobType")
    return types
