// A visitor who answered wrongly too often waits before trying again: the
// form stays on the page, disabled until the wait (data-retry-after, in
// seconds) has passed, then it is enabled and focused again. Without this
// script the form simply stays enabled and the server refuses early answers.
(function () {
  "use strict";
  document.querySelectorAll("form[data-retry-after]").forEach((form) => {
    const seconds = parseInt(form.dataset.retryAfter, 10);
    if (!(seconds > 0)) return;
    const fields = form.querySelectorAll("input:not([type=hidden]), button");
    fields.forEach((field) => { field.disabled = true; });
    window.setTimeout(() => {
      fields.forEach((field) => { field.disabled = false; });
      const input = form.querySelector("input:not([type=hidden])");
      if (input) input.focus();
      delete form.dataset.retryAfter;
    }, seconds * 1000);
  });
})();
