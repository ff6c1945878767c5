// The portal's co-editor (templates/collab/editor.html): one Yjs document per file,
// shared through the portal's websocket server (y-websocket protocol), edited in
// CodeMirror 6; presence, remote cursors, Markdown preview, connection status.
// Bundled by esbuild into static/vendor/coedit/editor.js (make static/vendor/.built).
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import { yCollab } from "y-codemirror.next";
import { EditorState, Compartment } from "@codemirror/state";
import { EditorView } from "@codemirror/view";

import { wordsOf, phrasesOf } from "./words.js";
import { extensionsFor } from "./setup.js";
import { previewOf } from "./preview.js";
import { presenceOf } from "./presence.js";
import { connectionOf, guardUnsent } from "./connection.js";

function readOnlyExtensions(readOnly) {
  // A reader's editor still takes the focus (to scroll and select with the keyboard).
  return readOnly
    ? [EditorState.readOnly.of(true), EditorView.editable.of(false), EditorView.contentAttributes.of({ tabindex: "0" })]
    : [];
}

function start() {
  const root = document.getElementById("coedit");
  const configBlock = document.getElementById("coedit-config");
  if (!root || !configBlock) return;
  const cfg = JSON.parse(configBlock.textContent);
  const say = wordsOf(root);

  const doc = new Y.Doc();
  const text = doc.getText("content");
  // Every update goes through the server (which checks access), never tab to tab.
  const provider = new WebsocketProvider(cfg.ws_url, cfg.room, doc, { params: { ticket: cfg.ticket }, disableBc: true });
  const readOnly = !cfg.can_edit;
  const user = cfg.user || {};
  provider.awareness.setLocalStateField("user", {
    name: user.name, color: user.color, colorLight: user.color_light, readOnly,
  });

  const mode = new Compartment();
  const view = new EditorView({
    parent: document.getElementById("coedit-editor"),
    state: EditorState.create({
      doc: text.toString(),
      extensions: [
        extensionsFor({
          isMarkdown: root.dataset.markdown === "1",
          label: root.dataset.editorLabel || "",
          phrases: phrasesOf(document.getElementById("coedit-phrases")),
        }),
        yCollab(text, provider.awareness, { undoManager: new Y.UndoManager(text) }),
        mode.of(readOnlyExtensions(readOnly)),
      ],
    }),
  });

  const preview = document.getElementById("coedit-preview");
  if (preview) previewOf(preview, text);
  presenceOf(document.getElementById("coedit-people"), provider.awareness, say);
  connectionOf(provider, {
    status: document.getElementById("coedit-status"),
    alert: document.getElementById("coedit-alert"),
    say,
    // Nothing typed from now on could reach the others: the editor stops taking it.
    onClosed: () => view.dispatch({ effects: mode.reconfigure(readOnlyExtensions(true)) }),
  });
  guardUnsent(doc, provider);
  window.addEventListener("pagehide", () => provider.awareness.setLocalState(null));
  window.coedit = { doc, provider, view };
}

start();
