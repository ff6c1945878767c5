// Uploads of the file browser: the Upload buttons and a drop anywhere on the
// list (Uppy's DropTarget: files and whole folders); before a batch starts, the
// portal says which names are taken and the user picks once for the batch
// "replace (new version) / keep both / skip"; progress shows in a tray. A file that fits in one part is PUT whole
// to the portal (/spaces/{id}/upload?path=..., one request: portal/web/uploads.py).
// Larger files go through Coffer's resumable upload API (/api/v1/uploads):
// parts go straight to the URLs the portal hands out (the object store's
// presigned part URLs, or the portal's own with the local store); a dropped
// connection is retried and resumes with the parts that already arrived
// (GET /api/v1/uploads/{id} says which). A file that still fails (the object
// store down for longer than the retries) keeps its upload session: it is tried
// again by itself, or at once with the tray's Retry button, and continues that
// session from the parts the store holds; its error goes once it is stored.
import { AwsS3, DropTarget, Uppy } from "../vendor/uppy/uppy.min.mjs";
import zhCN from "../vendor/uppy/locales/zh_CN.js";
import { resolveConflicts } from "./conflicts.js";

const MIB = 1024 * 1024;
const MIN_PART = 5 * MIB;
const MAX_PARTS = 10000;
const URL_FRESH_MS = 4 * 60 * 1000; // part URLs live five minutes
// Requests in flight at once: the browser's own limit per host (HTTP/1.1), which
// keeps many small files moving while one is being stored.
const PARALLEL = 6;
// A one-request upload whose connection dropped (or met a gateway error) is sent
// again after these pauses; the resumable flow retries its parts on its own.
const DIRECT_RETRY_MS = [1000, 3000, 5000, 10000];
const RETRYABLE = new Set([0, 502, 503, 504]); // 0: no answer at all
// A file that failed for a reason that may pass (no answer, 5xx, 408, 429) is tried again
// after these pauses (the last one repeats), at most RESUME_ATTEMPTS times.
const RESUME_MS = [5000, 10000, 20000, 30000, 60000];
const RESUME_ATTEMPTS = 60;

function mayPass(error) {
  const status = error && (error.status !== undefined ? error.status : (error.source ? error.source.status : undefined));
  return !status || status >= 500 || status === 408 || status === 429;
}

function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) signal.addEventListener("abort", () => { clearTimeout(timer); reject(signal.reason); }, { once: true });
  });
}

// Sends one request's bytes as Uppy does; a one-request upload is retried when nothing,
// or a gateway's error, came back (a refusal from the portal is final and shown).
async function sendBytes(options, isDirect) {
  if (!isDirect(options.signature.url)) return AwsS3.uploadPartBytes(options);
  for (let attempt = 0; ; attempt++) {
    try {
      return await AwsS3.uploadPartBytes(options);
    } catch (error) {
      const status = error && error.source ? error.source.status : undefined;
      const aborted = options.signal && options.signal.aborted;
      if (aborted || attempt >= DIRECT_RETRY_MS.length || !RETRYABLE.has(status)) throw error;
      await sleep(DIRECT_RETRY_MS[attempt], options.signal);
    }
  }
}

const root = document.getElementById("uploader");
if (root) start(root);

