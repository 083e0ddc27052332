/*
 * Issue and comment text is written by anyone and read by the model. Markdown hides parts of it
 * from the people who review the issue on github.com (comments, alt text, link titles, hidden
 * attributes, invisible characters) while the model reads them all: an instruction hidden there
 * is seen by the agent and no maintainer. What a reader cannot see is removed.
 */

// Zero-width and format characters, soft hyphen, bidi embeddings/overrides/isolates, the
// Arabic letter mark, word joiners and invisible operators, BOM, and the tag block.
const INVISIBLE =
  /[\u00AD\u061C\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u206F\uFEFF\uFFF9-\uFFFB]|\uDB40[\uDC00-\uDC7F]/g;
// C0 and C1 controls other than tab, line feed and carriage return.
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what is being removed.
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]/g;

const HTML_COMMENT = /<!--[\s\S]*?(?:-->|$)/g;
// ![alt](src) keeps the image, drops the alt text.
const IMAGE_ALT = /!\[[^\]\n]{0,2000}\]\(/g;
// [text](url "title") and (url 'title') and (url (title)): the title shows only on hover.
const LINK_TITLE =
  /(\]\([^\s)]{0,2000})\s+(?:"[^"\n]{0,2000}"|'[^'\n]{0,2000}'|\([^)\n]{0,2000}\))\s*\)/g;
// Reference definitions: [id]: url "title".
const REFERENCE_TITLE = /^(\s{0,3}\[[^\]\n]+\]:\s*\S+)\s+(?:"[^"\n]*"|'[^'\n]*'|\([^)\n]*\))\s*$/gm;
// Attributes of raw HTML whose text a browser does not show.
const HIDDEN_ATTRIBUTE =
  /\s(?:alt|title|aria-[a-z-]+|data-[a-z0-9-]+|placeholder|hidden|style)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?/gi;
// An element a browser does not render, with its content (not nested in one of its own kind).
const HIDDEN_ELEMENT =
  /<([a-z][a-z0-9-]*)\b[^>]*?(?:\shidden\b|display\s*:\s*none|visibility\s*:\s*hidden)[^>]*>[\s\S]*?<\/\1\s*>/gi;
const HTML_TAG = /<[a-z][a-z0-9-]*\b[^>]*>/gi;
// Numeric character references would let hidden text be spelled out of visible characters.
const NUMERIC_ENTITY = /&#(x[0-9a-f]+|[0-9]+);?/gi;

function decodeEntity(whole: string, code: string): string {
  const value =
    code[0] === "x" || code[0] === "X" ? Number.parseInt(code.slice(1), 16) : Number(code);
  // Printable ASCII only: anything else stays as written, visible as the entity.
  return value >= 0x20 && value < 0x7f ? String.fromCharCode(value) : whole;
}

/** `text` with what github.com does not show a reader removed; see the note above. */
export function sanitizeUserText(text: string): string {
  let out = text.normalize("NFC");
  out = out.replace(NUMERIC_ENTITY, decodeEntity);
  out = out.replace(INVISIBLE, "").replace(CONTROL, "");
  // After decoding, so `&#60;!--` cannot spell an opener the rule would miss.
  out = out.replace(HTML_COMMENT, "");
  out = out.replace(HIDDEN_ELEMENT, "");
  out = out.replace(IMAGE_ALT, "![](");
  out = out.replace(LINK_TITLE, "$1)");
  out = out.replace(REFERENCE_TITLE, "$1");
  out = out.replace(HTML_TAG, (tag) => tag.replace(HIDDEN_ATTRIBUTE, ""));
  return out;
}
