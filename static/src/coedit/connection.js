// The connection to the co-editing server as the page tells it: #coedit-status
// (data-state connecting | connected | offline | closed) and, when the server ends
// the session for good, a message in #coedit-alert.
//
// Server close codes: 4400 the ticket is bad or expired, 4403 access to the file was
// lost, 4404 the file is gone, 4413 the document would pass the editor's size limit, 4429 too
// many windows on it: no reconnecting (y-websocket stops itself on 44xx; the
// provider is disconnected too), the editor turns read-only. 4409 the caller's mode
// changed (became read-only, a lock was taken or removed): the page is loaded again,
// which asks the portal for the new mode and a new ticket.

const FINAL = { 4400: "expired", 4403: "forbidden", 4404: "gone", 4413: "too-large", 4429: "too-many" };
const RELOAD = 4409;
const FIRST_TRIES = 2;  // failed connections before a page that never connected says it is offline

export function connectionOf(provider, { status, alert, say, onClosed }) {
  let state = "";
  let wasOnline = false;
  const show = (next) => {
    if (state === "closed" || state === next) return;
    state = next;
    status.dataset.state = next;
    status.textContent = say(`state-${next}`);
  };
  const update = () => {
    if (provider.wsconnected && provider.synced) {
      wasOnline = true;
      show("connected");
    } else if (provider.wsconnected || (!wasOnline && provider.wsUnsuccessfulReconnects < FIRST_TRIES)) {
      show("connecting");  // the first tries, or connected and not yet in step with the server
    } else {
      show("offline");     // lost, or never reached: edits wait here until it is back
    }
  };
  provider.on("status", update);
  provider.on("sync", update);
  provider.on("connection-close", (event) => {
    if (!event) return;  // closed by the page itself
    setTimeout(update);  // after the provider has counted the failed try
    if (event.code === RELOAD) {
      provider.shouldConnect = false;
      show("connecting");
      window.location.reload();
      return;
    }
    const reason = FINAL[event.code] || (event.code >= 4400 && event.code < 4500 ? "refused" : "");
    if (!reason) return;
    provider.shouldConnect = false;
    provider.disconnect();
    show("closed");
    status.dataset.code = String(event.code);
    alert.textContent = say(`closed-${reason}`, { code: event.code });
    alert.hidden = false;
    onClosed(event.code);
  });
  update();
}

// Leaving the page while typed changes have not reached the server (offline) would lose
// them: the browser asks first (in its own words).
export function guardUnsent(doc, provider) {
  let unsent = false;
  doc.on("update", (_update, origin) => {
    if (origin !== provider && !(provider.wsconnected && provider.synced)) unsent = true;
  });
  provider.on("sync", (synced) => { if (synced) unsent = false; });
  window.addEventListener("beforeunload", (event) => {
    if (!unsent || !provider.shouldConnect) return;
    event.preventDefault();
    event.returnValue = "";
  });
}
