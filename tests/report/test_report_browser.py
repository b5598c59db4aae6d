"""The report opens in headless Chromium and every chart draws (a screenshot test)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from report_png import decode_png
from report_support import SECTION_IDS, parse_report

from regulars.analysis import StoreAnalysis
from regulars.report import render_report

pytestmark = pytest.mark.slow

WIDTH, HEIGHT = 1280, 4000

# Added to a copy of the report (never to the report itself): records, on each chart, how
# many marks the browser laid out with a non-zero size, and where the chart is on the page.
PROBE = """<script>
for (const svg of document.querySelectorAll("svg.chart")) {
  const drawn = [...svg.querySelectorAll(".mark")].filter((m) => {
    const box = m.getBBox(); return box.width > 0 || box.height > 0;
  });
  const r = svg.getBoundingClientRect();
  svg.setAttribute("data-drawn", String(drawn.length));
  svg.setAttribute("data-box", [r.left, r.top, r.width, r.height].map(Math.round).join(","));
}
document.body.setAttribute("data-probed", "yes");
</script>"""


def run_chromium(chromium: Path, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(chromium),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        f"--user-data-dir={profile}",
        f"--window-size={WIDTH},{HEIGHT}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


@pytest.fixture(scope="module")
def rendered(
    screenshot_analysis: StoreAnalysis, chromium: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, Path, str]:
    """Render the report, screenshot it, and dump the DOM of a probed copy."""
    folder = tmp_path_factory.mktemp("browser")
    html = render_report(screenshot_analysis)
    page = folder / "report.html"
    page.write_text(html, encoding="utf-8")
    png = folder / "report.png"
    shot = run_chromium(chromium, folder / "profile", f"--screenshot={png}", page.as_uri())
    assert png.is_file(), f"Chromium wrote no screenshot: {shot.stderr[-2000:]}"
    probed = folder / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dump = run_chromium(chromium, folder / "profile", "--dump-dom", probed.as_uri())
    assert 'data-probed="yes"' in dump.stdout, f"Chromium did not run the page: {dump.stderr}"
    keep = os.environ.get("REGULARS_SCREENSHOT_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / "report.png")
        shutil.copy(page, Path(keep) / "report.html")
    return html, png, dump.stdout


def chart_boxes(dom: str) -> dict[str, tuple[int, int, int, int, int]]:
    """Return chart name -> (drawn marks, left, top, width, height) from the probed DOM."""
    boxes = {}
    for tag in re.findall(r"<svg\b[^>]*>", dom):
        name = re.search(r'data-chart="([^"]*)"', tag)
        drawn = re.search(r'data-drawn="(\d+)"', tag)
        box = re.search(r'data-box="(-?\d+),(-?\d+),(\d+),(\d+)"', tag)
        if name and drawn and box:
            boxes[name.group(1)] = (int(drawn.group(1)), *(int(v) for v in box.groups()))
    return boxes


def test_every_chart_draws_its_marks_in_the_browser(rendered: tuple[str, Path, str]) -> None:
    html, _, dom = rendered
    expected = parse_report(html).charts
    browser = parse_report(dom)
    assert browser.sections == SECTION_IDS
    assert browser.charts == expected
    boxes = chart_boxes(dom)
    assert set(boxes) == set(expected)
    for name, (drawn, _, _, width, height) in boxes.items():
        assert drawn == expected[name] > 0, f"chart {name}: {drawn} of {expected[name]} drawn"
        assert width > 50 and height > 20, f"chart {name} is {width}x{height} pixels"


def test_the_screenshot_is_not_blank(rendered: tuple[str, Path, str]) -> None:
    _, png, dom = rendered
    image = decode_png(png)[:, :, :3]
    assert image.shape[:2] == (HEIGHT, WIDTH)
    ink = image.min(axis=2) < 235
    assert ink.mean() > 0.03, f"only {ink.mean():.1%} of the page is not white"
    colours = len(np.unique(image.reshape(-1, 3)[::7], axis=0))
    assert colours > 100, f"only {colours} distinct colours"
    on_screen = 0
    for name, (_, left, top, width, height) in chart_boxes(dom).items():
        if top < 0 or top + height > HEIGHT:
            continue
        on_screen += 1
        region = image[top : top + height, left : left + width]
        coloured = (region.max(axis=2).astype(int) - region.min(axis=2)) > 40
        assert coloured.mean() > 0.001, f"chart {name} shows almost no colour in the screenshot"
    assert on_screen >= 5, "too few charts within the screenshot"
