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
# Unfinished runs are followed (read again on every sync) until their updated_at is this many days
# old. Crashed jobs stay "running" for good (one run in five in the recorded org), so following
# them all would cost a sync more with every week of history; past this they are read again only
# when they move in the list (a status change moves updated_at) and by --full-refresh.
MODEL_LAB_FOLLOW_UNFINISHED_DAYS = 14
# Followed runs are read again through the list's filter[id] (comma-separated), a page of ids each.
MODEL_LAB_IDS_PER_REQUEST = MODEL_LAB_PAGE_SIZE
# Followed runs missing from a filter[id] answer are taken as deleted (as a 404 was); while there are
# at most this many in a sync, each is confirmed with a GET first (cheap, and the list might omit one).
MODEL_LAB_CONFIRM_MISSING = 5

# How far behind the stored high-water mark an incremental sync starts re-reading, to cover
# rows committed late or moved while the previous sync was paging.
MODEL_LAB_DEFAULT_LAG_S = 600

# A full walk that saw the list shrink under it (hard deletes shift rows across page
# boundaries) is repeated up to this many times before the sync settles for a warning.
MODEL_LAB_MAX_FULL_WALKS = 3

# Experimentation search page size (``page.limit``); the docs' example uses 100.
LLM_OBS_DEFAULT_PAGE_LIMIT = 100
LLM_OBS_SCOPES = ("projects", "datasets", "dataset_records", "experiments", "experiment_runs")
