import { vocabularySources } from './error-vocabulary.js';
import { LEET, sanitizeText, skeleton } from './fact-safety.js';

/**
 * The allowlist for free text that has a technical shape (error messages): instead of looking for what an
 * instruction says (a denylist, which a new phrasing always beats), a message is admitted only when every
 * token of it is something an error message is made of:
 *   - a number, a size or duration (30000ms, 5MB), an address or port (10.0.3.17:443), a hex id or a uuid;
 *   - a URL without a query or fragment, an absolute or relative file path, a file name (main.js:1:17), a
 *     host name (api.example.com), an ARN;
 *   - an identifier (ECONNRESET, TypeError, s3:GetObject, users_email_key, cus_Q1w2E3r4): split at case
 *     changes, digits and separators, each part must itself be a vocabulary word or at most two letters;
 *   - a word of the vocabulary: the technical error vocabulary (error-vocabulary.ts) plus the words a
 *     deployment declares; compared folded (NFKC, the UTS #39 confusables skeleton, case, accents) and
 *     with simple English inflections removed (failed → fail, connections → connection).
 * Quotes and brackets around a token are ignored (quoted code is checked like any token); a token of
 * punctuation alone is allowed. A leetspeak word (us3r, 4dm1n) is read as the word it spells.
 * Any other word (a language the vocabulary does not have, a verb addressed to a model, a made-up word) makes
 * the message fall outside the allowlist.
 */

/** Lowercase, skeleton, lowercase again, no marks: one spelling for lookalike letters and accents. */
function fold(word: string): string {
  return skeleton(word.toLowerCase())
    .toLowerCase()
    .replace(/\p{M}+/gu, '')
    .normalize('NFC');
}

const undouble = (w: string) => (/([b-df-hj-np-tv-z])\1$/.test(w) ? w.slice(0, -1) : w);

/** The word and its forms without a regular English inflection (plural, past, gerund, final e). */
function stems(word: string): string[] {
  const out = new Set([word]);
  const add = (w: string) => {
    if (w.length >= 2) out.add(w);
  };
  if (word.endsWith('ies') && word.length > 4) add(`${word.slice(0, -3)}y`);
  if (word.endsWith('es') && word.length > 3) add(word.slice(0, -2));
  if (word.endsWith('s') && !word.endsWith('ss') && word.length > 2) add(word.slice(0, -1));
  if (word.endsWith('ied') && word.length > 4) add(`${word.slice(0, -3)}y`);
  if (word.endsWith('ed') && word.length > 3) {
    add(word.slice(0, -2));
    add(undouble(word.slice(0, -2)));
    add(word.slice(0, -1));
  }
  if (word.endsWith('ing') && word.length > 4) {
    add(word.slice(0, -3));
    add(undouble(word.slice(0, -3)));
    add(`${word.slice(0, -3)}e`);
  }
  if (word.endsWith('ly') && word.length > 4) add(word.slice(0, -2));
  return [...out];
}

/** Splits an identifier into its word parts: separators, case changes (TypeError, HTTPServer) and digits. */
function identifierParts(token: string): string[] {
  return token
    .replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2')
    .replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2')
    .split(/[^\p{L}\p{M}]+/u)
    .filter(Boolean);
}

export class Vocabulary {
  private readonly words = new Set<string>();

  constructor(texts: readonly string[]) {
    for (const text of texts) {
      for (const part of identifierParts(text)) for (const s of stems(fold(part))) this.words.add(s);
    }
  }

  get size(): number {
    return this.words.size;
  }

  /** Whether a word (any case or script lookalike, any regular inflection) is in the vocabulary. */
  has(word: string): boolean {
    return stems(fold(word)).some((s) => this.words.has(s));
  }
}

