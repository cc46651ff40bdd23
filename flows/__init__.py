"""Prefect flows that schedule the same pipeline functions the CLI calls (not built yet)."""
