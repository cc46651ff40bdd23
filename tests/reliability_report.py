"""The reliability report in the README, produced by one command:

    uv run python -m tests.reliability_report

It runs the fault, crash, drift, bad-input, security and hostile-input scenarios (the tests named in SCENARIOS)
and prints one Markdown row per scenario: what was done, the cases it covered, and the result.
"""

from __future__ import annotations

import importlib
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ElementTree
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = (
    "tests/test_reliability.py",
    "tests/test_drift.py",
    "tests/test_config.py::test_malformed_settings_are_rejected",
    "tests/test_config.py::test_langsmith_malformed_settings",
    "tests/test_config.py::test_a_bad_site_is_rejected_even_with_a_base_url",
    "tests/test_config.py::test_malformed_runyard_settings",
    "tests/test_publish.py::test_a_program_holding_the_working_file_makes_sync_wait_then_fail_clearly",
    "tests/test_security.py",
    "tests/test_flows.py::test_credential_and_config_errors_fail_at_once_with_the_cli_message",
    "tests/test_hostile.py",
)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                    f"--junitxml={junit}", *SCENARIOS], cwd=ROOT)  # fmt: skip
        cases = ElementTree.parse(junit).getroot().iter("testcase")
        scenarios: dict[tuple[str, str], list[tuple[str, str, float]]] = defaultdict(list)
        for case in cases:
            module = case.get("classname", "")
            name = case.get("name", "")
            function, _, param = name.partition("[")
            outcome = "failed" if case.find("failure") is not None or case.find("error") is not None else (
                "skipped" if case.find("skipped") is not None else "passed")  # fmt: skip
            scenarios[(module, function)].append((param.rstrip("]"), outcome, float(case.get("time", 0))))
    print("| area | scenario | cases | result | seconds |")
    print("| --- | --- | --- | --- | ---: |")
    for (module, function), runs in scenarios.items():
        area = module.rsplit(".", 1)[-1].removeprefix("test_")
        results = {outcome for _, outcome, _ in runs}
        result = "all passed" if results == {"passed"} else ", ".join(sorted(results))
        params = ", ".join(p for p, _, _ in runs if p) or "-"
        seconds = sum(t for _, _, t in runs)
        print(f"| {area} | {_describe(module, function)} | {params} | {result} ({len(runs)}) | {seconds:.0f} |")
    return completed.returncode


def _describe(module: str, function: str) -> str:
    """The test's docstring (first sentence), or its name in words."""
    try:
        doc = getattr(importlib.import_module(module), function).__doc__
    except (ImportError, AttributeError):
        doc = None
    if doc:
        return re.sub(r"\s+", " ", doc.strip().split("\n\n")[0]).replace("|", "/")
    return function.removeprefix("test_").replace("_", " ")


if __name__ == "__main__":
    sys.exit(main())
