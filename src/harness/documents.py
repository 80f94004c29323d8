"""The report's documents side by side: one row per evaluated document, one
column per run - the fields it got wrong, the ones it left missing - and,
on a click, each field's gold label and every run's prediction and P(true).
Filters in the page (inline JavaScript, no network): documents where the
runs disagree, one feature, one run's errors; sorting by id or by how many
runs err. A row shows the text the runs logged, so `tracking.log_text`
decides whether there is any."""

from __future__ import annotations

import html
import json
from typing import Any, Sequence

SNIPPET = 90  # characters of a document's text in its row (all of it on a click)


def table_data(runs: Sequence[Any]) -> dict[str, Any]:
    """The page's data: runs (labels), features, and per document its gold
    labels, its text (where logged) and each run's predictions (None where a
    value is missing) and P(true), or None where the run did not score it."""
    keys = list(runs[0].keys) if runs else []
    order: dict[str, dict[str, Any]] = {}
    for r in runs:
        for i, doc_id in enumerate(r.doc_ids):
            order.setdefault(doc_id, {"id": doc_id, "gold": r.gold[i].tolist(), "text": r.texts.get(doc_id)})
    docs = list(order.values())
    for d in docs:
        d["runs"] = []
        for r in runs:
            i = r.row_of.get(d["id"])
            if i is None or list(r.keys) != keys:
                d["runs"].append(None)
                continue
            pred = [None if m else bool(p) for p, m in zip(r.pred[i].tolist(), r.missing[i].tolist())]
            d["runs"].append({"pred": pred, "prob": r.probs[i]})
    return {"runs": [r.label for r in runs], "features": keys, "docs": docs}


def section(runs: Sequence[Any]) -> str:
    """The HTML section: controls, an empty table, its data and its script."""
    data = table_data(runs)
    options = "".join(f'<option value="{j}">{k}</option>' for j, k in enumerate(data["features"]))
    run_options = "".join(f'<option value="{i}">{_escape(label)}</option>' for i, label in enumerate(data["runs"]))
    heads = "".join(f'<th class="run">{breakable(label)}</th>' for label in data["runs"])
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/")  # no "</script>" inside the data
    return f"""<h2 id="documents">Documents side by side</h2>
<p>One row per evaluated document, one column per run: the fields it got wrong and how many it left
missing. Click a row for each field's gold label and every run's prediction and P(true).</p>
<div class="controls">
<label><input type="checkbox" id="docs-disagree"> only documents where the runs disagree</label>
<label>feature <select id="docs-feature"><option value="">all</option>{options}</select></label>
<label>errors of <select id="docs-run"><option value="">any run</option>{run_options}</select></label>
<span id="docs-count"></span></div>
<div class="scroll"><table class="t" id="docs"><thead><tr><th class="sort" data-key="id">document</th>
<th>text</th>{heads}<th class="sort" data-key="wrong">runs wrong</th></tr></thead><tbody></tbody></table></div>
<script type="application/json" id="docs-data">{payload}</script>
<script>{SCRIPT.replace("__SNIPPET__", str(SNIPPET))}</script>"""


def _escape(text: str) -> str:
    return html.escape(str(text))


def breakable(label: str) -> str:
    """A run label, escaped, that may wrap after each `|` (not inside a model's name)."""
    return _escape(label).replace("|", "|<wbr>")


# Plain DOM building with textContent only: no document text becomes markup.
SCRIPT = """(() => {
const D = JSON.parse(document.getElementById('docs-data').textContent);
const body = document.querySelector('#docs tbody');
const feature = document.getElementById('docs-feature'), only = document.getElementById('docs-run');
const disagree = document.getElementById('docs-disagree');
let sortKey = 'id', ascending = true;
const fields = () => feature.value === '' ? D.features.map((_, j) => j) : [Number(feature.value)];
const wrong = (d, r, js) =>
  d.runs[r] ? js.filter(j => d.runs[r].pred[j] !== null && d.runs[r].pred[j] !== d.gold[j]) : [];
const missing = (d, r, js) => d.runs[r] ? js.filter(j => d.runs[r].pred[j] === null) : [];
const erring = (d, js) => D.runs.filter((_, r) => wrong(d, r, js).length + missing(d, r, js).length > 0).length;
const disagrees = (d, js) => js.some(j => new Set(d.runs.filter(a => a).map(a => a.pred[j])).size > 1);
function cell(tag, text, cls) {
  const c = document.createElement(tag);
  c.textContent = text;
  if (cls) c.className = cls;
  return c;
}
function detail(d) {
  const row = document.createElement('tr'), td = cell('td', '', 'detail');
  row.hidden = true;
  td.colSpan = D.runs.length + 3;
  if (d.text) td.append(Object.assign(cell('p', d.text, 'fulltext'), {dir: 'auto'}));
  const t = document.createElement('table'), head = document.createElement('tr');
  ['field', 'gold', ...D.runs].forEach(h => head.append(cell('th', h)));
  t.append(head);
  D.features.forEach((k, j) => {
    const r = document.createElement('tr');
    r.append(cell('td', k), cell('td', String(d.gold[j])));
    d.runs.forEach(a => {
      if (!a) return r.append(cell('td', ''));
      const p = a.pred[j], text = p === null ? 'missing' : String(p);
      const prob = a.prob && a.prob[D.features[j]] !== undefined ? ` (${a.prob[D.features[j]].toFixed(3)})` : '';
      r.append(cell('td', text + prob, p === d.gold[j] ? 'right' : 'wrong'));
    });
    t.append(r);
  });
  td.append(t);
  row.append(td);
  return row;
}
function render() {
  const js = fields(), r0 = only.value;
  const rows = D.docs.filter(d => (!disagree.checked || disagrees(d, js)) &&
    (r0 === '' || wrong(d, Number(r0), js).length + missing(d, Number(r0), js).length > 0));
  const key = d => sortKey === 'id' ? d.id : erring(d, js);
  rows.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : a.id < b.id ? -1 : 1) * (ascending ? 1 : -1));
  body.replaceChildren(...rows.flatMap(d => {
    const row = document.createElement('tr');
    row.className = 'doc';
    const text = d.text ? (d.text.length > __SNIPPET__ ? d.text.slice(0, __SNIPPET__) + '…' : d.text) : '';
    row.append(cell('td', d.id), Object.assign(cell('td', text, 'text'), {dir: 'auto'}));  // Persian, Urdu: RTL
    d.runs.forEach((a, r) => {
      if (!a) return row.append(cell('td', 'not scored', 'none'));
      const w = wrong(d, r, js).map(j => D.features[j]), m = missing(d, r, js).length;
      const parts = [w.length ? 'wrong: ' + w.join(', ') : '', m ? `missing ${m}` : ''].filter(x => x);
      row.append(cell('td', parts.join('; ') || 'right', parts.length ? 'wrong' : 'right'));
    });
    row.append(cell('td', String(erring(d, js))));
    const more = detail(d);
    row.addEventListener('click', () => { more.hidden = !more.hidden; });
    return [row, more];
  }));
  document.getElementById('docs-count').textContent = `${rows.length} of ${D.docs.length} documents`;
}
document.querySelectorAll('#docs th.sort').forEach(th => th.addEventListener('click', () => {
  ascending = sortKey === th.dataset.key ? !ascending : th.dataset.key === 'id';
  sortKey = th.dataset.key;
  render();
}));
[feature, only, disagree].forEach(c => c.addEventListener('change', render));
render();
})();"""
