// The editor's extensions: CodeMirror 6 without its own history (Yjs's undo manager,
// from y-codemirror.next, undoes one's own edits only), wrapped lines (no sideways
// scrolling on a phone), search, Markdown highlighting for .md files. Tab is left to
// move the focus out of the editor (no keyboard trap).
import { EditorState, Prec } from "@codemirror/state";
import {
  EditorView, keymap, lineNumbers, highlightActiveLineGutter, highlightSpecialChars, drawSelection,
  dropCursor, rectangularSelection, crosshairCursor, highlightActiveLine,
} from "@codemirror/view";
import { defaultKeymap } from "@codemirror/commands";
import { searchKeymap, highlightSelectionMatches } from "@codemirror/search";
import { indentOnInput, syntaxHighlighting, defaultHighlightStyle, bracketMatching } from "@codemirror/language";
import { markdownLanguage, markdownKeymap } from "@codemirror/lang-markdown";
import { yUndoManagerKeymap } from "y-codemirror.next";

export const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "0.95rem", backgroundColor: "#fff" },
  "&.cm-focused": { outline: "3px solid #f5b301", outlineOffset: "-3px" },  // inside: the frame clips
  ".cm-scroller": { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace", lineHeight: "1.5" },
  ".cm-content": { padding: "0.5rem 0" },
  ".cm-gutters": { backgroundColor: "#f5f7fa", color: "#5b6577", borderRight: "1px solid #e3e7ee" },
  ".cm-activeLine": { backgroundColor: "#eef5ff80" },
  ".cm-activeLineGutter": { backgroundColor: "#e3ecfa" },
  ".cm-ySelectionInfo": { fontFamily: "system-ui, sans-serif", fontSize: "0.75rem", opacity: "1" },
});

export function extensionsFor({ isMarkdown, label, phrases }) {
  return [
    lineNumbers(),
    highlightActiveLineGutter(),
    highlightSpecialChars(),
    drawSelection(),
    dropCursor(),
    EditorState.allowMultipleSelections.of(true),
    indentOnInput(),
    syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
    bracketMatching(),
    rectangularSelection(),
    crosshairCursor(),
    highlightActiveLine(),
    highlightSelectionMatches(),
    EditorView.lineWrapping,
    EditorState.phrases.of(phrases),
    EditorView.contentAttributes.of({ "aria-label": label }),
    keymap.of([...yUndoManagerKeymap, ...defaultKeymap, ...searchKeymap]),
    // GitHub-flavoured Markdown, Enter continuing lists and quotes; HTML inside it stays plain
    // text (its parsers would double the script's size).
    isMarkdown ? [markdownLanguage, Prec.high(keymap.of(markdownKeymap))] : [],
    theme,
  ];
}
