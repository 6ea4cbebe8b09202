"""Sentinel: security risk assessment and incident response for smart-city infrastructure."""

__version__ = "0.1.0"
