// What the file list's actions do (row menu, keyboard, selection toolbar,
// drag): each one is a request to the portal that answers with the new list
// (#workspace), the quota bar and a toast swapped out of band.
(function () {
  "use strict";

  const fm = document.getElementById("fm");
  if (!fm) return;
  const api = window.cofferFM = window.cofferFM || {};
  const space = fm.dataset.space;
  const itemUrl = (id, action) => `/spaces/${space}/items/${id}/${action || ""}`;

  function send(verb, url, values, target) {
    const quiet = target === "none"; // the answer changes nothing on the page
    const request = window.htmx.ajax(verb, url, {
      source: "#fm-actions", target: quiet || !target ? "#workspace" : target, swap: quiet ? "none" : "innerHTML",
      values: values || {},
    });
    // Settles only when the portal answered; a lost connection is told in #alerts (portal.js), not thrown.
    return new Promise((resolve) => { request.then(resolve, () => {}); });
  }

  // After a change to rows, the keyboard stays in the list: on the first changed row's place.
  api.bulk = (action, ids, destination) => {
    if (api.refocusAt === undefined) {
      const at = api.rows().findIndex((row) => ids.includes(row.dataset.id));
      if (at >= 0) api.refocusAt = at;
    }
    return send("POST", fm.dataset.bulkUrl, { action, ids, destination: destination || "" });
  };

  // Confirmations (hx-confirm, data-confirm) are asked by forms.js's one dialog: window.cofferConfirm.

  const say = api.say; // the page's translated words (filemanager.js)

  // After a change asked from a row, the keyboard stays on that row (found again after the swap).
  api.refocusId = undefined;
  document.addEventListener("htmx:afterSettle", () => {
    if (api.refocusId === undefined) return;
    const row = api.rowOf(api.refocusId);
    api.refocusId = undefined;
    if (row) api.focusRow(row);
  });
  const drawerShows = (id) => Boolean(document.querySelector(`#drawer .item-panel[data-node="${CSS.escape(String(id))}"]`));

  // --- inline rename ----------------------------------------------------------------
  function rename(row) {
    const cell = row.querySelector("td.name");
    const link = cell.querySelector("a.open");
    if (!link || cell.querySelector("input.rename")) return;
    const input = document.createElement("input");
    input.className = "rename";
    input.value = row.dataset.name;
    input.maxLength = 255;
    input.setAttribute("aria-label", say("newName"));
    link.hidden = true;
    link.after(input);
    input.focus();
    const dot = input.value.lastIndexOf(".");
    input.setSelectionRange(0, row.dataset.kind === "file" && dot > 0 ? dot : input.value.length);
    let done = false;
    const finish = (save) => {
      if (done) return;
      done = true;
      const name = input.value.trim();
      if (save && name && name !== row.dataset.name) {
        const drawer = drawerShows(row.dataset.id) ? "1" : "";
        send("POST", itemUrl(row.dataset.id, "rename"), { name, drawer }).then(() => {
          const renamed = api.rowOf(row.dataset.id);
          if (renamed) api.focusRow(renamed);
        });
        input.disabled = true;
        return;
      }
      input.remove();
      link.hidden = false;
      api.focusRow(row);
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") { event.preventDefault(); finish(true); }
      if (event.key === "Escape") { event.preventDefault(); finish(false); }
      event.stopPropagation();
    });
    input.addEventListener("blur", () => finish(true));
  }

  // --- move / copy dialog -------------------------------------------------------------
  const moveDialog = document.getElementById("move-dialog");
  function moveOrCopy(rows, op) {
    const ids = rows.map((row) => row.dataset.id);
    const what = document.getElementById("move-what");
    what.textContent = rows.length === 1 ? rows[0].dataset.name : say("itemsCount", { count: rows.length });
    moveDialog.returnValue = "";
    const input = document.getElementById("move-destination");
    input.value = document.getElementById("fm-list").dataset.path || "/";
    const folders = document.getElementById("space-folders");
    if (!folders.dataset.loaded) {  // the space's folder paths, asked for once, when first needed
      folders.dataset.loaded = "1";
      htmx.ajax("GET", folders.dataset.url, { target: folders, swap: "innerHTML" });
    }
    moveDialog.dataset.preferred = op;
    moveDialog.addEventListener("close", () => {
      const chosen = moveDialog.returnValue;
      if (chosen === "move" || chosen === "copy") api.bulk(chosen, ids, input.value.trim());
    }, { once: true });
    moveDialog.showModal();
    input.select();
  }

  // --- share --------------------------------------------------------------------------
  const shareModal = document.getElementById("share-modal");
  function share(url) {
    send("GET", url, {}, "#share-dialog").then(() => {
      if (!shareModal.open) shareModal.showModal();
    });
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-share-url]");
    if (button) share(button.dataset.shareUrl);
  });

  // --- the drawer -----------------------------------------------------------------------
  function details(row, section) {
    send("GET", itemUrl(row.dataset.id), {}, "#drawer").then(() => {
      fm.classList.add("drawer-open");
      const drawer = document.getElementById("drawer");
      const part = document.getElementById(section || "drawer-info");
      // Scroll the drawer, never the page (the list stays where the user was).
      if (part && drawer) drawer.scrollTop = section ? part.offsetTop - 60 : 0;
      const title = document.getElementById("panel-title");
      if (title) { title.tabIndex = -1; title.focus({ preventScroll: true }); }
    });
  }

  // --- the actions ------------------------------------------------------------------------
  // Lock and unlock act at once; the list comes back with the row's new badge (and
  // the drawer too when it shows that file).
  function lockAction(row, verb) {
    api.refocusId = row.dataset.id;
    const values = verb === "lock" ? { hours: "8" } : {};
    if (drawerShows(row.dataset.id)) values.drawer = "1";
    return send("POST", itemUrl(row.dataset.id, verb), values);
  }
  const actions = {
    open: (rows) => { window.location.assign(rows[0].dataset.open); },
    coedit: (rows) => { if (rows[0].dataset.coedit) window.location.assign(rows[0].dataset.coedit); },
    office: (rows) => { if (rows[0].dataset.office) window.location.assign(rows[0].dataset.office); },
    // One file: its content; one folder: its zip; several items: one zip of them.
    download: (rows) => {
      const link = document.createElement("a");
      const ids = new URLSearchParams(rows.map((row) => ["ids", row.dataset.id]));
      link.href = rows.length === 1 ? rows[0].dataset.download : `${fm.dataset.zipUrl}?${ids}`;
      link.download = "";
      document.body.append(link);
      link.click();
      link.remove();
    },
    rename: (rows) => { if (fm.dataset.canWrite === "1") rename(rows[0]); },
    move: (rows) => moveOrCopy(rows, "move"),
    copy: (rows) => moveOrCopy(rows, "copy"),
    share: (rows) => share(itemUrl(rows[0].dataset.id, "share")),
    lock: (rows) => lockAction(rows[0], "lock"),
    unlock: (rows) => lockAction(rows[0], "unlock"),
    details: (rows) => details(rows[0]),
    versions: (rows) => details(rows[0], "drawer-versions"),
    star: (rows) => {
      const row = rows[0];
      const was = Boolean(row.dataset.starred);
      send("POST", itemUrl(row.dataset.id, "star"), {}, "none").then(() => {
        row.dataset.starred = was ? "" : "1";
        const mark = row.querySelector(".star-mark");
        if (mark) mark.hidden = was;
        const name = row.dataset.name;
        toast(say(was ? "unstarred" : "starred", { name }));
        api.focusRow(row);
      });
    },
    trash: (rows) => { if (fm.dataset.canWrite === "1") api.bulk("delete", rows.map((row) => row.dataset.id)); },
  };
  api.run = (action, rows) => {
    if (!rows.length || !actions[action]) return;
    actions[action](rows);
  };

  // The selection toolbar.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-bulk]");
    if (!button) return;
    const rows = api.rows().filter((row) => row.classList.contains("selected"));
    if (button.dataset.bulk === "clear") { // the button goes away: the keyboard goes back to the list
      api.selectAll(false);
      api.focusRow(api.rows().find((row) => row.tabIndex === 0) || api.rows()[0]);
      return;
    }
    if (!rows.length) return;
    if (button.dataset.bulk === "delete") actions.trash(rows);
    else if (button.dataset.bulk === "download") actions.download(rows);
    else moveOrCopy(rows, button.dataset.bulk);
  });

  // --- toasts -------------------------------------------------------------------------------
  let toastTimer = null;
  function toast(text) {
    const box = document.getElementById("toast");
    box.replaceChildren();
    const body = document.createElement("div");
    body.className = "toast-body";
    body.setAttribute("role", "status");
    const p = document.createElement("p");
    p.className = "notice";
    p.textContent = text;
    body.append(p);
    box.append(body);
    armToast();
  }
  function armToast() {
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      const box = document.getElementById("toast");
      if (box && !box.contains(document.activeElement)) box.replaceChildren();
    }, 12000);
  }
  document.addEventListener("htmx:oobAfterSwap", (event) => {
    if (event.detail.target && event.detail.target.id === "toast") armToast();
  });
  document.addEventListener("click", (event) => {
    if (event.target.closest("[data-toast-close]")) document.getElementById("toast").replaceChildren();
  });
  // A toast kept while the keyboard was in it (its Undo) goes once the keyboard leaves.
  document.addEventListener("focusout", (event) => {
    const box = document.getElementById("toast");
    if (box && box.contains(event.target) && !box.contains(event.relatedTarget)) armToast();
  });

  // The new-folder box: emptied and closed once the folder is made; open, it starts typed into.
  const pop = document.getElementById("new-folder-pop");
  if (pop) {
    pop.addEventListener("toggle", (event) => {
      if (event.newState === "open") pop.querySelector("input[name=name]").focus();
    });
    pop.addEventListener("htmx:afterRequest", (event) => {
      // (4xx answers are not "errors" to htmx here: the page's config shows them in place)
      if (!event.detail.xhr || event.detail.xhr.status >= 400) return;
      pop.querySelector("form").reset();
      pop.hidePopover();
    });
  }
})();
