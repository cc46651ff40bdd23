"""LangSmith API constants: base URL, page size, select tokens, defaults for windows and concurrency."""

from __future__ import annotations

DEFAULT_BASE_URL = "https://api.smith.langchain.com"
QUERY_RUNS_PATH = "/api/v2/runs/query"
PAGE_SIZE = 1000  # the documented maximum

RUN_TYPES = ("TOOL", "CHAIN", "LLM", "RETRIEVER", "EMBEDDING", "PROMPT", "PARSER")

# The select tokens the published API reference documents (44), in its order. The contract a
# server is held to: self-hosted LangSmith lags the SaaS, and one that validates against this
# enum answers 400 to a query naming any other token, refusing the whole query.
DOCUMENTED_SELECTS = (
    "ID", "NAME", "RUN_TYPE", "STATUS", "START_TIME", "END_TIME", "LATENCY_SECONDS", "FIRST_TOKEN_TIME",
    "ERROR", "ERROR_PREVIEW", "EXTRA", "METADATA", "EVENTS", "INPUTS", "INPUTS_PREVIEW", "OUTPUTS",
    "OUTPUTS_PREVIEW", "MANIFEST", "PARENT_RUN_IDS", "PROJECT_ID", "TRACE_ID", "THREAD_ID", "DOTTED_ORDER",
    "IS_ROOT", "REFERENCE_EXAMPLE_ID", "REFERENCE_DATASET_ID", "TOTAL_TOKENS", "PROMPT_TOKENS",
    "COMPLETION_TOKENS", "TOTAL_COST", "PROMPT_COST", "COMPLETION_COST", "PROMPT_TOKEN_DETAILS",
    "COMPLETION_TOKEN_DETAILS", "PROMPT_COST_DETAILS", "COMPLETION_COST_DETAILS", "PRICE_MODEL_ID", "TAGS",
    "APP_PATH", "ATTACHMENTS", "THREAD_EVALUATION_TIME", "IS_IN_DATASET", "SHARE_URL", "FEEDBACK_STATS",
)  # fmt: skip
# Tokens only the newest SDK's RunSelectField knows (langsmith 0.15): opt-in, never sent by default.
SDK_ONLY_SELECTS = ("LAST_QUEUED_AT", "LS_USER_ID")
# Every token runyard can ask for, in the SDK's order (its 46 are the documented 44 plus the two above).
SELECT_TOKENS = (*DOCUMENTED_SELECTS[:42], "LAST_QUEUED_AT", "SHARE_URL", "FEEDBACK_STATS", "LS_USER_ID")

# Opt-in only: full payloads are large, attachment links are pre-signed and share URLs grant
# anonymous access, so none of them belongs in a warehouse by default.
OPT_IN_SELECTS = ("INPUTS", "OUTPUTS", "EVENTS", "EXTRA", "MANIFEST", "ATTACHMENTS", "SHARE_URL")
DEFAULT_SELECTS = tuple(token for token in DOCUMENTED_SELECTS if token not in OPT_IN_SELECTS)

DEFAULT_INITIAL_DAYS = 30  # how far back the first sync reaches when INITIAL_START is not set
DEFAULT_WINDOW_HOURS = 24  # backfills are split into windows of this size
DEFAULT_CONCURRENCY = 8  # windows fetched at once

# The feedback condition the late-feedback query needs: ``min/max_feedback_modified_at`` apply "to
# the feedback conditions in filter" and require one (the SDK's RunQueryV2Params docstring). A key
# that is not empty matches feedback of any key, so the query finds every run whose feedback changed.
FEEDBACK_CONDITION = 'neq(feedback_key, "")'
DEFAULT_FEEDBACK_LOOKBACK_HOURS = 0  # the fallback when a server refuses that query: off
