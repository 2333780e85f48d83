import { parse } from 'yaml';
import { z } from 'zod';
import { configFile } from '../../shared/config.js';
import { ConfigurationError } from '../../shared/errors.js';
import type {
  ErrorOccurredDetail,
  PageViewedDetail,
  ParsedUserEvent,
  SettingsChangedDetail,
  UserEventDetail,
  UserLoggedInDetail,
} from './schemas.js';
import { MAX_ATTRIBUTE_CHARS, MAX_VALUE_CHARS, type RejectReason } from './schemas.js';
import { checkTypedValue, type ValueSpec, ValueSpecSchema } from './values.js';

/**
 * The declared memory rules (config/memory-rules.yaml): which attributes a fact may have and the type of
 * each one's value, and how each structured user event becomes fact drafts. Facts are allowlisted: a
 * setting, an appState key or a page becomes a fact only under a declared name, and its value must fit
 * the declared type (enum, number, boolean, pattern, or bounded free text, which is screened). A draft is
 * only a proposal: extract-facts.ts validates it (attribute, typed value, limits) before it is stored.
 */

const SEGMENT = '[a-z0-9][a-z0-9_]{0,39}';
const NAMESPACE = '[a-z][a-z0-9_]{0,29}';
const EXACT_NAME = new RegExp(`^[a-z][a-z0-9_]{0,29}(\\.${SEGMENT}){1,2}$`);
const FAMILY_NAME = new RegExp(`^[a-z][a-z0-9_]{0,29}(\\.${SEGMENT})?\\.\\*$`);
const SEGMENT_ONLY = new RegExp(`^${SEGMENT}$`);
/** The free segment of a family attribute: at most three words of at most 20 characters. */
const FREE_SEGMENT = /^[a-z0-9]{1,20}(_[a-z0-9]{1,20}){0,2}$/;
/** custom.<namespace>.<name>: integrators' own attributes, always allowed. */
export const CUSTOM_ATTRIBUTE = new RegExp(`^custom\\.${NAMESPACE}\\.${SEGMENT}$`);

const regex = z.string().refine((source) => {
  try {
    new RegExp(source);
    return true;
  } catch {
    return false;
  }
}, 'is not a valid regular expression');

const AttributeSpec = z.strictObject({
  name: z.string().refine((n) => EXACT_NAME.test(n) || FAMILY_NAME.test(n), 'is not an attribute name or family'),
  description: z.string().min(1).optional(),
  /** The type every value of this attribute must have. */
  value: ValueSpecSchema,
  ttlDays: z.number().int().positive().max(3650).optional(),
  fromChat: z.boolean().default(false),
});

/** Integrators' custom.<namespace>.<name> attributes hold bounded free text (screened like any free text). */
export const CUSTOM_VALUE: ValueSpec = { type: 'text', maxLength: MAX_VALUE_CHARS, screen: 'standard' };

const Confidence = z.number().min(0).max(1);
const Prefix = z.string().regex(/^[a-z][a-z0-9_]*$/);

const RulesFile = z.strictObject({
  attributes: z.array(AttributeSpec).min(1),
  rules: z.strictObject({
    settingsChanged: z.strictObject({ attributePrefix: Prefix, confidence: Confidence }),
    errorOccurred: z.strictObject({
      attributePrefix: Prefix,
      confidence: Confidence,
      /** What an error code must look like once normalised (E-500 → e_500); others are rejected, not cut. */
      codePattern: regex,
    }),
    pageViewed: z.strictObject({
      confidence: Confidence,
      topics: z.array(z.strictObject({ pattern: regex, topic: z.string().regex(SEGMENT_ONLY) })),
    }),
    userLoggedIn: z.strictObject({
      confidence: Confidence,
      lastLoginAttribute: z.string(),
      appState: z.record(z.string(), z.string()),
    }),
    userEvent: z.strictObject({
      /** The type of each property a template may name ({feature}); a property of another type drops the fact. */
      properties: z.record(z.string().regex(/^[A-Za-z0-9_]+$/), ValueSpecSchema),
      actions: z.record(
        z.string(),
        z.array(z.strictObject({ attribute: z.string(), value: z.string().min(1), confidence: Confidence })),
      ),
    }),
    chatMessageSent: z.strictObject({
      promptId: z.string().min(1),
      maxFacts: z.number().int().positive().max(100),
      maxConfidence: Confidence,
    }),
  }),
});
type RulesFile = z.infer<typeof RulesFile>;

