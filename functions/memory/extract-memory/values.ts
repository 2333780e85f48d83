import { z } from 'zod';
import { checkFactValue, findInjection, type ScreenReason, sanitizeText } from '../fact-safety.js';
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
  }),
]);
export type ValueSpec = z.infer<typeof ValueSpecSchema>;

export type ValueReason = 'type' | 'empty' | 'too-long' | ScreenReason;

export type TypedValue = { ok: true; value: string } | { ok: false; reason: ValueReason; detail?: string };

/** Enum spelling: NFKC, lowercase, spaces and hyphens as `_` (Bulk Export → bulk_export). */
const enumKey = (value: string) =>
  value
    .normalize('NFKC')
    .trim()
    .toLowerCase()
    .replace(/[\s-]+/g, '_');

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
      return checked.ok ? { ok: true, value: checked.value } : checked;
    }
  }
}
