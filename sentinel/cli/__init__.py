"""Command-line interface. One module per user job; each defines `register(app: typer.Typer)`.

sentinel/cli/main.py discovers the modules in this package, so adding a job means adding a module.
"""
