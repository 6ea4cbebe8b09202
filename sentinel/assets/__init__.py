"""Assets: passive device discovery (observed devices, roles, cadence) and the declared inventory, reconciled."""

from .cadence import CadenceConfig, CadenceTracker
from .observe import Observer, ObserverConfig
from .oui import OuiDb, vendor

__all__ = ["CadenceConfig", "CadenceTracker", "Observer", "ObserverConfig", "OuiDb", "vendor"]
