/* The matrix page's coverage panel: pick deployed mitigations, the matrix recolours.

   Data: window.ATLASKB_MATRIX, written at build time by atlaskb.site.matrix_data from the
   same graph and functions as `atlaskb coverage` (each mitigation's techniques, each
   technique's tactics and weight, the words of a cell, a Navigator layer to fill in).

   The one rule applied here is atlaskb.coverage's, step for step, so that the numbers are
   the CLI's (tests compare them on many selections):
     * a selected mitigation m with strength s (default 1) leaves a technique t it links
       to a residual of (1 - s); residuals multiply over the selected mitigations in ID
       order; t's level is 1 - residual, and t is covered when its level is above 0.
       Nothing is inherited between a technique and its sub-techniques.
     * per tactic, every technique (sub-techniques under their parent's tactics) counts
       once under each tactic it achieves; totals count every technique once.
     * recommendations: greedy weighted set cover. A technique's remaining risk is its
       weight x (1 - level); each round picks the unselected mitigation whose techniques'
       remaining risk sums highest (rounded to 9 places), ties to the one newly covering
       more techniques, then to ID order; its techniques' risk drops to 0; stop when the
       best gain is 0.
   Nothing from the data reaches the page as markup: text goes in through textContent.
   No network: the data file and this script come from the site's own folder. */
