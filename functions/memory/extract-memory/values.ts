import { z } from 'zod';
import { checkFactValue, findInjection, type ScreenReason, sanitizeText } from '../fact-safety.js';
import { checkAllowlisted, technicalErrorVocabulary, Vocabulary } from '../message-allowlist.js';
import { MAX_VALUE_CHARS } from './schemas.js';

/**
 * The value types config/memory-rules.yaml declares for attributes (and for the properties a UserEvent
 * template names). Only `text` is free text; the other types admit a closed set of spellings, so no
 * instruction can be stored through them whatever its language, script or encoding.
 */

const regex = z.string().refine((source) => {
  try {
    new RegExp(source, 'u');
    return true;
  } catch {
    return false;
  }
}, 'is not a valid regular expression');

const EnumValue = z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,39}$/, 'an enum value is lowercase a-z, 0-9, _ . -');
const Length = z.number().int().positive().max(MAX_VALUE_CHARS);

export const ValueSpecSchema = z.discriminatedUnion('type', [
  /** One of the declared values (matched ignoring case, spaces and hyphens; stored as declared). */
  z.strictObject({ type: z.literal('enum'), values: z.array(EnumValue).min(1) }),
  /** A finite number between min and max (a JSON number or its decimal text); stored as its decimal text. */
  z
    .strictObject({ type: z.literal('number'), min: z.number(), max: z.number(), integer: z.boolean().default(false) })
    .refine((n) => n.min <= n.max, 'min must not exceed max'),
  /** true or false (a JSON boolean or the words true/false). */
  z.strictObject({ type: z.literal('boolean') }),
  /**
   * A language: a BCP 47 tag the runtime accepts (de, en-GB, zh-Hant-TW), or the name of a language in
   * Unicode CLDR (through Intl.DisplayNames), in English or in the language itself (Portuguese, português).
   */
  z.strictObject({ type: z.literal('language') }),
  /** Text matching a regular expression (anchor it: ^…$), at most maxLength characters; screened too. */
  z.strictObject({ type: z.literal('pattern'), pattern: regex, maxLength: Length }),
  /**
   * Bounded free text: screened (fact-safety.ts) and, in AWS, checked by a guardrail when one is configured.
   * `screen: strict` also rejects text about a model's behaviour (for text that never needs it: error messages).
   */
  z.strictObject({
    type: z.literal('text'),
    maxLength: Length,
    screen: z.enum(['standard', 'strict']).default('standard'),
    /**
     * An allowlist on top of the screen (message-allowlist.ts): every token must be a number, identifier,
     * path, URL without a query, or a word of the named vocabulary or of `words`. Text outside it is
     * withheld (`vocabulary`); a rule may then store a reduced value instead (an error's code).
     */
    vocabulary: z.literal('technical-errors').optional(),
    /** The deployment's own words allowed besides the vocabulary (its features, pages, plans). */
    words: z.array(z.string().regex(/^[a-z][a-z0-9]{1,29}$/, 'a word is lowercase a-z, 0-9')).optional(),
  }),
]);
export type ValueSpec = z.infer<typeof ValueSpecSchema>;

export type ValueReason = 'type' | 'empty' | 'too-long' | 'vocabulary' | ScreenReason;

export type TypedValue =
  | {
      ok: true;
      value: string;
      /** Set when the text passed the screen but not the attribute's vocabulary: it must not be stored as is. */
      outsideVocabulary?: string;
    }
  | { ok: false; reason: ValueReason; detail?: string };

/** Enum spelling: NFKC, lowercase, spaces and hyphens as `_` (Bulk Export → bulk_export). */
const enumKey = (value: string) =>
  value
    .normalize('NFKC')
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

const extraCache = new Map<string, Vocabulary>();
function extraWords(words: readonly string[] | undefined): Vocabulary | undefined {
  if (!words || words.length === 0) return undefined;
  const key = words.join(' ');
  let vocabulary = extraCache.get(key);
  if (!vocabulary) {
    vocabulary = new Vocabulary(words);
    extraCache.set(key, vocabulary);
  }
  return vocabulary;
}

const LANGUAGE_TAG = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/;
let languageNames: Set<string> | undefined;

/** The CLDR names of the ISO 639-1 languages, in English and in each language itself (lowercase). */
function knownLanguageNames(): Set<string> {
  if (languageNames) return languageNames;
  const names = new Set<string>();
  const english = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'none' });
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (const a of letters) {
    for (const b of letters) {
      const code = `${a}${b}`;
      const name = english.of(code);
      if (!name) continue;
      names.add(name.toLocaleLowerCase('en'));
      const own = new Intl.DisplayNames([code], { type: 'language', fallback: 'none' }).of(code);
      if (own) names.add(own.toLocaleLowerCase(code));
    }
  }
  languageNames = names;
  return names;
}

