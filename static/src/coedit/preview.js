// The Markdown preview beside the editor: marked, then DOMPurify, a moment after typing stops.
// HTML written into the Markdown is shown as text, never parsed: the preview cannot run,
// load or submit anything, and the browser never sees an inline handler to refuse.
import { Marked } from "marked";
import DOMPurify from "dompurify";

const DELAY_MS = 150;
const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ESCAPES[c]);

// An image shows its description: it would be fetched from elsewhere (the viewer drops images too).
const markdown = new Marked({ gfm: true, async: false, renderer: {
  html: ({ text }) => escapeHtml(text),
  image: ({ text }) => escapeHtml(text),
} });
// What marked itself makes is purified too (javascript: links, odd URLs).
const PURIFY = { FORBID_TAGS: ["img", "style", "form", "input", "button"], FORBID_ATTR: ["style", "srcset"] };

DOMPurify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A" && node.hasAttribute("href")) {  // a link opens beside the editor, never in its place
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer nofollow");
  }
});

export function render(box, text) {
  box.innerHTML = DOMPurify.sanitize(markdown.parse(text), PURIFY);
}

export function previewOf(box, ytext) {
  let timer = null;
  const draw = () => { timer = null; render(box, ytext.toString()); };
  ytext.observe(() => {
    if (timer === null) timer = setTimeout(draw, DELAY_MS);
  });
  draw();
  return { draw };
}
