"""Content scanning with YARA: rule loading and caching (`rules`), the file walk (`walk`), scanning (`scan`)."""

from .rules import RuleSet, default_rules_dir, load_rules
from .scan import FileResult, scan_files, scan_payloads
from .walk import Walk

__all__ = ["FileResult", "RuleSet", "Walk", "default_rules_dir", "load_rules", "scan_files", "scan_payloads"]
