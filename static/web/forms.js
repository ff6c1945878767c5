// Two small form behaviours, kept out of the HTML for the strict CSP:
// - a form with data-confirm asks first, in a <dialog> (its text, and the
//   labels of its buttons, come from the form: data-confirm,
//   data-confirm-button, data-confirm-cancel); it runs before htmx sees the
//   submit, so plain and htmx forms behave alike;
// - a select with data-shows-when-people="#box" shows the box only while
//   "people" (named recipients) is chosen.
(function () {
  "use strict";

  function dialogFor(form) {
    let dialog = document.getElementById("confirm-dialog");
    if (!dialog) {
      dialog = document.createElement("dialog");
      dialog.id = "confirm-dialog";
      dialog.className = "confirm-dialog";
      dialog.setAttribute("aria-labelledby", "confirm-dialog-text");
      const inner = document.createElement("form");
      inner.method = "dialog";
      const text = document.createElement("p");
      text.id = "confirm-dialog-text";
      const row = document.createElement("div");
      row.className = "row";
      const cancel = document.createElement("button");
      cancel.value = "cancel";
      cancel.className = "cancel";
      const ok = document.createElement("button");
      ok.value = "ok";
      ok.className = "danger ok";
      row.append(cancel, ok);
      inner.append(text, row);
      dialog.append(inner);
      document.body.append(dialog);
    }
    dialog.querySelector("p").textContent = form.dataset.confirm;
    dialog.querySelector("button.ok").textContent = form.dataset.confirmButton || "OK";
    dialog.querySelector("button.cancel").textContent = form.dataset.confirmCancel
      || (document.documentElement.lang.startsWith("zh") ? "取消" : "Cancel");
    return dialog;
  }

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
    const dialog = dialogFor(form);
    dialog.returnValue = "";
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "ok") return;
      form.dataset.confirmed = "yes";
      form.requestSubmit(submitter && submitter.form === form ? submitter : undefined);
    }, { once: true });
    dialog.showModal();
    dialog.querySelector("button.cancel").focus(); // the safe choice is the default one
  }, true);

  document.addEventListener("change", (event) => {
    const select = event.target.closest("select[data-shows-when-people]");
    if (!select) return;
    const box = document.querySelector(select.dataset.showsWhenPeople);
    if (box) box.hidden = select.value !== "people";
  });
})();