function start(root) {
  const space = Number(root.dataset.space);
  const folder = root.dataset.path || "/";
  const configuredPart = Number(root.dataset.partSize) || 16 * MIB;
  const directUrl = root.dataset.directUrl;
  const directMax = Number(root.dataset.directMax) || configuredPart; // the portal's limit for one request
  const directPath = directUrl ? new URL(directUrl, window.location.href).pathname : "";
  const total = document.getElementById("upload-total");
  const percent = document.getElementById("upload-percent");
  const list = document.getElementById("upload-files");
  const errors = document.getElementById("upload-errors");
  const tray = document.getElementById("upload-tray");
  const status = document.getElementById("upload-status");
  const retryButton = document.getElementById("upload-retry");
  const partUrls = new Map(); // upload id -> Map(part number -> {url, at})
  const rows = new Map();     // uppy file id -> row elements
  const sessions = new Map(); // uppy file id -> {uploadId, key}: a failed file's upload session, kept to resume
  const resumable = new Set(); // uppy file ids that failed for a reason that may pass
  const givenUp = new Set();   // uppy file ids whose failure is final: their session is aborted
  let resumeTimer = null;
  let resumeAttempt = 0;

  async function api(method, url, body) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRFToken": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return {};
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.message || failedWith(response.status));
      error.code = data.code;
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function remember(uploadId, parts) {
    const known = partUrls.get(uploadId) || new Map();
    const now = Date.now();
    for (const part of parts || []) known.set(part.number, { url: part.url, at: now });
    partUrls.set(uploadId, known);
  }

  // The part size the portal plans for this size (portal/files/services/uploads.py: plan_parts).
  function partSize(size) {
    return Math.max(configuredPart, MIN_PART, Math.ceil(size / MAX_PARTS / MIB) * MIB);
  }

  function csrf() {
    return window.cofferCsrfToken ? window.cofferCsrfToken() : "";
  }

  // A refusal without the portal's words (a proxy's HTML page): the page's translated "Upload failed (502)."
  function failedWith(status) {
    return (root.dataset.labelFailedStatus || "%(status)s").replace("%(status)s", status);
  }

  // What the portal said when it refused a request (its JSON "message"), else the error itself.
  function reason(error) {
    const xhr = error && error.source;
    if (xhr && typeof xhr.responseText === "string") {
      try {
        const data = JSON.parse(xhr.responseText);
        if (data && data.message) return data.message;
      } catch (e) { /* not JSON: an HTML error page */ }
      if (xhr.status) return failedWith(xhr.status);
      return root.dataset.labelUnreachable; // no answer at all: the store (or the network) is down
    }
    return error && error.message ? error.message : String(error);
  }

  function isDirect(url) {
    return Boolean(directUrl) && new URL(url, window.location.href).pathname === directPath;
  }

  function targetPath(file) {
    if (file.meta.targetPath) return file.meta.targetPath; // "keep both": the free name the portal offered
    const relative = (file.meta.relativePath || file.name).replace(/^\/+/, "");
    return folder.replace(/\/+$/, "") + "/" + relative;
  }

  const zh = (root.dataset.locale || "").startsWith("zh");
  const uppy = new Uppy({
    autoProceed: false, // the batch waits for the conflict check (conflicts.js)
    locale: zh ? zhCN : undefined,
    logger: { debug() {}, warn() {}, error() {} }, // failures are shown on the page instead
  });
  uppy.use(DropTarget, { target: document.getElementById("workspace") });
  uppy.use(AwsS3, {
    // One part or less (the portal's limit for it: portal/web/uploads.py): one PUT to the
    // portal, no multipart session to plan, fill and complete.
    shouldUseMultipart: (file) => !directUrl || file.size > directMax,
    limit: PARALLEL,
    // Short: past them the file keeps its session and is resumed later (RESUME_MS).
    retryDelays: [0, 1000, 3000, 5000],
    getChunkSize: (file) => partSize(file.size),
    uploadPartBytes: (options) => sendBytes(options, isDirect),
    getUploadParameters(file) {
      const url = new URL(directUrl, window.location.href); // absolute: Uppy parses it
      url.searchParams.set("path", targetPath(file));
      return { method: "PUT", url: url.href, headers: { "X-CSRFToken": csrf() } };
    },
    async createMultipartUpload(file) {
      const upload = await api("POST", "/api/v1/uploads", { space, path: targetPath(file), size: file.size });
      remember(upload.id, upload.parts);
      return { uploadId: upload.id, key: upload.path };
    },
    async signPart(file, { uploadId, partNumber }) {
      const cached = (partUrls.get(uploadId) || new Map()).get(partNumber);
      if (cached && Date.now() - cached.at < URL_FRESH_MS) return { method: "PUT", url: cached.url };
      const state = await api("GET", `/api/v1/uploads/${uploadId}?parts=${partNumber}`);
      remember(uploadId, state.parts);
      return { method: "PUT", url: partUrls.get(uploadId).get(partNumber).url };
    },
    async listParts(file, { uploadId }) {
      const state = await api("GET", `/api/v1/uploads/${uploadId}`);
      remember(uploadId, state.parts);
      const size = state.part_size;
      return state.received.map((number) => ({
        PartNumber: number, Size: Math.min(size, state.size - (number - 1) * size), ETag: "",
      }));
    },
    async completeMultipartUpload(file, { uploadId, parts }) {
      try {
        await api("POST", `/api/v1/uploads/${uploadId}/complete`, {});
      } catch (error) {
        if (error.code !== "ambiguous_parts") throw error;
        const etags = parts.filter((part) => part.ETag).map((part) => ({ number: part.PartNumber, etag: part.ETag }));
        await api("POST", `/api/v1/uploads/${uploadId}/complete`, { parts: etags });
      }
      partUrls.delete(uploadId);
      return {};
    },
    async abortMultipartUpload(file, { uploadId, key }) {
      partUrls.delete(uploadId);
      if (!uploadId) return;
      // Uppy aborts the session of an upload that failed: a file still here keeps it instead, so
      // that a retry continues from the parts the store holds (a removed file's session goes).
      if (uppy.getFile(file.id) && !givenUp.has(file.id)) {
        sessions.set(file.id, { uploadId, key });
        uppy.setFileState(file.id, { s3Multipart: { uploadId, key } });
        return;
      }
      await api("DELETE", `/api/v1/uploads/${uploadId}`);
    },
  });

  function row(file) {
    if (rows.has(file.id)) return rows.get(file.id);
    const item = document.createElement("li");
    const label = document.createElement("label");
    const bar = document.createElement("progress");
    const state = document.createElement("span");
    bar.id = "upload-file-" + rows.size;
    bar.max = 100;
    bar.value = 0;
    label.htmlFor = bar.id;
    label.textContent = file.meta.relativePath || file.name; // textContent: names are never HTML
    state.className = "upload-state";
    item.append(label, " ", bar, " ", state);
    list.append(item);
    const entry = { item, bar, state };
    rows.set(file.id, entry);
    return entry;
  }

  let batchDone = true;
  uppy.on("file-added", (file) => {
    if (batchDone) { // a new batch: what the last one said goes
      batchDone = false;
      list.replaceChildren();
      errors.replaceChildren();
      rows.clear();
      total.value = 0;
      percent.textContent = "0 %";
      tray.classList.remove("has-errors");
    }
    row(file);
  });
  uppy.on("upload-progress", (file, progress) => {
    if (!progress.bytesTotal) return;
    row(file).bar.value = Math.floor((progress.bytesUploaded / progress.bytesTotal) * 100);
  });
  uppy.on("upload-success", (file) => {
    const entry = row(file);
    entry.bar.value = 100;
    entry.state.textContent = "✓ " + root.dataset.labelDone;
    forget(file.id);
    if (entry.error) { entry.error.remove(); entry.error = null; } // resumed: what went wrong is over
    tray.classList.toggle("has-errors", errors.childElementCount > 0);
  });
  uppy.on("upload-error", (file, error) => {
    const entry = row(file);
    const again = mayPass(error);
    entry.state.textContent = "✗ " + (again ? root.dataset.labelWaiting : root.dataset.labelFailed);
    if (!entry.error) {
      entry.error = document.createElement("p");
      entry.error.className = "error";
      errors.append(entry.error);
    }
    entry.error.textContent = `${file.meta.relativePath || file.name}: ${reason(error)}`;
    if (again) resumable.add(file.id);
    else giveUp(file.id);
  });

  function forget(fileId) {
    sessions.delete(fileId);
    resumable.delete(fileId);
    givenUp.delete(fileId);
  }

  // A failure that will not pass (quota, a refusal): the file's session is aborted now.
  function giveUp(fileId) {
    resumable.delete(fileId);
    givenUp.add(fileId);
    const session = sessions.get(fileId);
    sessions.delete(fileId);
    if (session) api("DELETE", `/api/v1/uploads/${session.uploadId}`).catch(() => { /* the sweep expires it */ });
  }

  // Failed files that may pass are tried again; each continues its own session (Uppy resumes
  // a file whose s3Multipart names one: GET /api/v1/uploads/{id}, then the missing parts).
  function resumeNow() {
    clearTimeout(resumeTimer);
    resumeTimer = null;
    if (!uppy.getFiles().some((file) => resumable.has(file.id))) return;
    for (const [fileId, session] of sessions) {
      if (uppy.getFile(fileId)) uppy.setFileState(fileId, { s3Multipart: { ...session } });
    }
    batchDone = false;
    retryButton.hidden = true;
    status.textContent = root.dataset.labelUploading;
    uppy.retryAll().catch(() => { /* each failure is shown on its row */ });
  }

  function resumeLater() {
    retryButton.hidden = false;
    if (resumeTimer || resumeAttempt >= RESUME_ATTEMPTS) return;
    const pause = RESUME_MS[Math.min(resumeAttempt, RESUME_MS.length - 1)];
    resumeAttempt += 1;
    resumeTimer = setTimeout(resumeNow, pause);
  }
  uppy.on("progress", (value) => {
    if (batchDone) return; // clearing a finished batch reports 0 %: the tray keeps its 100 %
    total.value = value;
    total.textContent = `${value}%`;
    percent.textContent = `${value} %`;
  });
  uppy.on("complete", (result) => {
    const done = (result.successful || []).length;
    const failed = (result.failed || []).length;
    status.textContent = root.dataset.labelSummary.replace("%(done)s", done).replace("%(failed)s", failed);
    tray.classList.toggle("has-errors", failed > 0);
    if (done) {
      total.value = 100;
      percent.textContent = "100 %";
      const form = document.getElementById("browse-state");
      if (form && window.htmx) {
        const query = new URLSearchParams(new FormData(form)).toString();
        window.htmx.ajax("GET", `${form.getAttribute("action")}?${query}`, { target: "#workspace" });
      }
    }
    batchDone = true;
    // A finished batch leaves nothing behind in Uppy ("uploading 1 file" after a failure) but the
    // files to resume: the next batch starts afresh, and takes them along.
    const waiting = uppy.getFiles().filter((file) => resumable.has(file.id) && !file.progress.uploadComplete);
    if (waiting.length) {
      uppy.removeFiles(uppy.getFiles().filter((file) => !waiting.includes(file)).map((file) => file.id));
      resumeLater();
    } else {
      uppy.clear();
      givenUp.clear();
      resumeAttempt = 0;
      retryButton.hidden = true;
    }
  });

  // A batch (picked or dropped): ask about taken names once, then upload.
  // Files dropped on a folder's row go into that folder (the rest of the list: this folder).
  let dropFolder = null;
  const workspace = document.getElementById("workspace");
  const isFiles = (event) => Array.from((event.dataTransfer && event.dataTransfer.types) || []).includes("Files");
  const folderRow = (event) => event.target.closest && event.target.closest("tr.fm-row[data-drop-path]");
  const unmark = () => workspace.querySelectorAll("tr.drop-over").forEach((row) => row.classList.remove("drop-over"));
  workspace.addEventListener("dragover", (event) => {
    if (!isFiles(event)) return;
    const row = folderRow(event);
    if (row && row.classList.contains("drop-over")) return;
    unmark();
    if (row) row.classList.add("drop-over");
  }, true);
  workspace.addEventListener("dragleave", (event) => { if (isFiles(event) && !workspace.contains(event.relatedTarget)) unmark(); });
  workspace.addEventListener("drop", (event) => {
    if (!isFiles(event)) return;
    const row = folderRow(event);
    dropFolder = row ? row.dataset.dropPath : null;
    unmark();
  }, true);

  uppy.on("files-added", async (added) => {
    const into = dropFolder;
    dropFolder = null;
    if (into) {
      for (const file of added) {
        const relative = (file.meta.relativePath || file.name).replace(/^\/+/, "");
        uppy.setFileMeta(file.id, { targetPath: into.replace(/\/+$/, "") + "/" + relative });
      }
    }
    const files = added.map((file) => uppy.getFile(file.id));
    tray.hidden = false;
    status.textContent = root.dataset.labelUploading;
    const keep = await resolveConflicts(files, { checkUrl: root.dataset.checkUrl, targetPath, csrf, more: root.dataset.labelMore });
    for (const file of files) {
      const choice = keep.get(file.id);
      if (choice === null) {
        uppy.removeFile(file.id);
        const entry = rows.get(file.id);
        if (entry) { entry.item.remove(); rows.delete(file.id); }
      } else if (choice) uppy.setFileMeta(file.id, { targetPath: choice });
    }
    if (uppy.getFiles().some((file) => !file.progress.uploadComplete)) {
      uppy.upload().catch(() => { /* each failure is shown on its row */ });
    } else {
      status.textContent = root.dataset.labelSummary.replace("%(done)s", 0).replace("%(failed)s", 0);
      batchDone = true;
      uppy.clear();
    }
  });

  function pick(input) {
    return () => {
      const files = Array.from(input.files || []);
      input.value = "";
      if (!files.length) return;
      uppy.addFiles(files.map((file) => ({
        source: "picker", name: file.name, type: file.type, data: file,
        meta: { relativePath: file.webkitRelativePath || null },
      })));
    };
  }
  const filesInput = document.getElementById("upload-input");
  const folderInput = document.getElementById("upload-folder-input");
  filesInput.addEventListener("change", pick(filesInput));
  folderInput.addEventListener("change", pick(folderInput));
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-upload-pick]");
    if (button) (button.dataset.uploadPick === "folder" ? folderInput : filesInput).click();
    if (event.target.closest("[data-tray-close]")) tray.hidden = true;
    if (event.target.closest("#upload-retry")) { resumeAttempt = 0; resumeNow(); }
  });
  root.dataset.ready = "1"; // tests (and people) may drop from now on
}
