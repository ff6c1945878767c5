// The space page's file list: selection, keyboard, sortable headers, list/grid
// view, the row menu (button and right-click), drag rows onto a folder or a
// breadcrumb. What each action does is in fm-actions.js (window.cofferFM.run).
(function () {
  "use strict";

  const fm = document.getElementById("fm");
  if (!fm) return;
  const workspace = document.getElementById("workspace");
  const menu = document.getElementById("row-menu");
  const VIEW_KEY = "coffer.view";
  const DRAG_TYPE = "application/x-coffer-ids";
  const api = window.cofferFM = window.cofferFM || {};

  const rows = () => Array.from(workspace.querySelectorAll("tr.fm-row"));
  const boxes = () => Array.from(workspace.querySelectorAll("input[name=ids]"));
  api.rows = rows;

  // The page's words, translated by the server (#fm-strings, a JSON data block: no text is made up here).
  const strings = JSON.parse((document.getElementById("fm-strings") || {}).textContent || "{}");
  const say = (key, values) => Object.entries(values || {}).reduce(
    (text, [name, value]) => text.split(`%(${name})s`).join(String(value)), strings[key] || "");
  api.say = say;
  api.selectedIds = () => boxes().filter((box) => box.checked).map((box) => box.value);

  // --- selection -------------------------------------------------------------
  function updateSelection() {
    const ids = api.selectedIds();
    const bar = document.getElementById("selection-bar");
    const count = document.getElementById("selection-count");
    rows().forEach((row) => {
      const box = row.querySelector("input[name=ids]");
      row.classList.toggle("selected", Boolean(box && box.checked));
      row.setAttribute("aria-selected", box && box.checked ? "true" : "false");
    });
    if (bar) bar.hidden = ids.length === 0;
    if (count) count.textContent = ids.length === 1 ? say("selectedOne") : say("selectedMany", { count: ids.length });
    const all = document.getElementById("select-all");
    if (all) all.checked = ids.length > 0 && ids.length === boxes().length;
  }
  api.updateSelection = updateSelection;
  api.selectAll = (on) => { boxes().forEach((box) => { box.checked = on; }); updateSelection(); };
  workspace.addEventListener("change", (event) => {
    if (event.target.matches("input[name=ids], #select-all")) setTimeout(updateSelection);
  });

  // --- focus and keyboard -----------------------------------------------------
  function focusRow(row) {
    if (!row) return;
    rows().forEach((other) => { other.tabIndex = -1; });
    row.tabIndex = 0;
    row.focus();
  }
  api.focusRow = focusRow;
  api.rowOf = (id) => workspace.querySelector(`tr.fm-row[data-id="${CSS.escape(String(id))}"]`);

  function inField(target) {
    return target.closest("input, textarea, select, [contenteditable], dialog");
  }

  workspace.addEventListener("click", (event) => {
    const row = event.target.closest("tr.fm-row");
    if (row && !event.target.closest("a, button, input")) focusRow(row);
  });
  workspace.addEventListener("dblclick", (event) => {
    const row = event.target.closest("tr.fm-row");
    if (row && !event.target.closest("a, button, input")) api.run("open", [row]);
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || !menu.hidden || inField(event.target)) return;
    const row = event.target.closest && event.target.closest("tr.fm-row");
    const inList = Boolean(event.target.closest && event.target.closest("#workspace"));
    if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "a" && (inList || event.target === document.body)) {
      event.preventDefault();
      api.selectAll(true);
      return;
    }
    if (!row) {
      if (inList && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
        event.preventDefault();
        focusRow(rows()[0]);
      }
      return;
    }
    const list = rows();
    const at = list.indexOf(row);
    const keys = {
      ArrowDown: () => focusRow(list[Math.min(at + 1, list.length - 1)]),
      ArrowUp: () => focusRow(list[Math.max(at - 1, 0)]),
      Home: () => focusRow(list[0]),
      End: () => focusRow(list[list.length - 1]),
      Enter: () => api.run("open", [row]),
      F2: () => api.run("rename", [row]),
      Delete: () => { api.refocusAt = at; api.run("trash", selectedOr(row)); },
      " ": () => { const box = row.querySelector("input[name=ids]"); box.checked = !box.checked; updateSelection(); },
      ContextMenu: () => openMenu(row, null),
    };
    if (event.key === "F10" && event.shiftKey) keys.ContextMenu();
    const action = keys[event.key];
    if (!action) return;
    event.preventDefault();
    action();
  });

  // The selected rows when ``row`` is one of them, else ``row`` alone.
  function selectedOr(row) {
    const selected = rows().filter((r) => r.classList.contains("selected"));
    return selected.includes(row) ? selected : [row];
  }
  api.selectedOr = selectedOr;

  // --- row menu ----------------------------------------------------------------
  let menuRows = [];
  function openMenu(row, point) {
    menuRows = selectedOr(row);
    const kind = row.dataset.kind;
    const lock = row.dataset.lock;
    const can = { write: fm.dataset.canWrite === "1", share: fm.dataset.canShare === "1" };
    menu.querySelectorAll("[data-action]").forEach((item) => {
      const needs = item.dataset.needs;
      const only = (item.dataset.only || "").split(" ").filter(Boolean);
      let show = !needs || can[needs];
      if (only.includes("file") && kind !== "file") show = false;
      if (only.includes("unlocked") && lock) show = false;
      if (only.includes("mine") && lock !== "mine") show = false;
      if (only.includes("coedit") && !row.dataset.coedit) show = false;  // a text file the user may change
      if (only.includes("office") && !row.dataset.office) show = false;  // a type the office server opens
      if (only.includes("starred") && !row.dataset.starred) show = false;
      if (only.includes("unstarred") && row.dataset.starred) show = false;
      if (menuRows.length > 1 && !["download", "move", "copy", "trash"].includes(item.dataset.action)) show = false;
      item.hidden = !show;
    });
    menu.hidden = false;
    const button = row.querySelector(".row-menu-button");
    if (button) button.setAttribute("aria-expanded", "true");
    const box = row.getBoundingClientRect();
    const x = point ? point.x : box.right - 8;
    const y = point ? point.y : box.bottom;
    const width = menu.offsetWidth;
    const height = menu.offsetHeight;
    menu.style.left = `${Math.max(4, Math.min(x, window.innerWidth - width - 4)) + window.scrollX}px`;
    menu.style.top = `${Math.max(4, Math.min(y, window.innerHeight - height - 4)) + window.scrollY}px`;
    const first = menu.querySelector("[data-action]:not([hidden])");
    if (first) first.focus();
  }
  function closeMenu(refocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    document.querySelectorAll(".row-menu-button[aria-expanded=true]").forEach((b) => b.setAttribute("aria-expanded", "false"));
    if (refocus && menuRows[0] && menuRows[0].isConnected) focusRow(menuRows[0]);
  }
  api.closeMenu = closeMenu;

  workspace.addEventListener("click", (event) => {
    const button = event.target.closest(".row-menu-button");
    if (!button) return;
    event.stopPropagation();
    const row = button.closest("tr.fm-row");
    if (!menu.hidden && menuRows[0] === row) { closeMenu(true); return; }
    openMenu(row, null);
  });
  workspace.addEventListener("contextmenu", (event) => {
    const row = event.target.closest("tr.fm-row");
    if (!row) return;
    event.preventDefault();
    focusRow(row);
    openMenu(row, { x: event.clientX, y: event.clientY });
  });
  menu.addEventListener("click", (event) => {
    const item = event.target.closest("[data-action]");
    if (!item) return;
    const targets = menuRows;
    closeMenu(false);
    api.run(item.dataset.action, targets);
  });
  menu.addEventListener("keydown", (event) => {
    const items = Array.from(menu.querySelectorAll("[data-action]:not([hidden])"));
    const at = items.indexOf(document.activeElement);
    if (event.key === "Escape") { event.preventDefault(); closeMenu(true); } else if (event.key === "ArrowDown") {
      event.preventDefault(); items[(at + 1) % items.length].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault(); items[(at - 1 + items.length) % items.length].focus();
    } else if (event.key === "Tab") closeMenu(true);
  });
  document.addEventListener("click", (event) => { if (!menu.contains(event.target)) closeMenu(false); });
  // A new width moves the rows under the menu; a new height alone (a phone's address bar
  // showing or hiding while scrolling) does not, and must not close it.
  let menuWidth = window.innerWidth;
  window.addEventListener("resize", () => {
    if (window.innerWidth !== menuWidth) closeMenu(false);
    menuWidth = window.innerWidth;
  });

  // --- sorting (the list's headers, or the sort control of the grid and phones), view ---
  function sortBy(field, direction) {
    const form = document.getElementById("browse-state");
    form.querySelector("[name=sort]").value = field;
    form.querySelector("[name=order]").value = direction;
    const fieldSelect = document.querySelector("[data-sort-field]");
    const orderSelect = document.querySelector("[data-sort-order]");
    if (fieldSelect) fieldSelect.value = field;
    if (orderSelect) orderSelect.value = direction;
    window.htmx.trigger(form, "submit");
  }
  workspace.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-sort]");
    if (!button) return;
    const form = document.getElementById("browse-state");
    const sort = form.querySelector("[name=sort]").value;
    const order = form.querySelector("[name=order]").value;
    sortBy(button.dataset.sort, sort === button.dataset.sort && order === "asc" ? "desc" : "asc");
  });
  document.addEventListener("change", (event) => {
    if (!event.target.matches("[data-sort-field], [data-sort-order]")) return;
    sortBy(document.querySelector("[data-sort-field]").value, document.querySelector("[data-sort-order]").value);
  });

  function setView(view) {
    fm.classList.toggle("grid", view === "grid");
    document.querySelectorAll("[data-view]").forEach((button) => {
      button.setAttribute("aria-pressed", button.dataset.view === view ? "true" : "false");
    });
  }
  let saved = "list";
  try { saved = localStorage.getItem(VIEW_KEY) || "list"; } catch (e) { /* storage off */ }
  setView(saved);
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-view]");
    if (!button) return;
    setView(button.dataset.view);
    try { localStorage.setItem(VIEW_KEY, button.dataset.view); } catch (e) { /* storage off */ }
  });

  // --- drag rows onto a folder row or a breadcrumb ------------------------------------
  workspace.addEventListener("dragstart", (event) => {
    const row = event.target.closest && event.target.closest("tr.fm-row");
    if (!row || fm.dataset.canWrite !== "1") return;
    const ids = selectedOr(row).map((r) => r.dataset.id);
    event.dataTransfer.setData(DRAG_TYPE, JSON.stringify(ids));
    event.dataTransfer.effectAllowed = "move";
    row.classList.add("dragging");
  });
  workspace.addEventListener("dragend", () => {
    document.querySelectorAll(".dragging, .drop-over").forEach((el) => el.classList.remove("dragging", "drop-over"));
  });
  function dropTarget(event) {
    if (!event.dataTransfer || !Array.from(event.dataTransfer.types || []).includes(DRAG_TYPE)) return null;
    return event.target.closest && event.target.closest("[data-drop-path]");
  }
  document.addEventListener("dragover", (event) => {
    const target = dropTarget(event);
    if (!target) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    target.classList.add("drop-over");
  });
  document.addEventListener("dragleave", (event) => {
    const target = dropTarget(event);
    if (target && !target.contains(event.relatedTarget)) target.classList.remove("drop-over");
  });
  document.addEventListener("drop", (event) => {
    const target = dropTarget(event);
    if (!target) return;
    event.preventDefault();
    event.stopPropagation();
    target.classList.remove("drop-over");
    let ids = [];
    try { ids = JSON.parse(event.dataTransfer.getData(DRAG_TYPE)); } catch (e) { return; }
    ids = ids.filter((id) => id !== target.dataset.id);
    if (ids.length) api.bulk("move", ids, target.dataset.dropPath);
  }, true);

  // --- drawer ------------------------------------------------------------------------
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-drawer-close]")) api.closeDrawer();
  });
  api.closeDrawer = () => {
    const drawer = document.getElementById("drawer");
    if (drawer) drawer.innerHTML = "";
    fm.classList.remove("drawer-open");
  };
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.hidden && !document.querySelector("dialog[open]")
        && document.querySelector("#drawer .item-panel")) api.closeDrawer();
  });

  // After every swap of the list: the selection bar, the drawer's state, the focus kept on the same row.
  document.addEventListener("htmx:afterSettle", () => {
    updateSelection();
    if (api.refocusAt !== undefined) { // after a keyboard trash, the keyboard stays in the list
      const list = rows();
      if (list.length) focusRow(list[Math.min(api.refocusAt, list.length - 1)]);
      api.refocusAt = undefined;
    }
    fm.classList.toggle("drawer-open", Boolean(document.querySelector("#drawer .item-panel")));
  });
  fm.classList.toggle("drawer-open", Boolean(document.querySelector("#drawer .item-panel")));
  updateSelection();
})();
