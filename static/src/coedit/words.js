// The editor page's words, translated by the portal: nothing is written in JS.
// Sentences come as data- attributes of #coedit (data-say-<key>); CodeMirror's own
// phrases (search panel, screen-reader announcements) as <span data-phrase="..."> in
// <template id="coedit-phrases">.

export function wordsOf(root) {
  return (key, values) => {
    const text = root.getAttribute(`data-say-${key}`) || "";
    return Object.entries(values || {}).reduce(
      (said, [name, value]) => said.split(`%(${name})s`).join(String(value)), text);
  };
}

export function phrasesOf(template) {
  const phrases = {};
  if (!template) return phrases;
  template.content.querySelectorAll("[data-phrase]").forEach((item) => {
    phrases[item.dataset.phrase] = item.textContent;
  });
  return phrases;
}
