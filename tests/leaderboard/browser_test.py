"""The leaderboard page in a real browser (Debian's Chromium, headless, through playwright):
it loads from file:// with no console errors, the table sorts by a clicked column, a legend
click hides a curve, and the anytime view's slider changes the ranking it shows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from algoperf_lab import cli
from algoperf_lab.leaderboard import browser
from tests.helpers import REPO_ROOT

TABLE = REPO_ROOT / "results" / "submissions_table_2026-12-05"
MISSING = browser.missing()
pytestmark = pytest.mark.skipif(MISSING is not None, reason=f"browser tests: {MISSING}")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
  out = tmp_path_factory.mktemp("site")
  assert cli.main(["leaderboard", str(TABLE), f"--out={out}", "--bootstrap_samples=50"]) == 0
  return out


def _names(page, selector: str) -> list[str]:
  return page.eval_on_selector_all(selector, "rows => rows.map(r => r.dataset.submission)")


def test_loads_offline_with_no_console_errors(site):
  with browser.open_page(site / "index.html") as (page, errors):
    page.wait_for_timeout(500)
    assert errors == []
    assert len(_names(page, "#leaderboard-table tbody tr")) == 4
    # Every chart drew: plotly adds its SVG to each chart's div.
    for chart in ("profile-time", "profile-steps", "curves-0", "anytime-chart"):
      assert page.locator(f"#{chart} .main-svg").count() > 0, chart
    assert page.locator("script[src^='http']").count() == 0  # nothing from the network


def test_clicking_a_column_sorts_the_table(site):
  data = json.loads((site / "leaderboard.json").read_text())
  lm = {n: row["workloads"]["lm/tiny"]["median"] for n, row in data["clocks"]["time"].items()}
  with browser.open_page(site / "index.html") as (page, _):
    page.click("#leaderboard-table th:has-text('lm/tiny s')")
    assert _names(page, "#leaderboard-table tbody tr") == sorted(lm, key=lm.get)
    page.click("#leaderboard-table th:has-text('lm/tiny s')")
    assert _names(page, "#leaderboard-table tbody tr") == sorted(lm, key=lm.get, reverse=True)
    page.click("#leaderboard-table th:has-text('submission')")
    assert _names(page, "#leaderboard-table tbody tr") == sorted(lm)
    best = {n: cell["median"] for n, cell in data["closest"]["lm/tiny"].items()}
    page.click("#leaderboard-table th:has-text('lm/tiny best')")
    assert _names(page, "#leaderboard-table tbody tr") == sorted(best, key=best.get)


def test_a_legend_click_hides_a_curve(site):
  with browser.open_page(site / "index.html") as (page, _):
    visible = "i => document.getElementById('curves-0').data[i].visible"
    median = page.evaluate("document.getElementById('curves-0').data.findIndex("
                           "t => t.showlegend !== false)")
    assert page.evaluate(visible, median) in (True, None)
    page.locator("#curves-0 .legend .traces .legendtoggle").first.click(force=True)
    page.wait_for_timeout(800)  # plotly waits to tell a click from a double click
    assert page.evaluate(visible, median) == "legendonly"


def test_the_curves_open_on_the_race_to_the_target():
  """On the committed MoE board (whose curves start near 8.4 bits/byte and end near 2.8): the y
  axis holds the target and every value the shown medians take after the first tenth of the time
  axis, and leaves the initial loss out (it would squash the finish); the shown submissions have
  distinct colours."""
  site = REPO_ROOT / "docs" / "leaderboard" / "moe"
  curve = json.loads((site / "leaderboard.json").read_text())["curves"]["lm_moe/tiny"]
  with browser.open_page(site / "index.html") as (page, errors):
    chart = "document.getElementById('curves-0')"
    low, high = page.evaluate(f"{chart}.layout.yaxis.range")
    shown = page.evaluate(f"{chart}.data.filter(t => t.visible === true && t.showlegend !== false"
                          " && t.name.includes('(n='))"
                          ".map(t => [t.name.split(' ')[0], t.line.color])")
    assert errors == []
  assert len(shown) == 4 and len({color for _, color in shown}) == 4
  late = [y for name, _ in shown for x, y in zip(curve["grid"], curve["submissions"][name]["median"])
          if y is not None and x >= 0.1 * curve["grid"][-1]] + [curve["target"]]
  pad = 0.05 * (max(late) - min(late))
  assert (low, high) == pytest.approx((min(late) - pad, max(late) + pad))
  first = min(next(y for y in band["median"] if y is not None)
              for band in curve["submissions"].values())
  assert first > high  # every curve's first evaluation is above the opening view


def test_the_anytime_slider_changes_the_ranking(site):
  data = json.loads((site / "leaderboard.json").read_text())
  with browser.open_page(site / "index.html") as (page, _):
    full = _names(page, "#anytime-table tbody tr")
    page.locator("#anytime-slider").fill("1")  # 50% of the budget
    half = _names(page, "#anytime-table tbody tr")
    assert page.text_content("#anytime-level") == "50% of the budget"
    expected = sorted(data["anytime"]["by_budget"]["0.5"].items(), key=lambda kv: (-kv[1], kv[0]))
    assert half == [name for name, _ in expected] and half != full
    page.select_option("#anytime-mode", "target")
    assert page.text_content("#anytime-level") == "target loosened by 20%"


def test_the_paired_table_follows_the_clock_and_the_workload(tmp_path):
  out = tmp_path / "site"
  assert cli.main(["leaderboard", str(TABLE), f"--out={out}", "--bootstrap_samples=50",
                   "--baseline=nadamw"]) == 0
  data = json.loads((out / "leaderboard.json").read_text())
  with browser.open_page(out / "index.html") as (page, errors):
    assert page.text_content("#paired-baseline") == "nadamw"
    rows = page.locator("#paired-table tbody tr")
    assert rows.count() == len(data["paired"]["time"]) == 9  # 3 submissions x 3 workloads
    first = data["paired"]["time"][0]
    assert rows.first.locator("td").nth(3).text_content() == (
        f"{first['faster']} / {first['slower']} / {first['ties']}")
    page.select_option("#paired-clock", "steps")
    ratio = data["paired"]["steps"][0]["time_ratio_geomean"]
    shown = rows.first.locator("td").nth(5).text_content()
    assert shown == ("n/a (a miss)" if ratio is None else f"{ratio:.3f}")
    workloads = sorted({c["workload"] for c in data["paired"]["steps"]})
    assert page.eval_on_selector_all("#paired-workload option", "os => os.map(o => o.value)") == [
        "", *workloads]
    page.select_option("#paired-workload", "gnn/tiny")
    shown = page.eval_on_selector_all("#paired-table tbody tr",
                                      "rows => rows.map(r => r.dataset.workload)")
    assert shown == ["gnn/tiny"] * sum(c["workload"] == "gnn/tiny" for c in data["paired"]["steps"])
    assert len(shown) == 3
    page.select_option("#paired-workload", "")
    assert rows.count() == 9
    assert errors == []
  with browser.open_page(REPO_ROOT / "docs" / "leaderboard" / "moe" / "index.html") as (page, _):
    assert page.locator("#paired-table tbody tr").count() >= 1


def test_screenshots_of_every_view(tmp_path, capsys):
  """`leaderboard --screenshots=DIR`, as the README builds the committed views."""
  shots_dir = tmp_path / "shots"
  assert cli.main(["leaderboard", str(TABLE), f"--out={tmp_path / 'site'}",
                   "--bootstrap_samples=50", f"--screenshots={shots_dir}"]) == 0
  names = [f"leaderboard_{v}.png" for v in ("table", "profiles", "paired", "curves", "anytime",
                                            "submissions", "anytime_target")]
  assert [line.split("/")[-1] for line in capsys.readouterr().out.splitlines()
          if line.startswith("screenshot: ")] == names
  assert all((shots_dir / name).stat().st_size > 5_000 for name in names)
