/* Keyboard shortcut for every page: "/" focuses the search box (as on many doc sites),
   unless the reader is already typing somewhere. No network, no dependencies. */
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (tag === "input" || tag === "textarea" || tag === "select" || (target && target.isContentEditable)) return;
    var box = document.querySelector("[data-search-shortcut], #search-input");
    if (box) {
      event.preventDefault();
      box.focus();
      if (box.select) box.select();
    }
  });
})();
