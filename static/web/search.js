// The header's search box: its dropdown (filled by htmx as the user types)
// closes on Escape or a click elsewhere; arrow keys move through the results.
(function () {
  "use strict";
  function ready() {
    var box = document.getElementById("global-q");
    var dropdown = document.getElementById("search-dropdown");
    if (!box || !dropdown) { return; }
    function links() { return Array.prototype.slice.call(dropdown.querySelectorAll("a")); }
    function close() { dropdown.hidden = true; }
    box.addEventListener("input", function () { if (!box.value.trim()) { dropdown.innerHTML = ""; } });
    document.body.addEventListener("htmx:afterSwap", function (event) {
      if (event.detail.target === dropdown) { dropdown.hidden = !box.value.trim(); }
    });
    box.addEventListener("focus", function () { if (dropdown.innerHTML.trim()) { dropdown.hidden = false; } });
    function onKey(event) {
      var items = links();
      var at = items.indexOf(document.activeElement);
      if (event.key === "Escape") { close(); box.focus(); }
      else if (event.key === "ArrowDown" && items.length) { event.preventDefault(); items[Math.min(at + 1, items.length - 1)].focus(); }
      else if (event.key === "ArrowUp" && at >= 0) { event.preventDefault(); (at === 0 ? box : items[at - 1]).focus(); }
    }
    box.addEventListener("keydown", onKey);
    dropdown.addEventListener("keydown", onKey);
    document.addEventListener("click", function (event) {
      if (!event.target.closest || !event.target.closest(".global-search")) { close(); }
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", ready); } else { ready(); }
}());
