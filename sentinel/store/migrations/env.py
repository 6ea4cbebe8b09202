"""Alembic environment: Sentinel runs migrations programmatically on the connection it passes in."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only when someone runs the alembic CLI by hand
    raise SystemExit("run migrations through sentinel.store.open_store()")

context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