(function () {
  "use strict";
  var DATA = window.ATLASKB_MATRIX;
  var panel = document.getElementById("cov-panel");
  if (!DATA || !panel) return;

  // -- indexes (Maps: IDs come from untrusted vaults, and may be "__proto__") ------------
  var mitigations = DATA.mitigations;
  var techniques = DATA.techniques;
  var mitIndex = new Map();
  var mitByUpper = new Map();
  mitigations.forEach(function (m, i) { mitIndex.set(m.id, i); mitByUpper.set(m.id.toUpperCase(), m.id); });
  var techById = new Map();
  techniques.forEach(function (t) { techById.set(t.id, t); });
  var linkedFrom = new Map();  // technique -> [mitigation IDs linking to it], ID order
  mitigations.forEach(function (m) {
    m.techniques.forEach(function (t) {
      if (!linkedFrom.has(t)) linkedFrom.set(t, []);
      linkedFrom.get(t).push(m.id);
    });
  });

  function round(x, places) { return Number(x.toFixed(places)); }  // Python's round(x, n)

  // -- the coverage rule ------------------------------------------------------------------
  /* `selection`: Map mitigation ID -> strength. Returns Map technique -> unrounded level,
     for techniques some selected mitigation links to. */
  function levels(selection) {
    var residual = new Map();
    orderedIds(selection).forEach(function (id) {
      var s = selection.get(id);
      mitigations[mitIndex.get(id)].techniques.forEach(function (t) {
        residual.set(t, (residual.has(t) ? residual.get(t) : 1.0) * (1.0 - s));
      });
    });
    var out = new Map();
    residual.forEach(function (r, t) { out.set(t, 1.0 - r); });
    return out;
  }

  function orderedIds(selection) {
    return Array.from(selection.keys()).sort(function (a, b) { return mitIndex.get(a) - mitIndex.get(b); });
  }

  /* What `atlaskb coverage --format json` reports: have, covered, level (4 places),
     by_tactic [{id, covered, total}], totals. */
  function compute(selection) {
    var lv = levels(selection);
    var covered = [], level = new Map(), coveredSet = new Set();
    techniques.forEach(function (t) {
      var l = lv.get(t.id);
      if (l !== undefined && l > 0.0) { covered.push(t.id); coveredSet.add(t.id); level.set(t.id, round(l, 4)); }
    });
    var byTactic = DATA.tactics.map(function (x) { return {id: x.id, covered: 0, total: 0}; });
    var tacticAt = new Map();
    byTactic.forEach(function (x, i) { tacticAt.set(x.id, i); });
    techniques.forEach(function (t) {
      t.tactics.forEach(function (x) {
        var row = byTactic[tacticAt.get(x)];
        row.total += 1;
        if (coveredSet.has(t.id)) row.covered += 1;
      });
    });
    var n = techniques.length;
    return {have: orderedIds(selection), covered: covered, coveredSet: coveredSet, level: level,
            byTactic: byTactic, totals: {techniques: n, covered: covered.length,
                                         ratio: n ? round(covered.length / n, 4) : 0.0}};
  }

  /* What `atlaskb recommend` proposes (all of it when `top` is Infinity). */
  function recommend(selection, top) {
    var lv = levels(selection);
    var residual = new Map(), uncovered = new Set();
    techniques.forEach(function (t) {
      var l = lv.has(t.id) ? lv.get(t.id) : 0.0;
      residual.set(t.id, t.weight * (1.0 - l));
      if (l <= 0.0) uncovered.add(t.id);
    });
    var candidates = mitigations.filter(function (m) { return !selection.has(m.id); });
    var picks = [];
    while (picks.length < top && candidates.length) {
      var best = null;
      candidates.forEach(function (m, i) {
        var gain = 0;
        m.techniques.forEach(function (t) { gain += residual.get(t); });
        var fresh = m.techniques.filter(function (t) { return uncovered.has(t); });
        var key = round(gain, 9);
        if (best === null || key > best.key || (key === best.key && fresh.length > best.fresh.length)) {
          best = {key: key, at: i, m: m, gain: gain, fresh: fresh};
        }
      });
      if (best === null || best.gain <= 0) break;
      picks.push({id: best.m.id, gain: round(best.gain, 4), newly_covered: best.fresh, techniques: best.m.techniques});
      best.m.techniques.forEach(function (t) { residual.set(t, 0.0); uncovered.delete(t); });
      candidates.splice(best.at, 1);
    }
    return picks;
  }

  /* The mitigations that would cover `technique`, in the order `recommend` picks them,
     then those it would not pick (they add nothing once the ones above are in place). */
  function coverOptions(selection, technique) {
    var picks = recommend(selection, Infinity).map(function (p, i) { p.rank = i + 1; return p; })
      .filter(function (p) { return p.techniques.indexOf(technique) >= 0; });
    var picked = new Set(picks.map(function (p) { return p.id; }));
    var rest = (linkedFrom.get(technique) || []).filter(function (id) { return !selection.has(id) && !picked.has(id); });
    return {picks: picks, rest: rest};
  }

  // -- cells ------------------------------------------------------------------------------
  function coverageCell(level) {  // atlaskb.site.coverage.coverage_cell
    var cls, pct;
    if (level === undefined) { cls = "gap"; pct = "0"; } else {
      cls = level >= 1.0 ? "covered" : "partial";
      pct = String(Math.floor(level * 100 + 0.5));
    }
    var text = DATA.coverage_cells[cls];
    return {cls: cls, short: text.short.replace("{pct}", pct), long: text.long.replace("{pct}", pct)};
  }

  function evidenceStatus(selection, technique) {
    var order = DATA.evidence.best_first, best = -1;
    selection.forEach(function (_s, id) {
      var m = mitigations[mitIndex.get(id)], at = m.techniques.indexOf(technique);
      if (at < 0) return;
      var rank = order.indexOf(m.status[at]);
      if (best < 0 || rank < best) best = rank;
    });
    return best < 0 ? null : DATA.evidence.bins[best];
  }

  var cells = Array.from(document.querySelectorAll(".matrix [data-id], .unplaced[data-id]"));
  var cellValue = new Map();  // cell element -> its value button
  cells.forEach(function (cell) {
    var main = cell.querySelector(".cell-main");
    var old = main && main.querySelector(".cell-value");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "cell-value";
    var shortText = document.createElement("span");
    var longText = document.createElement("span");
    longText.className = "visually-hidden";
    button.appendChild(shortText);
    button.appendChild(longText);
    button.addEventListener("click", function () { showInfo(cell.getAttribute("data-id"), button); });
    if (old) old.replaceWith(button); else if (main) main.appendChild(button);
    cellValue.set(cell, button);
  });

  function paint(cell, heat, short, long) {
    Array.from(cell.classList).forEach(function (c) { if (c.indexOf("heat-") === 0) cell.classList.remove(c); });
    cell.classList.add("heat-" + heat);
    var button = cellValue.get(cell);
    button.firstChild.textContent = short;
    button.lastChild.textContent = " (" + long + ")";
    button.title = long;
  }

  // -- state --------------------------------------------------------------------------------
  var state = {selection: new Map(), by: "claim", result: null};
  var list = document.getElementById("cov-list");
  var rows = new Map();
  Array.from(list.querySelectorAll("li[data-mitigation]")).forEach(function (li) {
    rows.set(li.getAttribute("data-mitigation"), li);
  });

  function apply() {
    var sel = state.selection;
    var result = sel.size ? compute(sel) : null;
    state.result = result;
    var evidence = result && state.by === "evidence" && DATA.evidence;
    cells.forEach(function (cell) {
      var t = techById.get(cell.getAttribute("data-id"));
      if (!t) return;
      if (!result) {
        cell.removeAttribute("data-coverage");
        cell.removeAttribute("data-evidence");
        paint(cell, t.cell.cls, t.cell.short, t.cell.long);
        return;
      }
      var c = coverageCell(result.level.get(t.id));
      cell.setAttribute("data-coverage", c.cls);
      var bin = evidence && c.cls !== "gap" ? evidenceStatus(sel, t.id) : null;
      if (bin) {
        cell.setAttribute("data-evidence", bin.status);
        paint(cell, bin.cls, bin.short, c.long + "; evidence: " + bin.label);
      } else {
        cell.removeAttribute("data-evidence");
        paint(cell, c.cls, c.short, c.long);
      }
    });
    Array.from(document.querySelectorAll(".col-cov[data-tactic]")).forEach(function (el) {
      var row = result && result.byTactic.filter(function (x) { return x.id === el.getAttribute("data-tactic"); })[0];
      if (row) {
        el.setAttribute("data-covered", row.covered);
        el.setAttribute("data-total", row.total);
        el.textContent = row.covered + " of " + row.total + " covered";
      } else {
        el.removeAttribute("data-covered");
        el.removeAttribute("data-total");
        el.textContent = "";
      }
    });
    Array.from(document.querySelectorAll(".subs-cov[data-parent]")).forEach(function (el) {
      var subs = techniques.filter(function (t) { return t.parent === el.getAttribute("data-parent"); });
      var n = result ? subs.filter(function (t) { return result.coveredSet.has(t.id); }).length : 0;
      el.textContent = n ? " · " + n + " covered" : "";
    });
    summarise(result);
    legend(result ? (evidence ? "evidence" : "coverage") : "counts");
    rows.forEach(function (li, id) {
      var on = sel.has(id);
      li.querySelector("input[type=checkbox]").checked = on;
      li.classList.toggle("is-selected", on);
      var strength = li.querySelector(".cov-strength");
      strength.hidden = !on;
      var input = strength.querySelector("input");
      if (on && document.activeElement !== input) input.value = String(sel.get(id));
    });
    picked(sel);
    var byRadios = panel.querySelectorAll("input[name=cov-by]");
    Array.from(byRadios).forEach(function (r) { r.checked = r.value === state.by; r.disabled = !result && r.value === "evidence"; });
    document.getElementById("cov-dl-profile").disabled = !sel.size;
    document.getElementById("cov-dl-layer").disabled = !sel.size;
    writeHash();
  }

  /* The picked mitigations as buttons that remove them (the list above may be filtered
     or scrolled away from them). */
  function picked(sel) {
    var ul = document.getElementById("cov-picked");
    var had = ul.contains(document.activeElement);
    ul.textContent = "";
    orderedIds(sel).forEach(function (id) {
      var li = el("li"), s = sel.get(id);
      var b = el("button", id + (s === 1 ? "" : " (" + s + ")") + " ×");
      b.type = "button";
      b.title = mitigations[mitIndex.get(id)].name;
      b.setAttribute("aria-label", "Remove " + id + " " + mitigations[mitIndex.get(id)].name);
      b.addEventListener("click", function () { state.selection.delete(id); apply(); });
      li.appendChild(b);
      ul.appendChild(li);
    });
    if (had) (ul.querySelector("button") || document.getElementById("cov-filter")).focus();
  }

  function pctText(ratio) {  // Python's f"{ratio * 100:.0f}%": halves go to the even neighbour
    var x = ratio * 100, f = Math.floor(x);
    var n = x - f === 0.5 ? (f % 2 === 0 ? f : f + 1) : Number(x.toFixed(0));
    return n + "%";
  }

  function summarise(result) {
    var out = document.getElementById("cov-summary");
    var lede = document.querySelector("[data-lede-colour]");
    if (!result) {
      out.textContent = "Pick the mitigations you have: the matrix then shows what they cover.";
      out.removeAttribute("data-covered");
      out.removeAttribute("data-total");
      if (lede) lede.textContent = "Colour shows how many mitigations address each technique; pick mitigations below to see what they cover.";
      return;
    }
    var t = result.totals, k = result.have.length;
    out.setAttribute("data-covered", t.covered);
    out.setAttribute("data-total", t.techniques);
    out.textContent = t.covered + " of " + t.techniques + " techniques covered (" + pctText(t.ratio) + ") by " +
      k + " mitigation" + (k === 1 ? "" : "s");
    if (lede) lede.textContent = "Colour shows what the " + (k === 1 ? "mitigation" : k + " mitigations") +
      " picked below cover: " + t.covered + " of " + t.techniques + " techniques.";
  }

  function legend(name) {
    Array.from(document.querySelectorAll("[data-legend]")).forEach(function (ul) {
      ul.hidden = ul.getAttribute("data-legend") !== name;
    });
  }

  // -- the URL: #have=AML.M0006,AML.M0015:0.5&by=evidence ----------------------------------
  function readHash() {
    var params = hashParams();
    if (!params.has("have")) return false;
    var selection = new Map(), unknown = [];
    params.get("have").split(",").forEach(function (item) {
      item = item.trim();
      if (!item) return;
      var at = item.lastIndexOf(":"), raw = at > 0 ? item.slice(0, at) : item;
      var id = mitByUpper.get(raw.toUpperCase()) || mitByUpper.get(("AML." + raw).toUpperCase());
      if (!id) { unknown.push(raw); return; }
      var s = at > 0 ? parseStrength(item.slice(at + 1)) : 1;
      if (s === null) { unknown.push(item); s = 1; }
      selection.set(id, s);
    });
    state.selection = selection;
    state.by = params.get("by") === "evidence" && DATA.evidence ? "evidence" : "claim";
    notice(unknown.length ? "Not understood in the address, and left out: " + unknown.join(", ") : "");
    return true;
  }

  function hashParams() {
    var params = new Map();
    location.hash.replace(/^#/, "").split("&").forEach(function (part) {
      var eq = part.indexOf("=");
      if (eq < 0) return;
      try { params.set(part.slice(0, eq), decodeURIComponent(part.slice(eq + 1))); } catch (e) { /* bad escape */ }
    });
    return params;
  }

  function parseStrength(text) {
    if (!/^\s*(\d+(\.\d*)?|\.\d+)\s*$/.test(text)) return null;
    var s = Number(text);
    return s >= 0 && s <= 1 ? s : null;
  }

  var lastHash = null;
  function writeHash() {
    var items = orderedIds(state.selection).map(function (id) {
      var s = state.selection.get(id);
      return s === 1 ? id : id + ":" + s;
    });
    var hash = "#have=" + items.join(",") + (state.by === "evidence" ? "&by=evidence" : "");
    if (!state.selection.size && !location.hash) return;  // nothing chosen yet: keep the bare URL
    if (hash === location.hash) return;
    lastHash = hash;
    try { history.replaceState(null, "", hash); } catch (e) { location.replace(hash); }
  }

  function notice(text) {
    var el = document.getElementById("cov-notice");
    el.textContent = text;
    el.hidden = !text;
  }

  // -- the panel ----------------------------------------------------------------------------
  list.addEventListener("change", function (event) {
    var el = event.target, li = el.closest("li[data-mitigation]");
    if (!li) return;
    var id = li.getAttribute("data-mitigation");
    if (el.type === "checkbox") {
      if (el.checked) state.selection.set(id, 1); else state.selection.delete(id);
    } else if (el.type === "number") {
      var s = parseStrength(el.value);
      if (s === null) { el.setCustomValidity("a number from 0 to 1"); el.reportValidity(); return; }
      el.setCustomValidity("");
      state.selection.set(id, s);
    }
    apply();
  });

  var filter = document.getElementById("cov-filter");
  filter.addEventListener("input", function () {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean), shown = 0;
    rows.forEach(function (li) {
      var text = li.textContent.toLowerCase();
      var hit = words.every(function (w) { return text.indexOf(w) >= 0; });
      li.hidden = !hit;
      if (hit) shown += 1;
    });
    document.getElementById("cov-filter-status").textContent =
      words.length ? shown + " of " + rows.size + " mitigations match" : "";
  });

  filter.addEventListener("keydown", function (event) {  // Enter picks the one match
    if (event.key !== "Enter") return;
    event.preventDefault();
    var shown = Array.from(rows.values()).filter(function (li) { return !li.hidden; });
    if (shown.length === 1) shown[0].querySelector("input[type=checkbox]").click();
  });

  document.getElementById("cov-clear").addEventListener("click", function () {
    state.selection = new Map();
    apply();
    filter.focus();
  });
  Array.from(panel.querySelectorAll("input[name=cov-by]")).forEach(function (r) {
    r.addEventListener("change", function () { if (r.checked) { state.by = r.value; apply(); } });
  });
  document.getElementById("cov-dl-profile").addEventListener("click", function () {
    download("atlaskb-profile.yaml", profileYaml(state.selection), "application/yaml");
  });
  document.getElementById("cov-dl-layer").addEventListener("click", function () {
    download("atlaskb-coverage-layer.json", layerJson(state.selection), "application/json");
  });
  window.addEventListener("hashchange", function () {
    if (location.hash === lastHash) return;
    if (!readHash()) state.selection = new Map();
    apply();
  });

  // -- downloads ----------------------------------------------------------------------------
  function download(name, text, type) {
    var url = URL.createObjectURL(new Blob([text], {type: type}));
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 0);
  }

  function oneLine(text) {  // a name as a YAML comment: no line breaks of any kind
    return String(text).replace(/[\u0000-\u001f\u007f\u0085\u2028\u2029]+/g, " ");
  }

  /* A profile `atlaskb coverage --profile` reads: IDs, with a strength where it is not 1. */
  function profileYaml(selection) {
    var lines = ["# Deployed mitigations, chosen on the atlaskb site's matrix.",
                 "# Use with: atlaskb coverage --profile THIS_FILE", "mitigations:"];
    orderedIds(selection).forEach(function (id) {
      var name = oneLine(mitigations[mitIndex.get(id)].name), s = selection.get(id);
      lines.push("  - id: " + JSON.stringify(id) + (name ? "  # " + name : ""));
      if (s !== 1) lines.push("    strength: " + String(s));
    });
    if (!selection.size) lines[lines.length - 1] = "mitigations: []";
    return lines.join("\n") + "\n";
  }

  /* `atlaskb export navigator --score coverage --have ...`: the build's layer for no
     mitigations, each entry scored as atlaskb.export.navigator scores it, written as the
     CLI writes JSON (keys in the layer's order, two-space indent, a final newline). */
  function layerJson(selection) {
    var layer = JSON.parse(DATA.layer);
    var result = compute(selection);
    layer.description = DATA.layer_description.replace("{have}", result.have.join(", ") || DATA.layer_nobody);
    layer.techniques.forEach(function (entry) {
      var t = entry.techniqueID;
      if (!result.coveredSet.has(t)) { entry.score = 0; entry.comment = "not covered"; return; }
      var level = result.level.get(t);
      var direct = (linkedFrom.get(t) || []).filter(function (id) { return selection.has(id); }).sort();
      entry.score = level >= 1.0 ? 1 : level;
      entry.comment = "covered" + (direct.length ? " by " + direct.join(", ") : "");
    });
    return JSON.stringify(layer, null, 2) + "\n";
  }

  // -- what covers a cell -------------------------------------------------------------------
  var info = document.getElementById("cell-info");
  var infoBody = document.getElementById("cell-info-body");
  var opener = null;

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = text;
    if (cls) e.className = cls;
    return e;
  }

  function mitigationLink(m) {
    var a = el("a", null, "ref");
    a.href = m.url;
    a.appendChild(el("span", m.id, "oid"));
    a.appendChild(document.createTextNode(" " + (m.name || m.id)));
    return a;
  }

  function showInfo(techniqueId, button) {
    var t = techById.get(techniqueId);
    if (!t) return;
    opener = button;
    var heading = document.getElementById("cell-info-h");
    heading.textContent = "";
    var link = el("a", null);
    link.href = t.url;
    link.appendChild(el("span", t.id, "oid"));
    link.appendChild(document.createTextNode(" " + (t.name || t.id)));
    heading.appendChild(link);
    infoBody.textContent = "";
    var sel = state.selection, result = state.result;
    var covering = (linkedFrom.get(t.id) || []).filter(function (id) { return sel.has(id); });
    if (result && result.coveredSet.has(t.id)) {
      infoBody.appendChild(el("p", coverageCell(result.level.get(t.id)).long + " by:"));
    } else if (covering.length) {
      infoBody.appendChild(el("p", "A gap: the mitigations you picked that address it have strength 0:"));
    } else if (result) {
      infoBody.appendChild(el("p", "A gap: none of the mitigations you picked addresses it."));
    }
    if (covering.length) {
      var ul = el("ul", null, "ref-list");
      covering.forEach(function (id) {
        var li = el("li");
        li.appendChild(mitigationLink(mitigations[mitIndex.get(id)]));
        li.appendChild(document.createTextNode(sel.get(id) === 1 ? "" : " (strength " + sel.get(id) + ")"));
        ul.appendChild(li);
      });
      infoBody.appendChild(ul);
    }
    var options = coverOptions(sel, t.id);
    var level = result && result.level.get(t.id);
    if (!options.picks.length && !options.rest.length) {
      infoBody.appendChild(el("p", (covering.length ? "No other mitigation" : "No mitigation") +
        " in this knowledge base addresses it.", "muted"));
    } else {
      var what = level === undefined || !result ? "would cover it" :
        level >= 1.0 ? "also address it" : "would raise its coverage";
      infoBody.appendChild(el("p", "Mitigations that " + what + ", in the order atlaskb recommend ranks them" +
        " (its pick number; gain: the weight of the gaps it would close once the picks before it are in place):"));
      var ol = el("ol", null, "cover-options");
      options.picks.forEach(function (p) {
        ol.appendChild(optionItem(p.id, "pick " + p.rank + ", gain " + p.gain + ", newly covers " +
          p.newly_covered.length + " technique" + (p.newly_covered.length === 1 ? "" : "s")));
      });
      infoBody.appendChild(ol);
      if (options.rest.length) {
        infoBody.appendChild(el("p", "Also address it, but recommend never picks them: once its picks are in place" +
          " they add nothing:", "muted small"));
        var more = el("ul", null, "cover-options");
        options.rest.forEach(function (id) { more.appendChild(optionItem(id, "")); });
        infoBody.appendChild(more);
      }
    }
    info.hidden = false;
    info.focus();
  }

  function optionItem(id, detail) {
    var li = el("li");
    li.setAttribute("data-mitigation", id);
    li.appendChild(mitigationLink(mitigations[mitIndex.get(id)]));
    if (detail) li.appendChild(el("span", " · " + detail, "muted small"));
    var add = el("button", "Add", "small-button");
    add.type = "button";
    add.setAttribute("aria-label", "Add " + id + " to your mitigations");
    add.addEventListener("click", function () {
      state.selection.set(id, 1);
      apply();
      closeInfo();
    });
    li.appendChild(document.createTextNode(" "));
    li.appendChild(add);
    return li;
  }

  function closeInfo() {
    info.hidden = true;
    if (opener && document.contains(opener)) opener.focus();
    opener = null;
  }

  info.querySelector(".cell-info-close").addEventListener("click", closeInfo);
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !info.hidden) closeInfo();
  });

  // -- a matrix wider than the window says so -----------------------------------------------
  var wrap = document.querySelector(".matrix-wrap");
  var hint = document.getElementById("matrix-scroll-hint");
  function scrollHint() {
    if (!wrap || !hint) return;
    var more = wrap.scrollWidth - wrap.clientWidth - wrap.scrollLeft;
    var hidden = Array.from(wrap.querySelectorAll(".matrix-col")).filter(function (c) {
      var r = c.getBoundingClientRect(), w = wrap.getBoundingClientRect();
      return r.left < w.left - 1 || r.right > w.right + 1;
    }).length;
    hint.hidden = wrap.scrollWidth <= wrap.clientWidth + 1;
    hint.textContent = hidden ? hidden + " tactic" + (hidden === 1 ? " is" : "s are") +
      " partly or wholly out of view: scroll the matrix sideways" + (more > 1 ? " →" : " ←") +
      " (Shift + mouse wheel, or the arrow keys once it has focus)." : "";
  }
  if (wrap) {
    wrap.addEventListener("scroll", scrollHint, {passive: true});
    window.addEventListener("resize", scrollHint);
  }

  // -- start ----------------------------------------------------------------------------------
  panel.hidden = false;
  if (!readHash() && DATA.initial) {
    DATA.initial.have.forEach(function (id) {
      var given = Object.prototype.hasOwnProperty.call(DATA.initial.strength, id);
      state.selection.set(id, given ? DATA.initial.strength[id] : 1);
    });
  }
  apply();
  scrollHint();

  window.atlaskbMatrix = {compute: compute, recommend: recommend, coverOptions: coverOptions,
                          profileYaml: profileYaml, layerJson: layerJson};
})();
