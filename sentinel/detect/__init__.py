"""Detection: Sigma rules (with correlations) evaluated in-process over Sentinel events, producing alerts.

See docs/detection.md. Public API:

    from sentinel.detect import RuleSet, Engine
    rs = RuleSet.load(["extra-rules/"], builtin=True)
    engine = Engine(rs)
    for ev in events: engine.process(ev)
    alerts = engine.finish()
"""

from .alerts import Alert
from .engine import Engine
from .ruleset import Correlation, Rule, RuleError, RuleSet, builtin_dir

__all__ = ["Alert", "Correlation", "Engine", "Rule", "RuleError", "RuleSet", "builtin_dir", "store_alerts"]


def store_alerts(engine, run_id, alerts):  # noqa: ANN001 - thin lazy wrapper (keeps SQLAlchemy out of import time)
    from .storage import store_alerts as _store

    return _store(engine, run_id, alerts)
