"""The reliability report in the README, produced by one command:

    uv run python -m tests.reliability_report

It runs the fault, crash, drift and security scenarios (tests/test_reliability.py,
tests/test_drift.py, tests/test_security.py and the Prefect-log check in tests/test_flows.py)
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
MODULES = ("tests.test_reliability", "tests.test_drift", "tests.test_security")


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        junit = Path(tmp) / "junit.xml"
        files = [
            str(ROOT / (m.replace(".", "/") + ".py"))
            for m in MODULES
            if (ROOT / (m.replace(".", "/") + ".py")).exists()
        ]
        completed = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                    f"--junitxml={junit}", *files], cwd=ROOT)  # fmt: skip
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