const NUMBER = /^[+-]?\d[\d.,:/_x-]*(ms|s|m|h|d|b|k|kb|mb|gb|tb|kib|mib|gib|px|th|st|nd|rd|%)?$/i;
const HEX = /^(0x)?[0-9a-f]*\d[0-9a-f]*$/i;
/** A prefixed random id (cus_Q1w2E3r4T5y6, pi_3Mtw…): a short prefix, then at least 8 letters and digits, 3+ digits. */
const PREFIXED_ID = /^[a-z]{2,5}_(?=(?:\D*\d){3})[A-Za-z0-9]{8,}$/;
const UUID_LIKE = /^[0-9a-f]{4,}(-[0-9a-f]{4,})+$/i;
const URL_NO_QUERY = /^[a-z][a-z0-9+.-]{1,15}:\/\/[^\s?#]+$/i;
const PATH = /^(~|\.{1,2})?\/[^\s?#]*$|^[a-z]:\\[^\s?#]*$/i;
/** File extensions of common file types (a file name of any words with one of these is a file name). */
const EXTENSIONS = [
  'js|mjs|cjs|jsx|ts|tsx|json|csv|tsv|pdf|png|jpe?g|gif|svg|webp|ico|txt|md|html?|css',
  'py|rb|go|java|kt|rs|c|h|cpp|cs|php|xml|ya?ml|toml|zip|gz|tar|log|sql|docx?|xlsx?|pptx?|mp[34]|wav|wasm|map|lock|env|sh',
].join('|');
const FILE_NAME = new RegExp(`^[\\w./@-]+\\.(${EXTENSIONS})(:\\d+){0,2}$`, 'i');
/** Host names under a country-code (two letters) or a common generic top-level domain. */
const HOST =
  /^([a-z0-9-]+\.)+([a-z]{2}|com|net|org|edu|gov|mil|int|info|biz|io|dev|app|cloud|local|internal|localhost|test|example|invalid)(:\d+)?$/i;
const ARN = /^arn:[a-z0-9-]+:[a-z0-9-]*:[a-z0-9-]*:\d{0,12}:\S+$/i;
/** Quotes, brackets and sentence punctuation around a token. */
const WRAPPING = /^[\s"'`“”‘’«»„()[\]{}<>,;:.!?…]+|[\s"'`“”‘’«»„()[\]{}<>,;:.!?…]+$/gu;
const PUNCTUATION_ONLY = /^[\p{P}\p{S}]+$/u;

export type TokenVerdict = { ok: true } | { ok: false; token: string };

/** Whether one token (a run without spaces) is of an allowed kind. */
export function allowedToken(raw: string, vocabulary: Vocabulary, extra?: Vocabulary): boolean {
  const token = raw.replace(WRAPPING, '');
  if (token === '' || PUNCTUATION_ONLY.test(token)) return true;
  if (NUMBER.test(token) || (HEX.test(token) && token.length >= 6) || UUID_LIKE.test(token)) return true;
  if (URL_NO_QUERY.test(token) || PATH.test(token) || ARN.test(token) || HOST.test(token)) return true;
  if (FILE_NAME.test(token)) return true;
  if (PREFIXED_ID.test(token)) return true;
  const known = (w: string) => vocabulary.has(w) || (extra?.has(w) ?? false);
  return token.split(/[_.:\\/$#=@-]+/).every((part) => {
    // Digits inside a word: leetspeak (us3r, 4dm1n) is read as the word it spells; an id (Q1w2E3r4) is not a word.
    if (/\p{L}\d+\p{L}/u.test(part) || /^\d+\p{L}{2,}\d/u.test(part)) {
      const spelled = part.replace(/[0-9@$]/g, (c) => LEET[c] ?? c);
      if (/^\p{L}{3,}$/u.test(spelled) && !HEX.test(part)) return known(spelled);
    }
    return identifierParts(part).every((word) => [...word].length <= 2 || known(word));
  });
}

/**
 * Checks a whole text against the allowlist: every whitespace-separated token must be allowed. The text
 * is NFKC-normalised and cleaned of invisible characters first; words are compared by their skeleton.
 */
export function checkAllowlisted(text: string, vocabulary: Vocabulary, extra?: Vocabulary): TokenVerdict {
  for (const token of sanitizeText(text).text.split(/\s+/)) {
    if (!allowedToken(token, vocabulary, extra)) return { ok: false, token };
  }
  return { ok: true };
}

let technical: Vocabulary | undefined;

/** The technical error vocabulary (built once per cold start from error-vocabulary.ts). */
export function technicalErrorVocabulary(): Vocabulary {
  technical ??= new Vocabulary(vocabularySources());
  return technical;
}
