"""Datadog API constants: sites, paths, page sizes, statuses."""

from __future__ import annotations

# The nine sites in Datadog's docs (DD_SITE values) and their API hosts. Every host is
# "api." + site; the table is explicit so a typo is caught instead of resolved to nowhere.
SITES: dict[str, str] = {
    site: f"https://api.{site}"
    for site in (
        "datadoghq.com",
        "us3.datadoghq.com",
        "us5.datadoghq.com",
        "datadoghq.eu",
        "ap1.datadoghq.com",
        "ap2.datadoghq.com",
        "uk1.datadoghq.com",
        "ddog-gov.com",
        "us2.ddog-gov.com",
    )
}
DEFAULT_SITE = "datadoghq.com"

MODEL_LAB_RUNS_PATH = "/api/v2/model-lab-api/runs"
MODEL_LAB_RUN_PATH = "/api/v2/model-lab-api/runs/{run_id}"
LLM_OBS_SEARCH_PATH = "/api/v2/llm-obs/v1/experimentation/search"
PATTERNS_RUNS_PATH = "/api/v2/llm-obs/v1/topic-discovery-runs"

# The documented maximum for page[size].
MODEL_LAB_PAGE_SIZE = 100

MODEL_LAB_STATUSES = ("pending", "running", "completed", "failed", "killed", "unresponsive", "paused")
# Runs in these states can still change without their list position telling us (metrics are
# logged while they run), so they are re-read by id until they leave them.
MODEL_LAB_UNFINISHED = frozenset({"pending", "running", "paused", "unresponsive"})

# How far behind the stored high-water mark an incremental sync starts re-reading, to cover
# rows committed late or moved while the previous sync was paging.
MODEL_LAB_DEFAULT_LAG_S = 600

# A full walk that saw the list shrink under it (hard deletes shift rows across page
# boundaries) is repeated up to this many times before the sync settles for a warning.
MODEL_LAB_MAX_FULL_WALKS = 3

# Experimentation search page size (``page.limit``); the docs' example uses 100.
LLM_OBS_DEFAULT_PAGE_LIMIT = 100
LLM_OBS_SCOPES = ("projects", "datasets", "dataset_records", "experiments", "experiment_runs")
