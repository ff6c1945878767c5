// Who is here: one <li data-name> per open editor (awareness state), a dot in their
// colour, "(you)" on one's own, "(read only)" on those who cannot type.

function sameColour(value) {
  // Another client's colour is only ever used through the CSSOM (never as markup), so a
  // value that is no colour is dropped by the browser; it still goes through a check.
  return typeof value === "string" && /^#[0-9a-fA-F]{3,8}$/.test(value) ? value : "";
}

function personItem(user, { you, readOnly }, say) {
  const item = document.createElement("li");
  item.className = "coedit-person";
  item.dataset.name = user.name;
  const dot = document.createElement("span");
  dot.className = "coedit-dot";
  dot.setAttribute("aria-hidden", "true");
  dot.style.backgroundColor = sameColour(user.color);
  const name = document.createElement("span");
  name.className = "coedit-person-name";
  name.textContent = user.name;
  item.append(dot, name);
  for (const [shown, key] of [[you, "you"], [readOnly, "reader"]]) {
    if (!shown) continue;
    const note = document.createElement("span");
    note.className = "meta";
    note.textContent = say(key);
    item.append(" ", note);
  }
  if (you) item.dataset.you = "1";
  return item;
}

export function presenceOf(list, awareness, say) {
  const draw = () => {
    const people = [];
    awareness.getStates().forEach((state, clientId) => {
      const user = state && state.user;
      if (!user || typeof user.name !== "string" || !user.name) return;
      people.push({ user, you: clientId === awareness.clientID, readOnly: Boolean(user.readOnly) });
    });
    // oneself first, then by name
    people.sort((a, b) => (b.you - a.you) || a.user.name.localeCompare(b.user.name));
    list.replaceChildren(...people.map((person) => personItem(person.user, person, say)));
  };
  awareness.on("change", draw);
  // Someone new: they are told who is here by each one answering with their own presence
  // (the same state again; its new clock makes the provider send it), not in 15 s.
  awareness.on("change", ({ added }, origin) => {
    if (origin !== "local" && added.some((id) => id !== awareness.clientID) && awareness.getLocalState()) {
      awareness.setLocalState(awareness.getLocalState());
    }
  });
  draw();
  return { draw };
}
