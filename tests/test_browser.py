"""The reviewer's view in a real browser: Debian's Chromium, driven by
Playwright, against `mlflow server` on loopback and the report's HTML page.

CI installs Chromium (`.ci/run`) and sets HARNESS_CI=1, so there a missing
browser fails these tests instead of skipping them."""

import json
import os
import re
import shutil
from pathlib import Path

import mlflow
import pytest

from harness.report import runs_url

from .conftest import mlflow_server, require, run_harness

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser
# Headless, and nothing but loopback: no background services, no component updates.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
METRIC = "median/macro_f1"


@pytest.fixture(scope="module")
def server(small_sweep):
    with mlflow_server("--backend-store-uri", small_sweep["uri"]) as uri:
        yield uri


@pytest.fixture(scope="module")
def browser():
    require(os.path.exists(CHROMIUM), "Chromium (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require(False, "Playwright (pip install playwright)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh reviewer: a new context, so no column choices saved by another test."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    yield context.new_page()
    context.close()


def _experiment(sweep) -> tuple[str, dict[str, mlflow.entities.Run]]:
    mlflow.set_tracking_uri(sweep["uri"])
    found = mlflow.get_experiment_by_name(sweep["experiment"])
    runs = mlflow.search_runs([found.experiment_id], output_format="list")
    return found.experiment_id, {r.info.run_name: r for r in runs}


def runs_table(page, server: str, experiment_id: str) -> dict[str, str]:
    """Run name -> its median macro-F1 cell, as the experiment's runs table
    shows them after the reviewer adds that column."""
    page.goto(f"{server}/#/experiments/{experiment_id}/runs")
    page.locator('[col-id="attributes.`Run Name`"]').first.wait_for()  # the runs have loaded
    page.get_by_role("button", name="Columns", exact=True).click()
    columns = page.get_by_role("dialog")
    columns.get_by_placeholder("Search columns").fill(METRIC)
    columns.get_by_text(METRIC, exact=True).click()
    page.keyboard.press("Escape")
    page.wait_for_function(  # a value cell in every run's row
        """m => document.querySelectorAll('[role=gridcell][col-id="attributes.`Run Name`"]').length ===
                document.querySelectorAll(`[role=gridcell][col-id="metrics.\\`${m}\\`"]`).length""",
        arg=METRIC,
    )
    names, values = {}, {}
    for row in page.locator("[role=row][row-id]").all():  # a run's cells span pinned and scrolling rows
        run_id = row.get_attribute("row-id")
        for cell in row.locator("[col-id]").all():
            if cell.get_attribute("col-id") == "attributes.`Run Name`":
                names[run_id] = cell.inner_text().splitlines()[-1]
            elif cell.get_attribute("col-id") == f"metrics.`{METRIC}`":
                values[run_id] = cell.inner_text()
    return {names[r]: values.get(r) for r in names}


def check_listed(table: dict[str, str], expected: dict[str, float]) -> None:
    """Every expected run is in the table with its median macro-F1."""
    for name, value in expected.items():
        assert name in table, f"run {name} is not listed in the MLflow UI ({sorted(table)})"
        assert float(table[name]) == pytest.approx(value, abs=1e-9), name


def test_every_run_of_the_sweep_is_listed_with_its_median_macro_f1(page, small_sweep, server):
    experiment_id, runs = _experiment(small_sweep)
    expected = {n: runs[n].data.metrics[METRIC] for n in small_sweep["names"]}
    check_listed(runs_table(page, server, experiment_id), expected)


def test_the_check_fails_when_a_run_is_missing(page, small_sweep, server):
    experiment_id, runs = _experiment(small_sweep)
    expected = {n: runs[n].data.metrics[METRIC] for n in small_sweep["names"]}
    gone = runs[small_sweep["names"][0]].info.run_id
    mlflow.MlflowClient().delete_run(gone)
    try:
        with pytest.raises(AssertionError, match="is not listed"):
            check_listed(runs_table(page, server, experiment_id), expected)
    finally:
        mlflow.MlflowClient().restore_run(gone)


def test_a_runs_predictions_artifact_opens(page, small_sweep, server):
    experiment_id, runs = _experiment(small_sweep)
    run = runs[small_sweep["names"][-1]]
    first = mlflow.artifacts.load_text(f"runs:/{run.info.run_id}/predictions.jsonl").splitlines()[0]
    page.goto(f"{server}/#/experiments/{experiment_id}/runs/{run.info.run_id}/artifacts")
    page.get_by_text("predictions.jsonl", exact=True).click()
    # The preview shows the file's first line (the highlighter splits it into spans).
    page.wait_for_function("line => document.body.innerText.includes(line)", arg=first[:80])


def _report(page, sweep, folder, *ui: str) -> None:
    """harness-report on the sweep (no report run logged; `ui`: --ui ADDRESS), its page opened."""
    done = run_harness(
        "--experiment",
        sweep["experiment"],
        "--tracking-uri",
        sweep["uri"],
        "--out",
        str(folder),
        "--bootstrap",
        "100",
        "--no-log",
        *ui,
        module="harness.report",
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    page.goto((folder / "report.html").as_uri())


def test_report_page_shows_every_figure(page, small_sweep, tmp_path):
    _report(page, small_sweep, tmp_path)
    images = page.locator("img")
    assert images.count() == 4
    for image in images.all():
        image.scroll_into_view_if_needed()
        assert image.is_visible() and image.evaluate("i => i.complete && i.naturalWidth > 0")
    assert page.get_by_role("heading", name="Headline").is_visible()
    headline = page.locator("table").first.inner_text()
    assert all(name in headline for name in small_sweep["names"])


def test_report_fits_a_laptop_screen(browser, small_sweep, tmp_path):
    """At 1366 x 768, with every fold open, the page never scrolls sideways
    and no table needs scrolling of its own (test_screenshots_of_make_demo
    checks the same on make demo's experiment)."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    _report(page, small_sweep, tmp_path)
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    tables = page.locator("div.scroll")
    assert tables.count() >= 8
    for box in tables.all():
        wide = box.evaluate("d => d.scrollWidth > d.clientWidth && d.querySelector('th').textContent")
        assert not wide, f"the table starting {wide!r} is wider than the page"
    context.close()


def test_the_traces_view_lists_each_document_with_its_fields_right(page, small_sweep, server):
    """tracking.traces=true (the sweep sets it): the experiment's Traces view
    shows a scored document as its run logged it: id, route, fields right."""
    experiment_id, runs = _experiment(small_sweep)
    run = runs[small_sweep["names"][-1]]  # the sweep's last run: the view's first page, newest first
    traces = mlflow.search_traces(locations=[experiment_id], run_id=run.info.run_id, return_type="list")
    assert len(traces) == 12
    page.goto(f"{server}/#/experiments/{experiment_id}/traces")
    page.get_by_text("fields_right", exact=True).first.wait_for()
    for trace in traces:  # the table's rows are divs of role=cell; a row's input link names its trace
        link = page.locator(f'[aria-label="Open trace {trace.info.trace_id} — input"]')
        row = link.locator("xpath=ancestor::div[@role='cell'][1]/..").inner_text().splitlines()
        inputs = trace.data.spans[0].inputs
        right = next(a.value for a in trace.info.assessments if a.name == "fields_right")
        assert row[1].startswith(f'{{"doc_id": "{inputs["doc_id"]}", "route": "{inputs["route"]}"'), row[:2]
        assert str(right) in row[2:], (inputs["doc_id"], right, row)


@pytest.mark.skipif(not os.environ.get("HARNESS_SCREENSHOTS"), reason="`make screenshots`, after `make demo`")
def test_screenshots_of_make_demo(browser):
    """docs/results.md's screenshots, from the experiment `make demo` left in
    ./mlruns: the link its report printed opens the runs table best first,
    and report.html fits 1366 x 768 with every fold open."""
    out = Path(os.environ["HARNESS_SCREENSHOTS"])
    uri = f"sqlite:///{Path('mlruns/mlflow.db').resolve()}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name("demo")
    assert experiment, "no experiment `demo` in ./mlruns: run `make demo` first"
    with mlflow_server("--backend-store-uri", uri) as server:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.goto(runs_url(server, experiment.experiment_id))
        cells = page.locator(f'[role=gridcell][col-id="metrics.`{METRIC}`"]')
        cells.first.wait_for()
        values = [float(c.inner_text()) for c in cells.all()]
        assert len(values) > 1 and values == sorted(values, reverse=True)
        close = page.get_by_role("button", name="Close")  # MLflow 3.17's assistant panel covers the metrics
        if close.count():
            close.first.click()
        page.screenshot(path=str(out / "runs-table.png"))
        page.goto(Path("reports/demo/report.html").resolve().as_uri())
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        page.locator("h2", has_text="Headline").evaluate("h => h.scrollIntoView()")
        page.screenshot(path=str(out / "report-headline.png"))
        context.close()


def test_the_printed_link_opens_the_runs_table_best_first(browser, small_sweep, tmp_path):
    """harness-report's link opens the runs table on the report's shared
    view: the report run left out, best median macro-F1 first, the headline
    metrics in view without the reviewer adding a column."""
    db = tmp_path / "mlflow.db"  # a copy: the report run it logs stays out of the shared sweep
    shutil.copyfile(small_sweep["uri"].removeprefix("sqlite:///"), db)
    uri = f"sqlite:///{db}"
    args = ("--experiment", small_sweep["experiment"], "--tracking-uri", uri, "--out", str(tmp_path / "report"))
    done = run_harness(*args, "--bootstrap", "100", module="harness.report", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    link = re.search(r"best first \(with `mlflow ui` running\): (\S+)", done.stdout).group(1)
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(small_sweep["experiment"])
    logged = {
        r.info.run_name: r.data.metrics.get(METRIC)
        for r in mlflow.search_runs([found.experiment_id], output_format="list")
    }
    assert "report" in logged  # the report run is in the store, and must not be in the view
    with mlflow_server("--backend-store-uri", uri) as server:
        context = browser.new_context(viewport={"width": 1366, "height": 900})
        page = context.new_page()
        page.goto(link.replace("http://127.0.0.1:5000", server))
        cells = page.locator(f'[role=gridcell][col-id="metrics.`{METRIC}`"]')
        cells.first.wait_for()
        names = [
            c.inner_text().splitlines()[-1]
            for c in page.locator('[role=gridcell][col-id="attributes.`Run Name`"]').all()
        ]
        values = [float(c.inner_text()) for c in cells.all()]
        context.close()
    assert sorted(names) == sorted(small_sweep["names"])
    assert values == sorted(values, reverse=True) == [pytest.approx(logged[n]) for n in names]


def test_documents_side_by_side_filter_sort_and_fit(browser, small_sweep, tmp_path):
    """The report's documents section, against the runs' own predictions.jsonl:
    the disagreement filter and one run's errors keep the documents they
    should, sorting by runs wrong puts the most-missed first, a click opens a
    document's fields, and nothing widens the page past 1366 pixels."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    _report(page, small_sweep, tmp_path)
    _, runs = _experiment(small_sweep)
    rows = {
        n: {
            p["id"]: p
            for p in map(
                json.loads, mlflow.artifacts.load_text(f"runs:/{runs[n].info.run_id}/predictions.jsonl").splitlines()
            )
        }
        for n in small_sweep["names"]
    }
    ids = sorted(rows[small_sweep["names"][0]])
    keys = list(rows[small_sweep["names"][0]][ids[0]]["gold"])

    def errs(n, d):
        p = rows[n][d]
        return any(p["pred"][k] is None or p["pred"][k] != p["gold"][k] for k in keys)

    count = page.locator("#docs-count")
    assert count.inner_text() == f"{len(ids)} of {len(ids)} documents"
    differ = [d for d in ids if any(len({rows[n][d]["pred"][k] for n in rows}) > 1 for k in keys)]
    page.locator("#docs-disagree").check()
    assert count.inner_text() == f"{len(differ)} of {len(ids)} documents"
    page.locator("#docs-disagree").uncheck()
    name = small_sweep["names"][-1]
    page.locator("#docs-run").select_option(label=name)
    assert count.inner_text() == f"{sum(errs(name, d) for d in ids)} of {len(ids)} documents"
    page.locator("#docs-run").select_option(value="")
    page.locator("#docs th.sort[data-key=wrong]").click()  # the first click sorts the most-missed first
    first = page.locator("#docs tbody tr.doc").first
    assert int(first.locator("td").last.inner_text()) == max(sum(errs(n, d) for n in rows) for d in ids)
    first.click()
    assert page.locator("#docs td.detail").first.is_visible()
    assert page.locator("#docs td.detail").first.locator("tr").count() == len(keys) + 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 1366
    context.close()


def test_from_the_report_to_a_run_and_a_features_support(browser, small_sweep, server, tmp_path):
    """From report.html a reviewer reaches each run's MLflow page (its name
    links there) and reads each feature's gold positives and its interval in
    the per-feature table, as the run logged them and per_feature.csv holds them."""
    import pandas as pd

    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    _report(page, small_sweep, tmp_path, "--ui", server)
    _, runs = _experiment(small_sweep)
    name = small_sweep["names"][-1]
    run = runs[name]
    rows = pd.read_csv(tmp_path / "per_feature.csv")
    rows = rows[(rows["label"] == name) & (rows["metric"] == "macro_f1")].set_index("feature")
    table = page.locator("h2", has_text="Macro-F1 per feature").locator("xpath=following::table[1]")
    headers = table.locator("thead th").all_inner_texts()
    row = next(
        r for r in table.locator("tbody tr").all() if r.locator("td").first.inner_text().replace("\n", "") == name
    )
    cells = row.locator("td").all_inner_texts()
    assert len(headers) == len(cells) == 1 + 13  # the run, then each feature
    for header, cell in zip(headers[1:], cells[1:]):
        key, support = header.split("\n")
        n_pos = int(run.data.metrics[f"feature/{key}/n_pos"])
        assert support.startswith(f"n+ {n_pos}") and support.endswith("too few") == (n_pos < 5), (key, support)
        want = rows.loc[key]
        assert cell.split("\n") == [f"{want.value:.2f}", f"[{want.lo:.2f}, {want.hi:.2f}]"], (key, cell)
    with page.expect_navigation():
        page.locator("h2", has_text="Headline").locator("xpath=following::table[1]").get_by_role(
            "link", name=name
        ).click()
    assert run.info.run_id in page.url
    page.get_by_text(run.info.run_id).first.wait_for()  # the run's own page: its id in its details
    page.get_by_text("median/macro_f1").first.wait_for()
    context.close()
