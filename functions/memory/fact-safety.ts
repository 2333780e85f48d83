import type { Fact } from '../shared/ports.js';

/**
 * Memory poisoning defences (OWASP LLM01/LLM04): a fact is text a user or an event put there, so it is
 * untrusted forever after. Values are cleaned before they are stored (invisible characters removed,
 * instruction-like text rejected) and rendered into prompts only as quoted JSON data inside a block the
 * value cannot close. No filter stops every injection: the prompt treats the block as data, and code,
 * not the model, decides what a fact can do (nothing: facts never grant access).
 */

/**
 * Characters that render as nothing but a model still reads: Unicode tag characters (U+E0000–U+E007F,
 * "ASCII smuggling"), zero-width and joiner characters, bidi embedding/override/isolate controls, the
 * soft hyphen and every other format character (\p{Cf} covers all of those), variation selectors
 * (which can also carry hidden bytes), and control characters other than whitespace.
 */
const INVISIBLE = /[\p{Cf}\p{Cc}\u{E0000}-\u{E007F}]|\p{Variation_Selector}/gu;
const TAG_ASCII = /[\u{E0020}-\u{E007E}]/gu;
const LINE_BREAKS = /[\r\n\t\u2028\u2029\u0085\v\f]+/g;

/** Patterns of text that addresses a model instead of describing a user (checked case-insensitively after NFKC). */
export const INJECTION_PATTERNS: readonly RegExp[] = [
  /\b(ignore|disregard|forget|override|bypass)\b.{0,40}\b(instructions?|rules|prompts?|guidelines|directions|polic(y|ies)|context)\b/i,
  /\b(ignore|disregard|forget)\s+(all|everything|above|previous|prior|that|this)\b/i,
  /\bdisregard\b/i,
  /\bsystem\s*prompt\b/i,
  /\byou\s+are\s+now\b/i,
  /\bfrom\s+now\s+on\b/i,
  /\b(new|updated|real|actual)\s+(instructions?|rules|system\s+message)\b/i,
  /\b(developer|system|previous|prior|above|original|hidden|initial)\s+(instructions?|prompt|message|rules)\b/i,
  /\b(follow|obey)\s+(only\s+)?(me|mine|my\s+(instructions?|rules|orders)|these|the\s+following)\b/i,
  /\bpretend\s+(to\s+be|you\s+are)\b/i,
  /\bact\s+as\s+(the\s+|a\s+|an\s+)?(system|admin|administrator|developer|root|unrestricted|unfiltered|jailbroken|if)\b/i,
  /\b(reveal|print|show|repeat|output|leak)\b.{0,30}\b(prompt|instructions|configuration|hidden)\b/i,
  /\bjailbreak/i,
  // role markers and chat-template tokens
  /\b(system|assistant|human|developer)\s*:/i,
  /^\s*user\s*:/i,
  /<\/|<\||\|>|<!--|<<\s*sys\s*>>|\[\/?inst\]/i,
  /<\s*\/?\s*(system|assistant|user|instructions?|user_facts|im_start|im_end)\b/i,
  /```/,
  /\{\{|\}\}/,
  // links that run code
  /\b(javascript|vbscript)\s*:/i,
  /\bdata\s*:\s*[a-z]+\/[a-z0-9.+-]+\s*[;,]/i,
];

export interface SanitizedValue {
  /** The text with invisible characters removed, line breaks and runs of spaces collapsed, NFKC-normalised. */
  text: string;
  /** How many invisible characters were removed. */
  removed: number;
}

/** Removes invisible Unicode (tags, zero-width, bidi, other format and control characters) and flattens whitespace. */
export function sanitizeText(raw: string): SanitizedValue {
  const flattened = raw.normalize('NFKC').replace(LINE_BREAKS, ' ');
  let removed = 0;
  const visible = flattened.replace(INVISIBLE, () => {
    removed += 1;
    return '';
  });
  return { text: visible.replace(/ {2,}/g, ' ').trim(), removed };
}

/** The hidden ASCII a run of tag characters spells (what a model would read and a human would not see). */
function revealTags(raw: string): string {
  return raw.replace(TAG_ASCII, (c) => String.fromCharCode((c.codePointAt(0) ?? 0) - 0xe0000));
}

/** The first injection pattern a text matches, or undefined; checks the visible text and any tag-smuggled text. */
export function findInjection(raw: string): RegExp | undefined {
  const visible = sanitizeText(raw).text;
  const revealed = sanitizeText(revealTags(raw)).text;
  return INJECTION_PATTERNS.find((p) => p.test(visible) || p.test(revealed));
}

export type FactValueCheck =
  | { ok: true; value: string; removedInvisible: number }
  | { ok: false; reason: 'empty' | 'too-long' | 'injection'; detail?: string };

/**
 * Checks a candidate fact value: invisible characters are stripped, then a value that is empty, longer
 * than maxLength, or still reads as instructions is rejected (never stored, even partly).
 */
export function checkFactValue(raw: string, maxLength: number): FactValueCheck {
  const { text, removed } = sanitizeText(raw);
  if (text === '') return { ok: false, reason: 'empty' };
  if (text.length > maxLength) return { ok: false, reason: 'too-long', detail: `${text.length} > ${maxLength}` };
  const pattern = findInjection(raw);
  if (pattern) return { ok: false, reason: 'injection', detail: pattern.source.slice(0, 60) };
  return { ok: true, value: text, removedInvisible: removed };
}

/** The tag that opens the facts block in a prompt; its closing tag can never appear inside the block. */
export const FACTS_BLOCK_TAG = 'user_facts';

/** JSON with every `<`, `>` and `&` (and the JS line separators) as \u escapes: still valid JSON, never markup. */
function quoteJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * Renders facts for a prompt as quoted data: a `<user_facts>` block with one JSON object per line
 * (attribute, value, confidence, observedAt). Values are cleaned of invisible characters again (facts
 * stored before a rule change) and `<` is escaped, so no value can close the block or open another one.
 */
export function renderFactsBlock(
  facts: readonly Pick<Fact, 'attribute' | 'value' | 'confidence' | 'observedAt'>[],
): string {
  const lines = facts.map((f) =>
    quoteJson({
      attribute: sanitizeText(f.attribute).text,
      value: sanitizeText(f.value).text,
      confidence: f.confidence,
      observedAt: f.observedAt,
    }),
  );
  return [`<${FACTS_BLOCK_TAG}>`, ...lines, `</${FACTS_BLOCK_TAG}>`].join('\n');
}
