"""Log in to Superset in headless Chromium and draw dashboards; print what each showed as JSON.

Runs in the Superset test environment (Playwright), driving the system Chromium:
``render_probe.py URL USER PASSWORD SCREENSHOT SLUG [SLUG ...]``. For each dashboard: how many
charts it laid out, how many drew something (a canvas, an SVG or a table), the text of every error
box, and for the first a full-page screenshot.
"""

from __future__ import annotations

import json
import shutil
import sys
import time

from playwright.sync_api import Page, sync_playwright

CHART = "[data-test='chart-grid-component']"
DRAWN = "canvas, svg, table"
ERRORS = ".ant-alert-error, [data-test='error-tooltip'], .alert-danger"


def draw(page: Page, url: str, slug: str, timeout_s: float = 90) -> dict[str, object]:
    page.goto(f"{url}/superset/dashboard/{slug}/", wait_until="networkidle")
    page.wait_for_selector(CHART, timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    while True:
        charts = page.locator(CHART)
        total = charts.count()
        drawn = sum(1 for i in range(total) if charts.nth(i).locator(DRAWN).count())
        errors = [e.strip() for e in page.locator(ERRORS).all_inner_texts()]
        loading = page.locator(".loading, [aria-label='Loading']").count()
        if errors or (drawn == total and not loading) or time.monotonic() > deadline:
            return {"charts": total, "drawn": drawn, "errors": errors}
        time.sleep(0.5)


def main(url: str, user: str, password: str, screenshot: str, *slugs: str) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1100})
        page.goto(f"{url}/login/")
        page.fill("input[name='username'], #username", user)
        page.fill("input[name='password'], #password", password)
        page.keyboard.press("Enter")
        page.wait_for_url(lambda u: "/login" not in u, timeout=60_000)
        seen = {}
        for i, slug in enumerate(slugs):
            seen[slug] = draw(page, url, slug)
            if i == 0:
                page.wait_for_timeout(1500)  # let the charts' animations settle before the picture
                page.screenshot(path=screenshot, full_page=True)
        browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:])
