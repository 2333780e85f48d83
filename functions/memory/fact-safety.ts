import unhomoglyph from 'unhomoglyph';
import type { Fact } from '../shared/ports.js';
import { type Concept, LEXICON } from './injection-lexicon.js';

/**
 * Memory poisoning defences (OWASP LLM01/LLM04): a fact is text a user or an event put there, so it is
 * untrusted forever after. Most values are typed by config/memory-rules.yaml (enum, number, boolean,
 * pattern) and never reach this screen; free text (error messages, facts a model extracts) is screened
 * here before it is stored (hidden characters, markup, encodings, lookalike scripts, instruction shapes) and rendered into prompts only as quoted JSON data inside a block the
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
/** Characters whose only use in a short fact is hiding text: tags, bidi overrides/isolates, supplementary variation selectors. */
const HIDING = /[\u{E0000}-\u{E007F}\u202A-\u202E\u2066-\u2069]|[\u{E0100}-\u{E01EF}]/u;
const TAG_ASCII = /[\u{E0020}-\u{E007E}]/gu;
const LINE_BREAKS = /[\r\n\t\u2028\u2029\u0085\v\f]+/g;

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

// ---- folding: one spelling for homoglyphs, leetspeak, case-joined and letter-spaced words ------------

/** UTS #39 skeleton: NFD, then every confusable character replaced by its prototype, then NFD again. */
export function skeleton(text: string): string {
  return unhomoglyph(text.normalize('NFD')).normalize('NFD');
}

/** Leetspeak digits and symbols inside a word (1gn0r3 → ignore, @ll → all, $y$tem → system). */
export const LEET: Readonly<Record<string, string>> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '6': 'g',
  '7': 't',
  '8': 'b',
  '9': 'g',
  '@': 'a',
  $: 's',
  '!': 'i',
  '|': 'i',
  '+': 't',
  '€': 'e',
  '£': 'l',
};
const LEET_CHARS = /[0-9@$!|+€£]/g;

/** Scripts written without spaces between words, or whose words take prefixes: matched as substrings. */
const SUBSTRING_SCRIPTS =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\p{Script=Arabic}\p{Script=Thai}\p{Script=Devanagari}\p{Script=Hebrew}]/u;

/** Lowercase, skeleton, lowercase again, marks removed: the form every comparison is made in. */
function fold(text: string): string {
  return skeleton(text.toLowerCase())
    .toLowerCase()
    .replace(/\p{M}+/gu, '')
    .normalize('NFC');
}

/** Splits camelCase and PascalCase words (ignoreAllRules → ignore All Rules, HTTPServer → HTTP Server). */
function splitCase(text: string): string {
  return text.replace(/(\p{Ll})(\p{Lu})/gu, '$1 $2').replace(/(\p{Lu})(\p{Lu}\p{Ll})/gu, '$1 $2');
}

/**
 * Folded words of a text: letters only; a run of three or more single letters (i g n o r e) is one word.
 * Runs are joined before folding (the skeleton spells some letters with two: m → rn).
 */
function words(text: string): string[] {
  const tokens = text
    .toLowerCase()
    .split(/[^\p{L}\p{M}]+/u)
    .filter(Boolean);
  const out: string[] = [];
  let run = '';
  const flush = () => {
    if ([...run].length >= 3) out.push(run);
    else out.push(...run);
    run = '';
  };
  for (const token of tokens) {
    if ([...token.replace(/\p{M}/gu, '')].length === 1 && !SUBSTRING_SCRIPTS.test(token)) run += token;
    else {
      flush();
      out.push(token);
    }
  }
  flush();
  return out.map((w) => fold(w).replace(/[^\p{L}]+/gu, '')).filter(Boolean);
}

/** The text with leetspeak undone, when that changes it (1gn0r3 → ignore). */
function unleetViews(text: string): string[] {
  const unleet = text
    .split(/(\s+)/)
    .map((w) => w.replace(LEET_CHARS, (c) => LEET[c] ?? c))
    .join('');
  return unleet === text ? [] : [unleet];
}

