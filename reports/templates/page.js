// The report's interactive parts: heatmaps, filters, cell detail, upgrade advisor.
// Every text that comes from a model or an exception goes in through textContent, never as markup.
"use strict";

const D = JSON.parse(document.getElementById("matrix-data").textContent);
const S = D.strings;
const NS = D.stacks.length, NK = D.cases.length;
// The protocol's tables (runner/protocol.py), embedded with the data.
const LETTERS = D.marks;
// Worst first: a silent wrong answer is worse than any error. A case the producer could not save
// says nothing about the consumer, so it only shows when no selected case was loaded at all.
const SEVERITY = D.severity;
const FORMAT_NAMES = D.format_labels;

// The seed document's cases first: the extra ones include cases built to fail everywhere (a missing
// module, a module passed for a class), which would paint every square with their error.
const SEED = D.cases.map((c, k) => k).filter(k => D.cases[k].tags.includes("seed"));
const TAGS = [...new Set(D.cases.flatMap(c => c.tags))];  // the filter's quick picks, as the cases name them

const state = {
  cases: new Set(SEED.length ? SEED : D.cases.map((_, k) => k)),
  formats: new Set(D.formats.map((_, f) => f)),
  families: new Set(D.families),
  backends: new Set(D.keras_backends),
  pythons: new Set(D.pythons),
  highlight: -1,
  selected: null,
};

// --- reading cells --------------------------------------------------------------------------

function position(f, k, p, c) { return ((f * NK + k) * NS + p) * NS + c; }

function cellAt(f, k, p, c) {
  const i = position(f, k, p, c);
  const attempts = [];
  const pairs = D.attempts[i];
  for (let n = 0; n < pairs.length; n += 2) {
    const [mode, call, outcome, error, unsafe, probe, diff, fidelity, resume] = D.shapes[pairs[n]];
    attempts.push({mode: S[mode], call: text(call), outcome: S[outcome], error: errorAt(error),
                   unsafe: !!unsafe, probe: !!probe, diff: diff, fidelity: text(fidelity), resume: text(resume),
                   ms: pairs[n + 1]});
  }
  return {
    verdict: D.verdicts[parseInt(D.verdict[i], 36)], remedy: text(D.remedy[i]), fidelity: text(D.fidelity[i]),
    diff: D.diff[i],
    signature: D.signature[i] >= 0 ? D.signatures[D.signature[i]] : null, signatureIndex: D.signature[i],
    needed: D.needed[i], error: errorAt(D.error[i]), attempts: attempts,
    container: D.containers[(f * NK + k) * NS + p],
  };
}

function text(index) { return index >= 0 ? S[index] : null; }

function errorAt(index) {
  if (index < 0) return null;
  const [type, message, tail] = S[index].split("\t");
  return {type: type, message: message, tail: tail || null};
}

function verdictOf(f, k, p, c) { return D.verdicts[parseInt(D.verdict[position(f, k, p, c)], 36)]; }

function fidelityOf(f, k, p, c) { return text(D.fidelity[position(f, k, p, c)]); }

function worst(counts) { return SEVERITY.find(v => counts[v] > 0) || "missing"; }

function aggregate(f, p, c) {
  const counts = {};
  let highlighted = false;
  for (const k of state.cases) {
    const v = verdictOf(f, k, p, c);
    counts[v] = (counts[v] || 0) + 1;
    if (state.highlight >= 0 && D.signature[position(f, k, p, c)] === state.highlight) highlighted = true;
  }
  return {counts: counts, worst: worst(counts), highlighted: highlighted};
}

function describeCounts(counts) {
  return SEVERITY.filter(v => counts[v]).map(v => v + " " + counts[v]).join(" · ");
}

// --- building DOM ---------------------------------------------------------------------------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...nodes(children));
  return node;
}

// Children as nodes: arrays flattened, strings as text, null / false dropped.
function nodes(children) {
  return children.flat(Infinity).filter(child => child !== null && child !== undefined && child !== false)
    .map(child => child instanceof Node ? child : document.createTextNode(String(child)));
}

function fill(node, ...children) { node.replaceChildren(...nodes(children)); }