function checkLanguage(raw: string | number | boolean): TypedValue {
  const hidden = typeof raw === 'string' ? findInjection(raw) : undefined;
  if (hidden?.reason === 'hidden-text') return { ok: false, ...hidden };
  const text = typeof raw === 'string' ? raw.normalize('NFKC').trim() : '';
  if (text === '') return { ok: false, reason: 'empty' };
  if (LANGUAGE_TAG.test(text)) {
    try {
      Intl.getCanonicalLocales(text);
      return { ok: true, value: text };
    } catch {
      return { ok: false, reason: 'type', detail: 'not a BCP 47 language tag' };
    }
  }
  return text.length <= 40 && knownLanguageNames().has(text.toLocaleLowerCase())
    ? { ok: true, value: text }
    : { ok: false, reason: 'type', detail: 'not a language tag or a language name' };
}

const NUMBER_TEXT = /^-?\d{1,15}(\.\d{1,15})?$/;
const patternCache = new Map<string, RegExp>();

/**
 * Checks a raw scalar against a declared value type and returns the text to store. Free text (`text`)
 * is screened whole before anything is cut; with `shorten`, a safe value longer than its limit is cut to
 * it (evidence such as an error message) instead of being rejected.
 */
export function checkTypedValue(
  spec: ValueSpec,
  raw: string | number | boolean,
  options: { shorten?: boolean } = {},
): TypedValue {
  switch (spec.type) {
    case 'enum': {
      if (typeof raw !== 'string') return { ok: false, reason: 'type', detail: 'not one of the declared values' };
      const key = enumKey(raw);
      const value = spec.values.find((v) => v === key || enumKey(v) === key);
      return value === undefined
        ? { ok: false, reason: 'type', detail: 'not one of the declared values' }
        : { ok: true, value };
    }
    case 'number': {
      const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
      const n = Number(text);
      if (!(typeof raw === 'number' || NUMBER_TEXT.test(text)) || !Number.isFinite(n)) {
        return { ok: false, reason: 'type', detail: 'not a number' };
      }
      if (n < spec.min || n > spec.max || (spec.integer && !Number.isInteger(n))) {
        return { ok: false, reason: 'type', detail: `outside ${spec.min}..${spec.max}` };
      }
      return { ok: true, value: String(n) };
    }
    case 'boolean': {
      const value = typeof raw === 'boolean' ? String(raw) : typeof raw === 'string' ? raw.trim().toLowerCase() : '';
      return value === 'true' || value === 'false'
        ? { ok: true, value }
        : { ok: false, reason: 'type', detail: 'not a boolean' };
    }
    case 'language':
      return checkLanguage(raw);
    case 'pattern': {
      const text = typeof raw === 'number' ? String(raw) : typeof raw === 'string' ? raw : '';
      const hidden = findInjection(text);
      if (hidden?.reason === 'hidden-text') return { ok: false, ...hidden };
      const value = sanitizeText(text).text;
      if (value === '') return { ok: false, reason: 'empty' };
      if (value !== text.normalize('NFKC').trim()) return { ok: false, reason: 'type', detail: 'invisible characters' };
      if (value.length > spec.maxLength)
        return { ok: false, reason: 'too-long', detail: `${value.length} > ${spec.maxLength}` };
      let pattern = patternCache.get(spec.pattern);
      if (!pattern) {
        pattern = new RegExp(spec.pattern, 'u');
        patternCache.set(spec.pattern, pattern);
      }
      if (!pattern.test(value)) return { ok: false, reason: 'type', detail: 'does not match the declared pattern' };
      // A pattern loose enough to admit words (Ignore/All_Rules) is screened like free text.
      const verdict = findInjection(value);
      return verdict ? { ok: false, ...verdict } : { ok: true, value };
    }
    case 'text': {
      if (typeof raw !== 'string') return { ok: true, value: String(raw) };
      const checked = checkFactValue(raw, spec.maxLength, { ...options, strict: spec.screen === 'strict' });
      if (!checked.ok) return checked;
      if (spec.vocabulary === undefined) return { ok: true, value: checked.value };
      // The whole text, not the cut value: nothing past the cut may be outside the allowlist either.
      const allowed = checkAllowlisted(raw, technicalErrorVocabulary(), extraWords(spec.words));
      return allowed.ok
        ? { ok: true, value: checked.value }
        : { ok: true, value: checked.value, outsideVocabulary: 'a word outside the vocabulary' };
    }
  }
}
