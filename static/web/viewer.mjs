// The file viewer: image zoom, PDF pages drawn by pdf.js (vendored; its worker
// from 'self'), page images for share links, arrow keys for previous/next.
// Initialised on load and on every htmx swap (an Office rendition arrives by polling).

const ZOOM_STEPS = [0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4];
const MAX_PDF_PAGES = 200;

function initZoom(root) {
  const image = root.querySelector("[data-zoom-image]");
  if (!image) return;
  let scale = null; // null: fit to the frame
  const apply = () => {
    image.classList.toggle("fit", scale === null);
    image.style.width = scale === null ? "" : `${Math.round(image.naturalWidth * scale)}px`;
    image.style.maxWidth = scale === null ? "" : "none";
  };
  const current = () => scale ?? image.clientWidth / (image.naturalWidth || 1);
  const step = (direction) => {
    const now = current();
    const next = direction > 0 ? ZOOM_STEPS.find((s) => s > now + 0.001) : [...ZOOM_STEPS].reverse().find((s) => s < now - 0.001);
    scale = next ?? now;
    apply();
  };
  const toggle = () => { scale = scale === null ? 1 : null; apply(); };
  image.addEventListener("click", toggle);
  root.querySelector("[data-zoom-toggle]")?.addEventListener("click", toggle);
  root.querySelector("[data-zoom-in]")?.addEventListener("click", () => step(1));
  root.querySelector("[data-zoom-out]")?.addEventListener("click", () => step(-1));
}

async function renderPdf(box) {
  const status = box.querySelector("[data-pdf-status]");
  try {
    const pdfjs = await import(box.dataset.pdfjs);
    pdfjs.GlobalWorkerOptions.workerSrc = box.dataset.worker;
    // One request for the whole file (one audited opening); no eval under the strict CSP.
    const task = pdfjs.getDocument({ url: box.dataset.pdf, disableRange: true, disableStream: true,
      isEvalSupported: false, withCredentials: false });
    const pdf = await task.promise;
    status.hidden = true;
    const width = Math.min(Math.max(box.clientWidth - 2, 200), 960);
    for (let number = 1; number <= Math.min(pdf.numPages, MAX_PDF_PAGES); number += 1) {
      const page = await pdf.getPage(number);
      const base = page.getViewport({ scale: 1 });
      const viewport = page.getViewport({ scale: Math.min(width / base.width, 2) });
      const ratio = window.devicePixelRatio || 1;
      const canvas = document.createElement("canvas");
      canvas.className = "pdf-page";
      canvas.width = Math.floor(viewport.width * ratio);
      canvas.height = Math.floor(viewport.height * ratio);
      canvas.style.width = `${Math.floor(viewport.width)}px`;
      canvas.setAttribute("aria-label", `${number} / ${pdf.numPages}`);
      box.appendChild(canvas);
      await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport,
        transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0] }).promise;
    }
    box.dataset.rendered = String(pdf.numPages);
  } catch (error) {
    status.hidden = false;
    status.textContent = box.dataset.error;
    status.classList.add("error");
    box.dataset.rendered = "failed";
  }
}

function initPageImages(box) {
  const pages = Number(box.dataset.pages) || 1;
  const image = box.querySelector("img");
  const label = box.querySelector("[data-page-label]");
  const prev = box.querySelector("[data-page-prev]");
  const next = box.querySelector("[data-page-next]");
  let page = 1;
  const show = () => {
    image.src = `${box.dataset.src}${page}`;
    label.textContent = label.textContent.replace(/\d+/, String(page));
    prev.disabled = page <= 1;
    next.disabled = page >= pages;
  };
  prev.addEventListener("click", () => { if (page > 1) { page -= 1; show(); } });
  next.addEventListener("click", () => { if (page < pages) { page += 1; show(); } });
}

function init(root) {
  root.querySelectorAll("[data-viewer]").forEach((viewer) => {
    if (viewer.dataset.ready) return;
    viewer.dataset.ready = "1";
    initZoom(viewer);
  });
  root.querySelectorAll("[data-pdf]").forEach((box) => {
    if (box.dataset.started) return;
    box.dataset.started = "1";
    renderPdf(box);
  });
  root.querySelectorAll("[data-page-images]").forEach((box) => {
    if (box.dataset.started) return;
    box.dataset.started = "1";
    initPageImages(box);
  });
}

document.addEventListener("keydown", (event) => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, textarea, select, video, audio")) return;
  const link = event.key === "ArrowLeft" ? document.querySelector("[data-viewer-prev]")
    : event.key === "ArrowRight" ? document.querySelector("[data-viewer-next]") : null;
  if (link) link.click();
});
// A refused poll (the file went, or the member was removed) stops the polling:
// the Office part stays as it was, no longer asking every 2 s for a 404.
document.body.addEventListener("htmx:afterRequest", (event) => {
  const elt = event.detail.elt;
  const status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (!elt || elt.id !== "office-view" || status < 400 || status >= 500) return;
  const stopped = elt.cloneNode(true);
  stopped.removeAttribute("hx-get");
  stopped.removeAttribute("hx-trigger");
  elt.replaceWith(stopped);
});
document.body.addEventListener("htmx:load", (event) => init(event.detail.elt));
init(document);
