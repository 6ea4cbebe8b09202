"""`sentinel detect --run ID`: evaluate a stored run again — a retro-hunt with new or changed rules, or the
detection step of a run analysed with `--no-detect`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from .common import DB_OPTION, JSON_OPTION, NO_BUILTIN_OPTION, RULES_OPTION, emit_json


def register(app: typer.Typer) -> None:
    @app.command("detect")
    def detect(
        run: int = typer.Option(..., "--run", help="Stored run to evaluate (see the run id analyze/ingest print)."),
        db: Optional[str] = DB_OPTION,
        json_out: bool = JSON_OPTION,
        rules: list[Path] = RULES_OPTION,
        no_builtin: bool = NO_BUILTIN_OPTION,
        replace: bool = typer.Option(False, "--replace", help="Replace the run's existing alerts (the ledger keeps "
                                     "the earlier ones: it is append-only)."),
    ) -> None:
        """Run asset discovery and the rules engine over the events of a stored run and store its alerts."""
        import sqlalchemy as sa

        from ..detect import store_alerts
        from ..detect.tables import AlertEvidence, AlertRow
        from ..evaluate import Evaluation, alert_json, print_alerts
        from ..integrity.ledger import record_run_alerts
        from ..store import open_store
        from ..store.reader import run_events
        from ..store.tables import Run
        from ..store.writer import append_events

        engine = open_store(db)
        a, links, runs = AlertRow.__table__, AlertEvidence.__table__, Run.__table__
        with engine.connect() as conn:
            if conn.execute(sa.select(runs.c.id).where(runs.c.id == run)).first() is None:
                raise InputError("--run", f"no run {run} in the store")
            existing = conn.execute(sa.select(sa.func.count()).where(a.c.run_id == run)).scalar()
        if existing and not replace:
            raise InputError("--run", f"run {run} already has {existing} alerts; pass --replace to re-evaluate it")
        evaluation = Evaluation(rules, builtin=not no_builtin)
        evaluation.use_inventory(engine)
        n = 0
        found = []  # heartbeat_lost revealed on the way
        for ev in run_events(engine, run):
            found += evaluation.add([ev])
            n += 1
        outcome = evaluation.finish(engine, run)
        outcome.extra_events = found + outcome.extra_events
        with engine.begin() as conn:
            if replace:
                ids = sa.select(a.c.id).where(a.c.run_id == run)
                conn.execute(links.delete().where(links.c.alert_id.in_(ids)))
                conn.execute(a.delete().where(a.c.run_id == run))
        append_events(engine, run, outcome.extra_events)
        if outcome.alerts:
            store_alerts(engine, run, outcome.alerts)
            record_run_alerts(engine, run)
        if json_out:
            emit_json({"run_id": run, "events": n, "alerts": [alert_json(x) for x in outcome.alerts],
                       "assets": outcome.assets})
        else:
            typer.echo(f"run {run}: {n} events evaluated")
            print_alerts(outcome.alerts)