// Catalog prose marks code with `backticks`; split on them, never parse it as HTML.
function prose(value) {
  return (value || "").split(/`+/).map((part, n) => n % 2 ? el("code", {}, part) : part);
}

function badge(verdict, label) {
  return el("span", {class: "badge v-" + verdict, title: verdict}, label || LETTERS[verdict]);
}

function visibleStacks() {
  return D.stacks.map((s, p) => p).filter(p => state.families.has(D.stacks[p].family) &&
    state.backends.has(D.stacks[p].keras_backend) && state.pythons.has(D.stacks[p].python_minor));
}

// What a stack is, beyond its id: family, the backend that runs its models, its Python.
function stackTitle(stack) {
  return `${D.family_titles[stack.family] || stack.family} · Keras ${stack.keras} on ${stack.keras_backend} ` +
    `· TensorFlow ${stack.tensorflow} · Python ${stack.python}`;
}

// --- filters --------------------------------------------------------------------------------

function renderFilters() {
  const box = document.getElementById("filters");
  const caseBoxes = D.cases.map((c, k) => checkbox("case", k, c.id, state.cases, c.summary));
  const pick = tag => () => {
    state.cases = new Set(D.cases.map((c, k) => k).filter(k => tag === "all" || D.cases[k].tags.includes(tag)));
    renderFilters(); renderGrids();
  };
  fill(box,
    el("span", {class: "label"}, "Cases"),
    el("div", {}, el("button", {class: "quick", type: "button", onclick: pick("all")}, "all"),
       TAGS.map(tag => el("button", {class: "quick", type: "button", onclick: pick(tag)}, tag)), caseBoxes),
    el("span", {class: "label"}, "Formats"),
    el("div", {}, D.formats.map((name, f) => checkbox("format", f, FORMAT_NAMES[name] || name, state.formats))),
    el("span", {class: "label"}, "Stacks"),
    el("div", {}, D.families.map(name => checkbox("family", name, name, state.families, D.family_titles[name]))),
    el("span", {class: "label"}, "Backends"),
    el("div", {}, D.keras_backends.map(name => checkbox("backend", name, name, state.backends))),
    el("span", {class: "label"}, "Pythons"),
    el("div", {}, D.pythons.map(version => checkbox("python", version, version, state.pythons))),
  );
}

function checkbox(kind, value, label, set, title) {
  const input = el("input", {type: "checkbox", "data-filter": kind, value: value, checked: set.has(value),
                             onchange: () => { input.checked ? set.add(value) : set.delete(value); renderGrids(); }});
  return el("label", {title: title}, input, " ", label);
}

// --- heatmaps -------------------------------------------------------------------------------

function renderGrids() {
  const stacks = visibleStacks();
  const grids = document.getElementById("grids");
  const note = document.getElementById("selection");
  note.textContent = `${state.cases.size} of ${NK} cases, ${state.formats.size} of ${D.formats.length} formats, ` +
    `${stacks.length} of ${NS} stacks. Each square is the worst verdict over the selected cases; ` +
    "the small number, when shown, is how many cases have it. Cases the producer could not save show only " +
    "when no selected case was loaded.";
  renderBanner();
  const tables = [];
  D.formats.forEach((name, f) => {
    if (!state.formats.has(f)) return;
    tables.push(el("h3", {}, "Format ", el("code", {}, FORMAT_NAMES[name] || name)));
    tables.push(el("div", {class: "grid-wrap"}, heatmap(f, stacks)));
  });
  if (!tables.length || !state.cases.size || !stacks.length) {
    tables.push(el("p", {class: "empty"}, "Nothing selected: tick at least one case, format, stack family, backend and Python."));
  }
  fill(grids, tables);
}

function heatmap(f, stacks) {
  const head = el("tr", {}, el("th", {class: "corner"}, "saved with ↓ · loaded with →"),
                  stacks.map(c => el("th", {class: "col fam-" + D.stacks[c].family, title: stackTitle(D.stacks[c])},
                                     el("span", {}, D.stacks[c].id))));
  const rows = stacks.map(p => el("tr", {},
    el("th", {class: "row fam-" + D.stacks[p].family, title: stackTitle(D.stacks[p])}, D.stacks[p].id),
    stacks.map(c => heatCell(f, p, c))));
  return el("table", {class: "heatmap", "data-format": D.formats[f]}, el("thead", {}, head), el("tbody", {}, rows));
}

function heatCell(f, p, c) {
  if (!state.cases.size) return el("td", {});
  const {counts, worst: v, highlighted} = aggregate(f, p, c);
  const n = counts[v], total = state.cases.size;
  const classes = ["v", "v-" + v];
  if (state.highlight >= 0) classes.push(highlighted ? "hl" : "dim");
  const sel = state.selected;
  if (sel && sel.f === f && sel.p === p && sel.c === c) classes.push("selected");
  return el("td", {class: classes.join(" "), tabindex: "0", "data-f": f, "data-p": p, "data-c": c,
                   "data-verdict": v, title: `${D.stacks[p].id} → ${D.stacks[c].id}, ${D.formats[f]}: ${describeCounts(counts)}`},
            LETTERS[v], n < total ? el("sub", {}, n) : null);
}

function renderBanner() {
  const banner = document.getElementById("banner");
  if (state.highlight < 0) { banner.hidden = true; return; }
  const sig = D.signatures[state.highlight];
  banner.hidden = false;
  fill(banner, "Outlined: squares where a selected case fails with ",
    el("strong", {}, sig.title || sig.signature), ` (${sig.cells} cells in the whole run). `,
    el("button", {type: "button", onclick: () => { state.highlight = -1; renderGrids(); }}, "clear"));
}

// --- cell detail ----------------------------------------------------------------------------

function showDetail(f, p, c) {
  state.selected = {f: f, p: p, c: c};
  const panel = document.getElementById("detail");
  const producer = D.stacks[p], consumer = D.stacks[c];
  const cases = D.cases.map((kase, k) => caseDetail(f, k, p, c));
  fill(panel,
    el("button", {class: "close", type: "button", onclick: hideDetail}, "close ✕"),
    el("h3", {}, "Saved with ", el("code", {}, producer.id), ", loaded with ", el("code", {}, consumer.id)),
    el("p", {}, "Format ", el("code", {}, FORMAT_NAMES[D.formats[f]] || D.formats[f]),
       `; ${describeCounts(aggregate(f, p, c).counts)} over the selected cases.`),
    versionsTable(producer, consumer),
    cases);
  panel.hidden = false;
  panel.scrollTop = 0;
  document.querySelectorAll("td.v.selected").forEach(td => td.classList.remove("selected"));
  const td = document.querySelector(`table.heatmap td[data-f="${f}"][data-p="${p}"][data-c="${c}"]`);
  if (td) td.classList.add("selected");
}

function hideDetail() {
  state.selected = null;
  document.getElementById("detail").hidden = true;
  document.querySelectorAll("td.v.selected").forEach(td => td.classList.remove("selected"));
}

function versionsTable(producer, consumer) {
  return el("table", {class: "versions"},
    el("tr", {}, el("th", {}, ""), el("th", {}, "saved with"), el("th", {}, "loaded with")),
    D.version_fields.map(name => el("tr", {}, el("th", {}, name), el("td", {}, producer[name] || "?"),
                                   el("td", {}, consumer[name] || "?"))));
}

function caseDetail(f, k, p, c) {
  const cell = cellAt(f, k, p, c), kase = D.cases[k];
  const facts = [];
  if (cell.remedy) facts.push(el("span", {}, "remedy: ", el("code", {}, cell.remedy)));
  if (cell.fidelity) facts.push(`gives back: ${FIDELITY[cell.fidelity].meaning}`);
  if (cell.diff !== null) facts.push(`max abs diff ${cell.diff}`);
  if (cell.needed >= 0) facts.push(`custom_objects needed: ${cell.needed ? "yes" : "no"}`);
  if (cell.container) facts.push(`written as ${cell.container}`);
  return el("div", {class: "case-detail" + (state.cases.has(k) ? "" : " unselected"), "data-case": kase.id},
    el("h4", {}, badge(cell.verdict), " ", el("code", {}, kase.id), " ", cell.verdict,
       el("span", {class: "small"}, " ", kase.tags.join(", "))),
    facts.length ? el("p", {class: "small"}, facts.map((fact, n) => [n ? " · " : "", fact])) : null,
    cell.signature ? signatureBox(cell.signature) : null,
    cell.error ? errorBlock(cell.error) : null,
    cell.attempts.length ? attemptsTable(cell.attempts) : null);
}

function signatureBox(sig) {
  return el("div", {class: "sig"},
    el("strong", {}, sig.title || "Unknown signature"), sig.id ? el("span", {class: "small"}, ` (${sig.id})`) : null,
    sig.explanation ? el("p", {}, prose(sig.explanation)) : null,
    sig.remedy ? el("p", {}, el("strong", {}, "What to do: "), prose(sig.remedy)) : null);
}

function errorBlock(error) {
  return el("div", {class: "cell-error"},
    el("p", {}, el("strong", {}, error.type), ": ", error.message),
    error.tail ? el("details", {open: true}, el("summary", {}, "log tail"), el("pre", {}, error.tail)) : null);
}

function attemptsTable(attempts) {
  return el("table", {class: "attempts"},
    el("tr", {}, ["mode", "outcome", "exception", "s"].map(h => el("th", {}, h))),
    attempts.map(a => el("tr", {},
      el("td", {}, el("code", {}, a.mode), a.unsafe ? " (unsafe)" : "", a.call ? el("div", {class: "small"}, a.call) : null),
      el("td", {}, a.outcome, a.diff !== null ? el("div", {class: "small"}, `diff ${a.diff}`) : null,
         a.fidelity ? el("div", {class: "small"}, `gives back: ${FIDELITY[a.fidelity].label}`) : null,
         a.resume ? el("div", {class: "small"}, a.resume) : null),
      el("td", {class: "msg"}, a.error ? [el("strong", {}, a.error.type), ": ", el("span", {class: "small"}, a.error.message)] : ""),
      el("td", {}, (a.ms / 1000).toFixed(3)))));
}

// --- upgrade advisor ------------------------------------------------------------------------

function renderAdvisor() {
  const from = document.getElementById("advisor-from"), to = document.getElementById("advisor-to");
  // grouped by family; each says the Keras, its backend, TensorFlow and Python
  const options = () => D.families.map(family => el("optgroup", {label: D.family_titles[family] || family},
    D.stacks.map((s, p) => s.family === family &&
      el("option", {value: p}, `${s.id} (Keras ${s.keras} on ${s.keras_backend}, TF ${s.tensorflow}, Python ${s.python})`))));
  fill(from, options());
  fill(to, options());
  const lastKeras2 = D.stacks.map(s => s.family).lastIndexOf("keras2");
  from.value = String(lastKeras2 >= 0 ? lastKeras2 : 0);
  to.value = String(NS - 1);
  from.addEventListener("change", answer);
  to.addEventListener("change", answer);
  answer();
}

const WORKS = {ok: 2, remedy: 1};
// What a load gives back, the protocol's scale, the one that keeps the most first.
const FIDELITY = Object.fromEntries(D.fidelities.map((fidelity, n) => [fidelity.name, {...fidelity, rank: n}]));

// A path that works, for the advisor: what it gives back first, then as is before a remedy.
function worth(f, k, p, c) {
  const works = WORKS[verdictOf(f, k, p, c)] || 0, fidelity = FIDELITY[fidelityOf(f, k, p, c)];
  return works && (D.fidelities.length - (fidelity ? fidelity.rank : D.fidelities.length)) * 3 + works;
}
// Between formats that work equally well, the one Keras documents today comes first.
const PREFERENCE = D.format_preference;

function byPreference(formats, score) {
  const rank = f => { const n = PREFERENCE.indexOf(D.formats[f]); return n < 0 ? PREFERENCE.length : n; };
  return formats.slice().sort((a, b) => score(b) - score(a) || rank(a) - rank(b));
}

function answer() {
  const p = +document.getElementById("advisor-from").value, c = +document.getElementById("advisor-to").value;
  const out = document.getElementById("advisor-answer");
  const scores = D.formats.map((_, f) => D.cases.reduce((n, kase, k) => n + worth(f, k, p, c), 0));
  const works = D.formats.map((_, f) => D.cases.filter((kase, k) => WORKS[verdictOf(f, k, p, c)]).length);
  const asIs = D.formats.map((_, f) => D.cases.filter((kase, k) => verdictOf(f, k, p, c) === "ok").length);
  const best = byPreference(D.formats.map((_, f) => f), f => scores[f])[0];
  // a case measured on fewer stacks is not-measured in every format of this pair, or in none
  const unmeasured = D.cases.filter((kase, k) => verdictOf(0, k, p, c) === "not-measured").length;
  const headline = works[best] ?
    el("p", {class: "answer", id: "advisor-headline"}, "Save in ", el("strong", {}, FORMAT_NAMES[D.formats[best]]),
       `: ${works[best]} of ${NK - unmeasured} cases load in ${D.stacks[c].id} ` +
       `(${asIs[best]} as is, ${works[best] - asIs[best]} with a remedy)` +
       (unmeasured ? `; ${unmeasured} not measured between these two stacks` : "") +
       `; it keeps the most of what was saved: ${keeps(best, p, c)}.`) :
    el("p", {class: "answer", id: "advisor-headline"}, "No format carries any case from ",
       el("code", {}, D.stacks[p].id), " to ", el("code", {}, D.stacks[c].id), ".");
  fill(out, headline,
    el("table", {id: "advisor-table"},
      el("tr", {}, el("th", {}, "case"), D.formats.map(name => el("th", {}, FORMAT_NAMES[name] || name)),
         el("th", {}, "save in")),
      D.cases.map((kase, k) => el("tr", {"data-case": kase.id}, el("th", {}, el("code", {}, kase.id)),
        D.formats.map((name, f) => advice(cellAt(f, k, p, c))),
        el("td", {}, saveIn(k, p, c))))));
}

// The advisor's words for a verdict; one it has none for says the verdict's meaning (the protocol's table).
function advice(cell) {
  const phrase = {
    ok: () => ["works", givesBack(cell)],
    remedy: () => ["works with ", el("code", {}, cell.remedy), givesBack(cell)],
    mismatch: () => "loads but predicts differently",
    "resume-mismatch": () => "loads, but training does not resume as saved",
    "predict-error": () => ["loads, but predicting fails: ", failure(cell)],
    error: () => ["fails: ", failure(cell)],
    crashed: () => "the loader crashed", timeout: () => "the load hung",
    "corrupt-artifact": () => "the saved file was damaged; not measured",
    blocked: () => "cannot be saved in this format", unsupported: () => "this version cannot write it",
    unavailable: () => "this version cannot build it",
    missing: () => "not measured",
    "not-measured": () => "not measured between these stacks (a slow case, run on fewer stacks)",
  }[cell.verdict];
  const words = phrase ? phrase() : D.meanings[cell.verdict];
  return el("td", {class: "v-" + cell.verdict, "data-verdict": cell.verdict}, badge(cell.verdict), " ", words);
}

function givesBack(cell) {
  return cell.fidelity ? el("span", {class: "small"}, ` (${FIDELITY[cell.fidelity].label})`) : null;
}

// What the format's working paths give back, counted by the scale: "3 the full model, 2 compile it again".
function keeps(f, p, c) {
  const counts = {};
  D.cases.forEach((kase, k) => {
    const fidelity = WORKS[verdictOf(f, k, p, c)] && fidelityOf(f, k, p, c);
    if (fidelity) counts[fidelity] = (counts[fidelity] || 0) + 1;
  });
  return D.fidelities.filter(x => counts[x.name]).map(x => `${counts[x.name]} ${x.label}`).join(", ") || "nothing";
}

function failure(cell) {
  return cell.signature ? cell.signature.title || cell.signature.signature : cell.error ? cell.error.type : cell.verdict;
}

function saveIn(k, p, c) {
  const good = byPreference(D.formats.map((_, f) => f).filter(f => WORKS[verdictOf(f, k, p, c)]),
                            f => worth(f, k, p, c));
  if (!good.length) return verdictOf(0, k, p, c) === "not-measured" ? "not measured" : "nothing works";
  const best = cellAt(good[0], k, p, c);
  return [el("code", {}, FORMAT_NAMES[D.formats[good[0]]]),
          best.verdict === "ok" ? " as is" : [" with ", el("code", {}, best.remedy)], givesBack(best)];
}

// --- wiring ---------------------------------------------------------------------------------

document.getElementById("grids").addEventListener("click", event => {
  const td = event.target.closest("td.v");
  if (td) showDetail(+td.dataset.f, +td.dataset.p, +td.dataset.c);
});
document.getElementById("grids").addEventListener("keydown", event => {
  const td = event.target.closest("td.v");
  if (td && (event.key === "Enter" || event.key === " ")) { event.preventDefault(); td.click(); }
});
document.addEventListener("keydown", event => { if (event.key === "Escape") hideDetail(); });
document.querySelectorAll("button[data-signature]").forEach(button => button.addEventListener("click", () => {
  state.highlight = +button.dataset.signature;
  renderGrids();
  document.getElementById("overview").scrollIntoView();
}));

renderFilters();
renderGrids();
renderAdvisor();
document.body.dataset.ready = "yes";
