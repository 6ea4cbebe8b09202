"""Sentinel's event model: one flat record type per protocol or source. See docs/events.md."""

from . import application, perception, transport  # noqa: F401  (registers the kinds)
from .base import COMMON_FIELDS, KINDS, LAYERS, Event, event_kind, from_dict

__all__ = ["COMMON_FIELDS", "KINDS", "LAYERS", "Event", "event_kind", "from_dict"]
