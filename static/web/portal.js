// Coffer's pages: small behaviours kept out of the HTML so that a strict CSP
// (script-src 'self') holds. htmx does the partial updates.
(function () {
  "use strict";

  function csrfToken() {
    const field = document.querySelector("[name=csrfmiddlewaretoken]");
    if (field) return field.value;
    const match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }
  window.cofferCsrfToken = csrfToken;

  // The language switcher submits when a language is picked (its button stays for keyboards without JS).
  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) select.form.requestSubmit();
  });

  // "Copy link" / "Copy command" buttons.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.querySelector(button.dataset.copy);
    if (!source) return;
    const done = () => {
      const out = button.parentElement.querySelector("output.copied");
      if (out) out.textContent = out.dataset.copiedText || "✓";
    };
    source.select();
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(source.value).then(done, () => { document.execCommand("copy"); done(); });
    } else {
      document.execCommand("copy");
      done();
    }
  });

  // "Select all" checkbox of a listing.
  document.addEventListener("change", (event) => {
    const all = event.target.closest("[data-select-all]");
    if (!all) return;
    const form = all.closest("form") || document;
    form.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`).forEach((box) => {
      box.checked = all.checked;
    });
  });

  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });

  // A new action clears what the last one said (errors of every form, the
  // alert area, the page's flash), so no message outlives its moment. Reads
  // the user did not ask for (the drawer filling in, the bell's poll: marked
  // data-quiet) say nothing new, so they clear nothing.
  document.addEventListener("htmx:beforeRequest", (event) => {
    const detail = event.detail;
    if (detail.requestConfig && detail.requestConfig.verb === "get"
        && ((detail.target && detail.target.id === "drawer") || (detail.elt && detail.elt.closest("[data-quiet]")))) return;
    document.querySelectorAll("[data-error-slot]").forEach((slot) => { slot.textContent = ""; });
    const alerts = document.getElementById("alerts");
    if (alerts) alerts.replaceChildren();
    document.querySelectorAll("main > .flash").forEach((flash) => flash.remove());
  });

  // The left navigation behind the menu button (narrow screens).
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-nav-toggle]");
    if (!toggle) return;
    const open = document.body.classList.toggle("nav-open");
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  });

  // A refusal (4xx/5xx) is shown in place: in the form's error slot, else the
  // page's alert area. Fragments marked X-Coffer-Swap: in-place (a form that
  // carries its own errors) replace their target as usual.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const xhr = event.detail.xhr;
    if (xhr.status < 400) {
      document.querySelectorAll("[data-error-slot]").forEach((slot) => { slot.textContent = ""; });
      return;
    }
    if (xhr.getResponseHeader("X-Coffer-Swap") === "in-place") {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
      return;
    }
    event.detail.shouldSwap = false;
    const origin = event.detail.requestConfig && event.detail.requestConfig.elt;
    const scope = origin && (origin.closest("form") || origin.parentElement);
    const slot = (scope && scope.querySelector("[data-error-slot]")) || document.getElementById("alerts");
    if (!slot) return;
    const contentType = xhr.getResponseHeader("Content-Type") || "";
    if (contentType.startsWith("text/html")) {
      slot.innerHTML = xhr.responseText; // our own escaped fragment
    } else {
      let message = xhr.statusText;
      try { message = JSON.parse(xhr.responseText).message || message; } catch (e) { /* not JSON */ }
      slot.textContent = message;
      slot.setAttribute("role", "alert");
    }
  });

  document.addEventListener("htmx:sendError", () => {
    const slot = document.getElementById("alerts");
    if (slot) {
      slot.innerHTML = "";
      const p = document.createElement("p");
      p.className = "error";
      p.setAttribute("role", "alert");
      p.textContent = document.getElementById("main").dataset.sendError; // translated by the server
      slot.appendChild(p);
    }
  });
})();