/** The folded views of a text that concepts are looked up in: as written, and with leetspeak undone. */
function foldedViews(text: string): string[][] {
  const visible = splitCase(sanitizeText(text).text);
  return [visible, ...unleetViews(visible)].map(words);
}

/** Long tokens are joined words (ignoreallpreviousinstructions, a letter-spaced phrase): searched inside. */
const JOINED_TOKEN_CHARS = 12;
const JOINED_ENTRY_CHARS = 4;

/** The folded words of a text in all its views (for measuring how much of an instruction survived). */
export function foldedWords(text: string): Set<string> {
  return new Set(foldedViews(text).flat());
}

interface Entry {
  concept: Concept;
  /** The folded entry (single spaces between its words). */
  text: string;
  /** Whole word(s) only, not a prefix. */
  whole: boolean;
  substring: boolean;
  /** The entry without spaces, when long enough to be searched inside joined words. */
  compact?: string;
}

const ENTRIES: readonly Entry[] = Object.entries(LEXICON).flatMap(([concept, list]) =>
  list.map((raw) => {
    const whole = raw.startsWith('=');
    const text = words(whole ? raw.slice(1) : raw).join(' ');
    const compact = text.replace(/ /g, '');
    return {
      concept: concept as Concept,
      text,
      whole,
      substring: SUBSTRING_SCRIPTS.test(raw),
      ...(compact.length >= JOINED_ENTRY_CHARS ? { compact } : {}),
    };
  }),
);

/** The entries of the lexicon present in a text, in any of its folded views, by concept. */
function matchedEntries(text: string, stopAtFirst: boolean): Map<Concept, Set<string>> {
  const found = new Map<Concept, Set<string>>();
  for (const view of foldedViews(text)) {
    const line = ` ${view.join(' ')} `;
    const joined = view.filter((w) => w.length >= JOINED_TOKEN_CHARS);
    for (const entry of ENTRIES) {
      if ((stopAtFirst && found.has(entry.concept)) || entry.text === '') continue;
      const compact = entry.compact;
      const hit = entry.substring
        ? line.includes(entry.text)
        : line.includes(` ${entry.text}${entry.whole ? ' ' : ''}`) ||
          (compact !== undefined && joined.some((w) => w.includes(compact)));
      if (hit) found.set(entry.concept, (found.get(entry.concept) ?? new Set()).add(entry.text));
    }
  }
  return found;
}

/** The concepts of the lexicon present in a text, in any of its folded views. */
export function conceptsOf(text: string): Set<Concept> {
  return new Set(matchedEntries(text, true).keys());
}

/**
 * The strict screen's categories: what a text says about a model's behaviour. Text for which
 * instructions are rare (error messages) is rejected when it touches two of them (a weak word counts
 * half), unless they are only output and the model ("the AI model did not respond in time").
 */
const CATEGORIES: Readonly<Record<string, readonly Concept[]>> = {
  output: ['reply', 'conversation', 'directive', 'style'],
  people: ['served', 'people'],
  authority: ['privilege', 'permission', 'grant', 'authority'],
  scope: ['always', 'scope'],
  controls: ['instructions', 'meta', 'unbound', 'switch', 'override', 'safety', 'role'],
  model: ['model'],
  exfiltration: ['exfiltrate', 'secret'],
};
/** Words common in ordinary error messages: half a category. */
const WEAK = new Set(
  [
    'message',
    'messages',
    'access',
    'answer',
    'respond',
    'response',
    'reply',
    'customer',
    'customers',
    'the user',
    'this account',
    'permission',
    'rights',
    'allowed',
    'credit',
    'disable',
    'polic',
    'rule',
    'filter',
    'internal',
    'guidance',
    'compliance',
    'dashboard',
    'verification',
    'refund',
    'fees',
    'print',
    'output',
    'talk',
    'chat',
    'tell',
    'anyone',
    'everyone',
    'admin',
    'refuse',
    'translate',
    'approved',
  ].map((w) => words(w).join(' ')),
);