/** A proposed fact, before validation: attribute, raw value and confidence (the event supplies the rest). */
export interface FactDraft {
  attribute: string;
  value: string | number | boolean;
  confidence: number;
  /** Evidence text (an error message) is screened whole, then shortened to its limit instead of rejected. */
  shorten?: boolean;
  /** What to store instead when the value is outside its attribute's vocabulary (an error's code and page). */
  reduced?: string;
  /** Proposed by the model: allowed only under attributes declared `fromChat`. */
  fromModel?: boolean;
}

/** What a rule produced: drafts, and why each of the event's items that could not become one was dropped. */
export interface RuleOutput {
  drafts: FactDraft[];
  rejected: RejectReason[];
}

/** The declared attribute an attribute name falls under, with its value type. */
export interface ResolvedAttribute {
  name: string;
  ttlDays?: number;
  value: ValueSpec;
  fromChat: boolean;
  /** The free segment of a family (`interest.pricing` → pricing): outside text, screened like a value. */
  freeSegment?: string;
}

export interface MemoryRules {
  readonly file: RulesFile;
  /** The declared attribute (exact or family) an attribute name falls under, or custom; undefined when not allowed. */
  attributeSpec(attribute: string): ResolvedAttribute | undefined;
  /** The attribute names (families as `prefix.*`) the extraction prompt offers the model. */
  chatAttributes(): string[];
  /** Fact drafts for a structured event (never ChatMessageSent: that one goes to the model). */
  draftsFor(event: ParsedUserEvent, observedAt: string): RuleOutput;
  readonly chat: RulesFile['rules']['chatMessageSent'];
}

/**
 * One segment of an attribute from outside text (a setting name, an error code, a feature): camelCase and
 * punctuation become `_`, lowercase, at most 40 characters; undefined when nothing is left.
 */
export function toSegment(raw: string): string | undefined {
  const segment = raw
    .normalize('NFKC')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  // Longer names are rejected, not cut: a cut could leave a harmless-looking prefix of a sentence.
  return segment !== '' && SEGMENT_ONLY.test(segment) ? segment : undefined;
}

/** An error code as sent: ASCII letters, digits and _ . : - only. */
const RAW_CODE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

/** A path of plain segments: what an error fact may say about where it happened. */
const PLAIN_PATH = /^(\/[A-Za-z0-9._~-]{1,40}){1,8}\/?$/;

/** The path of a page reference: a full URL's pathname, or the text up to `?` / `#`. */
export function pagePath(page: string): string {
  if (/^https?:\/\//i.test(page)) {
    try {
      return new URL(page).pathname;
    } catch {
      return '';
    }
  }
  return page.split(/[?#]/)[0] ?? '';
}

type Scalar = string | number | boolean;
const isScalar = (value: unknown): value is Scalar =>
  typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value));

const PLACEHOLDER = /\{([A-Za-z0-9_]+)\}/g;

/**
 * Fills `{property}` placeholders with each property's typed value (an enum's declared spelling, a
 * number, a boolean); a template that is exactly one placeholder keeps the raw scalar for the value check.
 */
function fill(
  template: string,
  properties: Record<string, unknown>,
  specs: Record<string, ValueSpec>,
): { value: Scalar } | { reason: RejectReason } {
  const whole = /^\{([A-Za-z0-9_]+)\}$/.exec(template);
  let failed: RejectReason | undefined;
  const part = (name: string): string => {
    const raw = properties[name];
    const spec = specs[name];
    if (raw === undefined || raw === null) failed ??= 'shape';
    else if (!isScalar(raw) || !spec) failed ??= 'type';
    else {
      const typed = checkTypedValue(spec, raw);
      if (typed.ok) return typed.value;
      failed ??= typed.reason;
    }
    return '';
  };
  if (whole) {
    const value = part(whole[1] as string);
    return failed ? { reason: failed } : { value };
  }
  const text = template.replace(PLACEHOLDER, (_, name: string) => part(name));
  return failed ? { reason: failed } : { value: text };
}

