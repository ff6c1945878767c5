// Coffer's one confirmation dialog, and a small form behaviour, kept out of
// the HTML for the strict CSP.
//
// The dialog (#confirm-dialog) is rendered by the server in base.html with
// its translated default labels. window.cofferConfirm(question, labels)
// shows it and resolves to true only for the OK button (Escape and Cancel are
// "no"). Three kinds of triggers use it:
// - a form with data-confirm (its text; data-confirm-button and
//   data-confirm-cancel name the buttons); it runs before htmx sees the
//   submit, so plain and htmx forms behave alike;
// - any htmx element with hx-confirm (the same data-confirm-button label);
// - scripts (the file manager) that call window.cofferConfirm.
//
// A select with data-shows-when-people="#box" shows the box only while
// "people" (named recipients) is chosen.
(function () {
  "use strict";

  function confirmDialog() {
    return document.getElementById("confirm-dialog");
  }

  function ask(question, labels) {
    const dialog = confirmDialog();
    if (!dialog) return Promise.resolve(false);
    const opts = labels || {};
    const ok = dialog.querySelector("button.ok");
    const cancel = dialog.querySelector("button.cancel");
    const back = document.activeElement;
    dialog.querySelector(".confirm-text").textContent = question;
    ok.textContent = opts.ok || dialog.dataset.ok;
    cancel.textContent = opts.cancel || dialog.dataset.cancel;
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        // the focus goes back where it was, unless the answer replaced that element
        if (back && back.isConnected && typeof back.focus === "function") back.focus();
        resolve(dialog.returnValue === "ok");
      }, { once: true });
      dialog.showModal();
      cancel.focus(); // the safe choice is the default one
    });
  }
  window.cofferConfirm = ask;

  const labelsOf = (element) => ({
    ok: element && element.dataset ? element.dataset.confirmButton : undefined,
    cancel: element && element.dataset ? element.dataset.confirmCancel : undefined,
  });

  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (form.dataset.confirmed === "yes") {
      delete form.dataset.confirmed;
      return; // asked and answered: on to htmx or the browser
    }
    event.preventDefault();
    event.stopImmediatePropagation();
    const submitter = event.submitter;
    ask(form.dataset.confirm, labelsOf(form)).then((yes) => {
      if (!yes) return;
      form.dataset.confirmed = "yes";
      form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
    });
  }, true);

  document.addEventListener("htmx:confirm", (event) => {
    if (!event.detail.question) return;
    event.preventDefault();
    const element = event.detail.elt;
    const source = element && element.closest ? element.closest("[data-confirm-button]") : null;
    ask(event.detail.question, labelsOf(source)).then((yes) => { if (yes) event.detail.issueRequest(true); });
  });

  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-shows-when-people]");
    if (!select) return;
    const box = document.querySelector(select.dataset.showsWhenPeople);
    if (box) box.hidden = select.value !== "people";
  });
})();
