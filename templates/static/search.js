/* Offline search over the prebuilt index (search-index.js sets window.ATLASKB_SEARCH).
   Every query word must appear in an object's ID, name (a sub-technique's with its
   parent's) or text, as typed or in another form: atlaskb.textmatch's rule, which the
   index carries as `stemming` ("poisoning" finds "Poison Training Data", as
   `atlaskb search` does). Results rank exact ID, then ID prefix, then name, then text. Results are built with textContent only,
   so names from an untrusted vault cannot inject markup. Keys: ↑/↓ move through results (Enter follows the focused link),
   Escape returns to the box. The query is kept in the URL (?q=) so results can be linked. */
(function () {
  "use strict";
  var data = window.ATLASKB_SEARCH;
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  var status = document.getElementById("search-status");
  var form = document.getElementById("search-form");
  if (!input || !list || !status) return;
  if (!data || !data.rows) {
    status.textContent = "The search index could not be loaded.";
    return;
  }
  var LIMIT = 100;
  var rules = data.stemming || { suffixes: [], keep: [], min: 3, undouble: [] };

  function endsWith(w, s) { return w.length >= s.length && w.slice(w.length - s.length) === s; }

  // atlaskb.textmatch.stem, step for step, from the rules the index carries.
  function stem(word) {
    var w = word.toLowerCase();
    for (var k = 0; k < rules.keep.length; k++) if (endsWith(w, rules.keep[k])) return w;
    for (var i = 0; i < rules.suffixes.length; i++) {
      var suffix = rules.suffixes[i][0], repl = rules.suffixes[i][1];
      if (endsWith(w, suffix) && w.length - suffix.length + repl.length >= rules.min) {
        var base = w.slice(0, w.length - suffix.length) + repl;
        if (rules.undouble.indexOf(suffix) !== -1 && base.length > rules.min &&
            base[base.length - 1] === base[base.length - 2]) base = base.slice(0, -1);
        return base;
      }
    }
    return w;
  }

  function stems(text) {
    var out = {}, ws = text.toLowerCase().match(/[a-z0-9]+/g) || [];
    for (var i = 0; i < ws.length; i++) out[stem(ws[i])] = true;
    return Object.keys(out);
  }

  function formHit(keys, root) {
    if (!root) return false;
    for (var i = 0; i < keys.length; i++) if (keys[i].indexOf(root) === 0) return true;
    return false;
  }

  var rows = data.rows.map(function (r) {
    var also = r[5] || "";
    var fullName = also ? also + ": " + r[2] : r[2];
    return { id: r[0], type: r[1], name: r[2], url: r[3], text: r[4],
             lid: r[0].toLowerCase(), lname: fullName.toLowerCase(), ltext: r[4].toLowerCase(),
             nameKeys: stems(fullName), textKeys: stems(r[4]) };
  });
  var active = -1;

  function words(q) {
    return q.toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
  }

  function rank(row, ws, q) {
    var all = true, inName = true, inId = true;
    for (var i = 0; i < ws.length; i++) {
      var w = ws[i], root = stem(w);
      var idHit = row.lid.indexOf(w) !== -1;
      var nameHit = row.lname.indexOf(w) !== -1 || formHit(row.nameKeys, root);
      var textHit = row.ltext.indexOf(w) !== -1 || formHit(row.textKeys, root);
      if (!idHit && !nameHit && !textHit) { all = false; break; }
      if (!idHit) inId = false;
      if (!nameHit && !idHit) inName = false;
    }
    if (!all) return -1;
    if (row.lid === q) return 0;
    if (inId && row.lid.indexOf(ws[0]) === 0) return 1;
    if (inId) return 2;
    if (inName) return 3;
    return 4;
  }

  function snippet(text, ws) {
    if (!text) return "";
    var lower = text.toLowerCase(), at = -1;
    for (var i = 0; i < ws.length && at === -1; i++) at = lower.indexOf(ws[i]);
    var start = Math.max(0, at - 60);
    var cut = text.slice(start, start + 180);
    return (start > 0 ? "…" : "") + cut + (start + 180 < text.length ? "…" : "");
  }

  function highlight(parent, text, ws) {
    var lower = text.toLowerCase(), pos = 0;
    while (pos < text.length) {
      var next = -1, len = 0;
      for (var i = 0; i < ws.length; i++) {
        var at = lower.indexOf(ws[i], pos);
        if (at !== -1 && (next === -1 || at < next)) { next = at; len = ws[i].length; }
      }
      if (next === -1) { parent.appendChild(document.createTextNode(text.slice(pos))); break; }
      if (next > pos) parent.appendChild(document.createTextNode(text.slice(pos, next)));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(next, next + len);
      parent.appendChild(mark);
      pos = next + len;
    }
  }

  function render(q) {
    var ws = words(q);
    list.textContent = "";
    active = -1;
    if (!ws.length) { status.textContent = "Type to search " + rows.length + " objects."; return; }
    var ql = q.trim().toLowerCase();
    var hits = [];
    for (var i = 0; i < rows.length; i++) {
      var r = rank(rows[i], ws, ql);
      if (r >= 0) hits.push([r, i]);
    }
    hits.sort(function (a, b) { return a[0] - b[0] || a[1] - b[1]; });
    status.textContent = hits.length === 0 ? "No results for “" + q.trim() + "”." :
      hits.length + " result" + (hits.length === 1 ? "" : "s") + (hits.length > LIMIT ? ", showing the first " + LIMIT : "") + ".";
    var frag = document.createDocumentFragment();
    hits.slice(0, LIMIT).forEach(function (h) {
      var row = rows[h[1]];
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = row.url;
      var head = document.createElement("span");
      head.className = "r-head";
      var id = document.createElement("span"); id.className = "r-id"; highlight(id, row.id, ws);
      var name = document.createElement("span"); name.className = "r-name"; highlight(name, row.name || row.id, ws);
      var type = document.createElement("span"); type.className = "r-type"; type.textContent = row.type;
      head.appendChild(id); head.appendChild(name); head.appendChild(type);
      a.appendChild(head);
      var text = snippet(row.text, ws);
      if (text) { var t = document.createElement("span"); t.className = "r-text"; highlight(t, text, ws); a.appendChild(t); }
      li.appendChild(a);
      frag.appendChild(li);
    });
    list.appendChild(frag);
  }

  function links() { return list.querySelectorAll("a"); }

  function move(delta) {
    var all = links();
    if (!all.length) return;
    if (active >= 0 && all[active]) all[active].classList.remove("active");
    active = Math.max(-1, Math.min(all.length - 1, active + delta));
    if (active === -1) { input.focus(); return; }
    all[active].classList.add("active");
    all[active].focus();
  }

  function syncUrl(q) {
    try {
      var url = new URL(window.location.href);
      if (q) url.searchParams.set("q", q); else url.searchParams.delete("q");
      window.history.replaceState(null, "", url.toString());
    } catch (e) { /* file:// in some browsers refuses replaceState: keep going */ }
  }

  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { render(input.value); syncUrl(input.value.trim()); }, 60);
  });
  if (form) form.addEventListener("submit", function (e) { e.preventDefault(); render(input.value); syncUrl(input.value.trim()); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
  });
  list.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown") { e.preventDefault(); move(1); }
    else if (e.key === "ArrowUp") { e.preventDefault(); move(-1); }
    else if (e.key === "Escape") { e.preventDefault(); move(-active - 1); }
  });

  var params = new URLSearchParams(window.location.search);
  var initial = params.get("q") || "";
  input.value = initial;
  render(initial);
  input.focus();
})();
