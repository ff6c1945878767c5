// Upload forms of share pages: send with progress, then show what arrived.
// The words shown come from the page (the <output>'s data-failed and data-lost).
document.querySelectorAll("form[data-drop]").forEach((form) => {
  const bar = form.querySelector("progress");
  const out = form.querySelector("output");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.setRequestHeader("Accept", "application/json");
    request.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
    bar.hidden = false;
    bar.value = 0;
    request.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) bar.value = Math.round((e.loaded / e.total) * 100);
    });
    request.addEventListener("load", () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch (e) { body = {}; }
      if (request.status === 201) {
        bar.value = 100;
        out.textContent = (body.files || []).map((f) => "✓ " + f.name).join("\n");
        out.dataset.state = "done";
        form.reset();
      } else {
        out.textContent = body.message || out.dataset.failed.replace("%(status)s", request.status);
        out.dataset.state = "error";
      }
    });
    request.addEventListener("error", () => {
      out.textContent = out.dataset.lost; // the page's words, translated by the server
      out.dataset.state = "error";
    });
    request.send(new FormData(form));
  });
});
