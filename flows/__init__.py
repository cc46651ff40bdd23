"""Prefect flows, schedules and deployments around ``pipelines.sync.sync()``: ``runyard serve`` and ``runyard deploy``.

Kept free of imports so that ``flows.server`` (the local Prefect server) loads without Prefect.
"""