/** Builds the rules from a parsed YAML document; throws ConfigurationError naming every problem. */
export function buildMemoryRules(raw: unknown): MemoryRules {
  const parsed = RulesFile.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    throw new ConfigurationError(`config/memory-rules.yaml is invalid: ${problems}`);
  }
  const file = parsed.data;
  const exact = new Map(file.attributes.filter((a) => !a.name.endsWith('.*')).map((a) => [a.name, a]));
  const families = new Map(file.attributes.filter((a) => a.name.endsWith('.*')).map((a) => [a.name.slice(0, -2), a]));
  const rules = file.rules;

  const resolve = (declared: RulesFile['attributes'][number], freeSegment?: string): ResolvedAttribute => ({
    name: declared.name,
    value: declared.value,
    fromChat: declared.fromChat,
    ...(declared.ttlDays === undefined ? {} : { ttlDays: declared.ttlDays }),
    ...(freeSegment === undefined ? {} : { freeSegment }),
  });
  const attributeSpec = (attribute: string): ResolvedAttribute | undefined => {
    if (attribute.length > MAX_ATTRIBUTE_CHARS) return undefined;
    if (CUSTOM_ATTRIBUTE.test(attribute)) {
      return { name: 'custom.*', value: CUSTOM_VALUE, fromChat: false, freeSegment: attribute.slice(7) };
    }
    if (!EXACT_NAME.test(attribute)) return undefined;
    const declared = exact.get(attribute);
    if (declared) return resolve(declared);
    const cut = attribute.lastIndexOf('.');
    const family = families.get(attribute.slice(0, cut));
    const segment = attribute.slice(cut + 1);
    // A family's free segment names one thing (python, machine_learning), never a sentence.
    return family && FREE_SEGMENT.test(segment) ? resolve(family, segment) : undefined;
  };

  const declaredExactly = (what: string, attribute: string) => {
    if (!exact.has(attribute)) throw new ConfigurationError(`${what}: "${attribute}" is not a declared attribute`);
  };
  declaredExactly('rules.userLoggedIn.lastLoginAttribute', rules.userLoggedIn.lastLoginAttribute);
  for (const [key, attribute] of Object.entries(rules.userLoggedIn.appState)) {
    declaredExactly(`rules.userLoggedIn.appState.${key}`, attribute);
  }
  const settingsPrefix = `${rules.settingsChanged.attributePrefix}.`;
  if (![...exact.keys()].some((name) => name.startsWith(settingsPrefix))) {
    throw new ConfigurationError(`rules.settingsChanged: no attribute ${settingsPrefix}<name> is declared`);
  }
  if (!families.has(rules.errorOccurred.attributePrefix)) {
    throw new ConfigurationError(`rules.errorOccurred: "${rules.errorOccurred.attributePrefix}.*" is not declared`);
  }
  for (const topic of rules.pageViewed.topics) {
    if (!attributeSpec(`interest.${topic.topic}`)) {
      throw new ConfigurationError(`rules.pageViewed: interest.${topic.topic} is not a declared attribute`);
    }
  }
  for (const [action, facts] of Object.entries(rules.userEvent.actions)) {
    for (const fact of facts) {
      for (const [, name] of `${fact.attribute} ${fact.value}`.matchAll(PLACEHOLDER)) {
        if (!(name && name in rules.userEvent.properties)) {
          throw new ConfigurationError(`rules.userEvent.actions.${action}: property {${name}} has no declared type`);
        }
      }
      const sample = fact.attribute.replace(PLACEHOLDER, 'x');
      if (!attributeSpec(sample)) {
        throw new ConfigurationError(
          `rules.userEvent.actions.${action}: "${fact.attribute}" is not a declared attribute`,
        );
      }
    }
  }
  const codePattern = new RegExp(rules.errorOccurred.codePattern, 'u');
  const topics = rules.pageViewed.topics.map((t) => ({ pattern: new RegExp(t.pattern), topic: t.topic }));

  const settings = (d: SettingsChangedDetail): RuleOutput => {
    const drafts: FactDraft[] = [];
    const rejected: RejectReason[] = [];
    for (const [name, value] of Object.entries(d.settings)) {
      const segment = toSegment(name);
      const attribute = segment && `${settingsPrefix}${segment}`;
      // Only declared settings are facts: an unknown name (a secret, an id, a sentence) is dropped and counted.
      if (!attribute || !exact.has(attribute)) rejected.push('undeclared');
      else if (!isScalar(value)) rejected.push('type');
      else drafts.push({ attribute, value, confidence: rules.settingsChanged.confidence });
    }
    return { drafts, rejected };
  };

  const error = (d: ErrorOccurredDetail): RuleOutput => {
    // A code is an identifier (E-500, ECONNRESET, payment_declined): checked as sent, then normalised.
    const raw = String(d.code);
    const code = RAW_CODE.test(raw) ? toSegment(raw) : undefined;
    if (!code || !codePattern.test(code)) return { drafts: [], rejected: ['type'] };
    const path = d.page === undefined ? '' : pagePath(d.page);
    // The page is kept only as a plain path (letters, digits, - _ . ~ between slashes), else left out.
    const where = PLAIN_PATH.test(path) ? ` (on ${path})` : '';
    return {
      drafts: [
        {
          attribute: `${rules.errorOccurred.attributePrefix}.${code}`,
          value: `${d.message.trim()}${where}`,
          confidence: rules.errorOccurred.confidence,
          shorten: true,
          // A message outside the allowlist is withheld: the code (an identifier, checked above) stands alone.
          reduced: `${raw}${where}`,
        },
      ],
      rejected: [],
    };
  };

  const pageView = (d: PageViewedDetail): RuleOutput => {
    const path = pagePath(d.page);
    const match = topics.find((t) => t.pattern.test(path));
    if (!match) return { drafts: [], rejected: [] };
    // The declared topic is the fact, never the raw path (which is outside text).
    return {
      drafts: [{ attribute: `interest.${match.topic}`, value: match.topic, confidence: rules.pageViewed.confidence }],
      rejected: [],
    };
  };

  const login = (d: UserLoggedInDetail, observedAt: string): RuleOutput => {
    const drafts: FactDraft[] = [
      {
        attribute: rules.userLoggedIn.lastLoginAttribute,
        value: observedAt.slice(0, 10),
        confidence: rules.userLoggedIn.confidence,
      },
    ];
    const rejected: RejectReason[] = [];
    for (const [key, attribute] of Object.entries(rules.userLoggedIn.appState)) {
      if (!d.appState || !(key in d.appState)) continue;
      const value = d.appState[key];
      if (isScalar(value)) drafts.push({ attribute, value, confidence: rules.userLoggedIn.confidence });
      else rejected.push('type');
    }
    return { drafts, rejected };
  };

  const userEvent = (d: UserEventDetail): RuleOutput => {
    const declared = rules.userEvent.actions[d.action] ?? [];
    const properties = d.properties ?? {};
    const drafts: FactDraft[] = [];
    const rejected: RejectReason[] = [];
    for (const rule of declared) {
      const attribute = fill(rule.attribute, properties, rules.userEvent.properties);
      const value = fill(rule.value, properties, rules.userEvent.properties);
      if ('reason' in attribute) rejected.push(attribute.reason);
      else if ('reason' in value) rejected.push(value.reason);
      else drafts.push({ attribute: String(attribute.value), value: value.value, confidence: rule.confidence });
    }
    return { drafts, rejected };
  };

  return {
    file,
    attributeSpec,
    chatAttributes: () => file.attributes.filter((a) => a.fromChat).map((a) => a.name),
    chat: rules.chatMessageSent,
    draftsFor(event, observedAt) {
      switch (event.type) {
        case 'SettingsChanged':
          return settings(event.detail);
        case 'ErrorOccurred':
          return error(event.detail);
        case 'PageViewed':
          return pageView(event.detail);
        case 'UserLoggedIn':
          return login(event.detail, observedAt);
        case 'UserEvent':
          return userEvent(event.detail);
        case 'ChatMessageSent':
          return { drafts: [], rejected: [] };
      }
    },
  };
}

/** The deployment's rules: MEMORY_RULES_FILE, else config/memory-rules.yaml (packaged with the functions). */
export function memoryRules(): MemoryRules {
  return configFile('MEMORY_RULES_FILE', 'memory-rules.yaml', (text) => buildMemoryRules(parse(text)));
}