function strictShape(text: string): string | undefined {
  const matched = matchedEntries(text, false);
  const touched = Object.entries(CATEGORIES)
    .map(([category, concepts]) => {
      const hits = concepts.flatMap((c) => [...(matched.get(c) ?? [])]);
      return { category, score: hits.length === 0 ? 0 : hits.some((h) => !WEAK.has(h)) ? 1 : 0.5 };
    })
    .filter((c) => c.score > 0);
  const score = touched.reduce((sum, c) => sum + c.score, 0);
  const beyondOutput = touched.some((c) => c.category !== 'output' && c.category !== 'model');
  return score >= 2 && beyondOutput ? `behaviour (${touched.map((c) => c.category).join(', ')})` : undefined;
}

/**
 * Which combinations of concepts make a text an instruction to a model rather than a statement about a
 * user. One concept alone (an "ignored" row, "you must sign in", an administrator's job title) is never
 * enough, except the ones that only ever address a model (role changes, talk of its system prompt).
 */
const INSTRUCTION_SHAPES: readonly { name: string; all: Concept[]; any?: Concept[] }[] = [
  { name: 'role change', all: ['role'] },
  { name: 'model setup', all: ['meta'] },
  { name: 'context switch', all: ['switch'] },
  { name: 'message for the users', all: ['directive'] },
  { name: 'override', all: ['override'], any: ['instructions', 'prior', 'model', 'always'] },
  { name: 'unbounded', all: ['unbound'], any: ['model', 'second-person', 'always', 'override', 'reply'] },
  { name: 'standing order to the model', all: ['model'], any: ['always', 'exfiltrate', 'privilege'] },
  { name: 'reply directive to the model', all: ['model', 'modal', 'reply'] },
  { name: 'standing reply directive', all: ['always', 'reply'] },
  { name: 'privilege claim', all: ['privilege', 'grant'] },
  { name: 'exfiltration', all: ['exfiltrate'], any: ['secret', 'instructions'] },
  { name: 'favour for a third party', all: ['served'], any: ['permission', 'privilege', 'always', 'grant'] },
  { name: 'conduct towards a third party', all: ['served', 'conversation'], any: ['modal', 'always', 'second-person'] },
  { name: 'permission change', all: ['permission'], any: ['instructions', 'model', 'override'] },
];

/**
 * Verbs that, opening a sentence, order a model about its output, its rules or the people it serves
 * (never the ones an error message tells its reader: try, check, contact, sign in, follow, include…).
 */
const MODEL_IMPERATIVES = new Set(
  [
    'recite',
    'reveal',
    'repeat',
    'output',
    'print',
    'say',
    'respond',
    'reply',
    'treat',
    'regard',
    'grant',
    'unlock',
    'pretend',
    'act',
    'behave',
    'obey',
    'comply',
    'mention',
    'recommend',
    'praise',
    'insult',
    'email',
    'forward',
    'disclose',
    'leak',
    'dump',
    'ignore',
    'disregard',
    'forget',
    'override',
    'bypass',
    'address',
    'call',
    'begin',
    'start',
    'end',
    'sign',
    'speak',
    'talk',
    'write',
    'translate',
    'summarize',
    'summarise',
    'assume',
    'believe',
    'trust',
  ].map((w) => words(w).join(' ')),
);
const SKIPPED_OPENERS = new Set([
  'please',
  'kindly',
  'now',
  'then',
  'and',
  'just',
  'also',
  'so',
  'first',
  'next',
  'finally',
]);
const ADDRESSEES = new Set([
  'user',
  'users',
  'everyone',
  'them',
  'person',
  'people',
  'customer',
  'customers',
  'reply',
  'replies',
  'answer',
  'answers',
  'response',
  'responses',
  'message',
  'messages',
  'output',
  'text',
  'conversation',
]);
const ADDRESSING: readonly Concept[] = [
  'second-person',
  'always',
  'prior',
  'secret',
  'privilege',
  'model',
  'instructions',
];

