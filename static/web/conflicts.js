// Upload conflicts: before a batch starts, the portal says which of its paths
// are taken (POST /spaces/{id}/upload-check) and offers a free "name (1).ext"
// for each; the user answers once for the whole batch.
//
// resolveConflicts(files, options) -> Map(file id -> undefined: upload as is
// (no conflict, or "replace": the upload becomes a new version), a path: upload
// there instead ("keep both"), null: leave it out ("skip")).

async function check(url, paths, csrf) {
  const body = new URLSearchParams();
  paths.forEach((path) => body.append("path", path));
  const response = await fetch(url, {
    method: "POST", credentials: "same-origin", body,
    headers: { "X-CSRFToken": csrf(), "Accept": "application/json" },
  });
  if (!response.ok) return []; // the upload itself will say what is wrong
  const data = await response.json();
  return data.conflicts || [];
}

function ask(conflicts, more) {
  const dialog = document.getElementById("conflict-dialog");
  const list = document.getElementById("conflict-names");
  list.replaceChildren();
  const SHOWN = 8;
  conflicts.slice(0, SHOWN).forEach((conflict) => {
    const item = document.createElement("li");
    item.textContent = conflict.path; // textContent: names are never HTML
    list.append(item);
  });
  if (conflicts.length > SHOWN) {
    const item = document.createElement("li");
    item.textContent = more.replace("%(count)s", conflicts.length - SHOWN);
    list.append(item);
  }
  return new Promise((resolve) => {
    dialog.returnValue = "";
    dialog.addEventListener("close", () => resolve(dialog.returnValue || "skip"), { once: true });
    dialog.showModal();
  });
}

export async function resolveConflicts(files, { checkUrl, targetPath, csrf, more }) {
  const answer = new Map();
  if (!checkUrl || !files.length) return answer;
  const byPath = new Map(files.map((file) => [targetPath(file), file]));
  let conflicts = [];
  try {
    conflicts = await check(checkUrl, Array.from(byPath.keys()), csrf);
  } catch (e) {
    return answer; // no answer: upload as asked; the portal still refuses what it must
  }
  if (!conflicts.length) return answer;
  const choice = await ask(conflicts, more || "+%(count)s");
  for (const conflict of conflicts) {
    const file = byPath.get(conflict.path);
    if (!file) continue;
    if (choice === "skip") answer.set(file.id, null);
    else if (choice === "keep") answer.set(file.id, conflict.free || null);
  }
  return answer;
}