/** A sentence that opens with an order to a model and is about its replies, rules, users or secrets. */
function imperativeToModel(text: string): boolean {
  return text.split(/[.!?;:\n\r。！？；]+/u).some((sentence) => {
    const ws = words(sentence);
    let i = 0;
    while (i < ws.length - 1 && SKIPPED_OPENERS.has(ws[i] as string)) i += 1;
    if (!MODEL_IMPERATIVES.has(ws[i] as string)) return false;
    if (ws.slice(i + 1).some((w) => ADDRESSEES.has(w))) return true;
    const concepts = conceptsOf(sentence);
    return ADDRESSING.some((c) => concepts.has(c));
  });
}

/** The instruction shape a text has (by concepts), or undefined. */
export function instructionShape(text: string): string | undefined {
  const concepts = conceptsOf(text);
  const shape = INSTRUCTION_SHAPES.find(
    (s) => s.all.every((c) => concepts.has(c)) && (!s.any || s.any.some((c) => concepts.has(c))),
  )?.name;
  if (shape) return shape;
  for (const view of [text, ...unleetViews(text)]) if (imperativeToModel(view)) return 'imperative to a model';
  return undefined;
}

// ---- structure: markup, templates, role markers, encoded payloads ----------------------------------

/** Markup a fact never needs: HTML/XML tags and entities, markdown headings, links, emphasis, rules, fences, templates. */
const MARKUP: readonly RegExp[] = [
  /<\s*\/?\s*[\p{L}!?]/u,
  /&(#x?[0-9a-f]+|[a-z]{2,8});/i,
  /(^|[\r\n])[ \t]{0,3}#{1,6}[ \t]+\S/,
  /#{2,}/,
  /!?\[[^\]\n]*\]\s*\([^)\n]*\)/,
  /\*\*\S[^\n]*?\*\*/,
  /(^|\s)(-{3,}|={3,}|\*{3,}|_{3,}|~{3,})(\s|$)/,
  /```|~~~/,
  /\{\{|\}\}|\{%|%\}|\$\{/,
  /<\||\|>|\[\/?inst\]|<<\s*sys\s*>>/i,
  // a chat message spelled as data: {"role": "system", …}, role=system
  /["']?role["']?\s*[:=]\s*["']?(system|developer|assistant|tool)\b/i,
  /\b(javascript|vbscript)\s*:/i,
  /\bdata\s*:\s*[a-z]+\/[a-z0-9.+-]+\s*[;,]/i,
];

/** "system:", "[assistant]", "User >" … at the start of the text or of a sentence, in any language. */
const ROLE_MARKER =
  /(^|[\r\n.;!?]\s*)[[(]?\s*(system|assistant|user|human|developer|ai|model|bot|sys|admin|root|instructions?|sistema|systeme|asistente|assistant|usuario|utilisateur|benutzer|nutzer|utente|usuario|система|ассистент|пользователь|系统|系統|助手|用户|システム|ユーザー|アシスタント|시스템|사용자|어시스턴트|النظام|المستخدم|सिस्टम|उपयोगकर्ता)\s*[\])]?\s*(:|：|>|-{1,2}>)/iu;

/** A long base64 run, and percent-encoding: text a model can decode. */
const BASE64_RUN = /[A-Za-z0-9+/_-]{20,}={0,2}/g;
const PERCENT_ESCAPE = /%[0-9a-f]{2}/gi;

/** Decodes a base64 run; the text when it is mostly printable (an encoded message, not an id or a hash). */
function decodedText(run: string): string | undefined {
  const text = Buffer.from(run.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  const printable = text.match(/[\p{L}\p{N}\p{P}\p{Zs}]/gu)?.length ?? 0;
  return text.length >= 12 && printable / text.length > 0.9 && /\p{L}{3,}\s/u.test(text) ? text : undefined;
}

function percentDecoded(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Words mixing scripts an attacker swaps letters between (Latin, Cyrillic, Greek, Armenian, Cherokee): UTS #39 mixed-script detection. */
const LOOKALIKE_SCRIPTS = [
  /\p{Script=Latin}/u,
  /\p{Script=Cyrillic}/u,
  /\p{Script=Greek}/u,
  /\p{Script=Armenian}/u,
  /\p{Script=Cherokee}/u,
];
function mixedScriptWord(text: string): boolean {
  return text
    .split(/[^\p{L}\p{M}]+/u)
    .some((word) => LOOKALIKE_SCRIPTS.filter((script) => script.test(word)).length > 1);
}

export type ScreenReason = 'hidden-text' | 'markup' | 'encoded' | 'mixed-script' | 'injection';

export interface ScreenOptions {
  /**
   * Also reject text touching two categories of model behaviour (output, people, authority, scope,
   * safety controls, the model, exfiltration): for text that never needs them, such as error messages.
   */
  strict?: boolean;
}

export interface ScreenVerdict {
  reason: ScreenReason;
  detail: string;
}

/**
 * Screens free text before it can become a fact: hidden characters, markup and encodings, words mixing
 * lookalike scripts, and text shaped like an instruction in any of its folded spellings (homoglyphs,
 * leetspeak, letter spacing, case-joined words, tag-smuggled ASCII, percent or base64 encoding).
 * Undefined when the text may be stored.
 */
export function screenText(raw: string, options: ScreenOptions = {}): ScreenVerdict | undefined {
  if (HIDING.test(raw)) return { reason: 'hidden-text', detail: 'tag, bidi override or variation-selector characters' };
  const { text } = sanitizeText(raw);
  const markup = MARKUP.find((p) => p.test(raw.normalize('NFKC')));
  if (markup) return { reason: 'markup', detail: markup.source.slice(0, 40) };
  if (ROLE_MARKER.test(skeleton(text.toLowerCase()).normalize('NFC')) || ROLE_MARKER.test(text)) {
    return { reason: 'markup', detail: 'role marker' };
  }
  const encoded = [...text.matchAll(BASE64_RUN)].map((m) => decodedText(m[0])).find((t) => t !== undefined);
  if (encoded !== undefined) return { reason: 'encoded', detail: 'base64 text' };
  if ((text.match(PERCENT_ESCAPE)?.length ?? 0) >= 2 && percentDecoded(text) !== text) {
    const inner = screenText(percentDecoded(text), options);
    if (inner) return { reason: 'encoded', detail: `percent-encoded ${inner.reason}` };
  }
  if (mixedScriptWord(text)) return { reason: 'mixed-script', detail: 'a word mixes lookalike scripts' };
  const shape = instructionShape(text) ?? (options.strict ? strictShape(text) : undefined);
  if (shape) return { reason: 'injection', detail: shape };
  return undefined;
}

/** The screen's verdict on a text and on anything it hides in tag characters; undefined when it may be stored. */
export function findInjection(raw: string, options: ScreenOptions = {}): ScreenVerdict | undefined {
  return screenText(raw, options) ?? screenText(revealTags(raw).replace(/[\u{E0000}-\u{E007F}]/gu, ''), options);
}

export type FactValueCheck =
  | { ok: true; value: string; removedInvisible: number }
  | { ok: false; reason: 'empty' | 'too-long' | ScreenReason; detail?: string };

/**
 * Checks a candidate free-text fact value: the whole raw text is screened first (so nothing is cut or
 * cleaned before it is judged), then invisible characters are removed, and a value that is empty or,
 * unless `shorten` is set, longer than maxLength is rejected. With `shorten`, a safe long value is cut
 * to maxLength (evidence text such as an error message). A rejected value is never stored, even partly.
 */
export function checkFactValue(
  raw: string,
  maxLength: number,
  options: { shorten?: boolean } & ScreenOptions = {},
): FactValueCheck {
  const verdict = findInjection(raw, options);
  if (verdict) return { ok: false, ...verdict };
  const { text, removed } = sanitizeText(raw);
  if (text === '') return { ok: false, reason: 'empty' };
  if (text.length <= maxLength) return { ok: true, value: text, removedInvisible: removed };
  if (!options.shorten) return { ok: false, reason: 'too-long', detail: `${text.length} > ${maxLength}` };
  // ASCII dots: a single ellipsis character would become three under NFKC.
  const cut = `${[...text]
    .slice(0, maxLength - 3)
    .join('')
    .trimEnd()}...`;
  return { ok: true, value: cut, removedInvisible: removed };
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
