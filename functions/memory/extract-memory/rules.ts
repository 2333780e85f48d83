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
import { MAX_ATTRIBUTE_CHARS } from './schemas.js';

/**
 * The declared memory rules (config/memory-rules.yaml): which attributes a fact may have, and how each
 * structured user event becomes fact drafts. A draft is only a proposal: extract-facts.ts validates it
 * (attribute, value safety, limits) before it becomes a candidate for the store.
 */

const SEGMENT = '[a-z0-9][a-z0-9_]{0,39}';
const NAMESPACE = '[a-z][a-z0-9_]{0,29}';
const EXACT_NAME = new RegExp(`^[a-z][a-z0-9_]{0,29}(\\.${SEGMENT}){1,2}$`);
const FAMILY_NAME = new RegExp(`^[a-z][a-z0-9_]{0,29}(\\.${SEGMENT})?\\.\\*$`);
const SEGMENT_ONLY = new RegExp(`^${SEGMENT}$`);
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
  ttlDays: z.number().int().positive().max(3650).optional(),
  fromChat: z.boolean().default(false),
});

const Confidence = z.number().min(0).max(1);
const Prefix = z.string().regex(/^[a-z][a-z0-9_]*$/);

const RulesFile = z.strictObject({
  attributes: z.array(AttributeSpec).min(1),
  rules: z.strictObject({
    settingsChanged: z.strictObject({ attributePrefix: Prefix, confidence: Confidence, ignore: z.array(regex) }),
    errorOccurred: z.strictObject({ attributePrefix: Prefix, confidence: Confidence }),
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
  value: string;
  confidence: number;
  /** Evidence text (an error message, a path) is shortened to the value limit instead of rejected. */
  shorten?: boolean;
}

/** What a rule produced: drafts, and how many of the event's items could not become one. */
export interface RuleOutput {
  drafts: FactDraft[];
  rejected: number;
}

export interface MemoryRules {
  readonly file: RulesFile;
  /** The declared attribute (exact or family) an attribute name falls under, or custom; undefined when not allowed. */
  attributeSpec(attribute: string): { name: string; ttlDays?: number } | undefined;
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
    .replace(/^_+|_+$/g, '')
    .slice(0, 40)
    .replace(/_+$/, '');
  return segment !== '' && SEGMENT_ONLY.test(segment) ? segment : undefined;
}

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

const scalarText = (value: unknown): string | undefined =>
  typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))
    ? String(value)
    : undefined;

/** Fills `{property}` placeholders; undefined when a property is missing or not a scalar. */
function fill(template: string, properties: Record<string, unknown>, asSegment: boolean): string | undefined {
  let missing = false;
  const text = template.replace(/\{([A-Za-z0-9_]+)\}/g, (_, name: string) => {
    const value = scalarText(properties[name]);
    const part = value === undefined ? undefined : asSegment ? toSegment(value) : value;
    if (part === undefined) missing = true;
    return part ?? '';
  });
  return missing ? undefined : text;
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

  const attributeSpec = (attribute: string) => {
    if (attribute.length > MAX_ATTRIBUTE_CHARS) return undefined;
    if (CUSTOM_ATTRIBUTE.test(attribute)) return { name: 'custom.*' };
    if (!EXACT_NAME.test(attribute)) return undefined;
    const declared = exact.get(attribute) ?? families.get(attribute.slice(0, attribute.lastIndexOf('.')));
    if (!declared) return undefined;
    return declared.ttlDays === undefined
      ? { name: declared.name }
      : { name: declared.name, ttlDays: declared.ttlDays };
  };

  for (const [what, attribute] of [
    ['rules.userLoggedIn.lastLoginAttribute', rules.userLoggedIn.lastLoginAttribute],
    ...Object.entries(rules.userLoggedIn.appState).map(([key, a]) => [`rules.userLoggedIn.appState.${key}`, a]),
  ] as [string, string][]) {
    if (!attributeSpec(attribute)) throw new ConfigurationError(`${what}: "${attribute}" is not a declared attribute`);
  }
  for (const [prefixWhat, prefix] of [
    ['settingsChanged', rules.settingsChanged.attributePrefix],
    ['errorOccurred', rules.errorOccurred.attributePrefix],
  ] as const) {
    if (!families.has(prefix)) throw new ConfigurationError(`rules.${prefixWhat}: "${prefix}.*" is not declared`);
  }
  for (const topic of rules.pageViewed.topics) {
    if (!families.has('interest')) throw new ConfigurationError('rules.pageViewed needs the interest.* attribute');
    if (!attributeSpec(`interest.${topic.topic}`)) throw new ConfigurationError(`topic ${topic.topic} is invalid`);
  }
  const ignore = rules.settingsChanged.ignore.map((r) => new RegExp(r, 'i'));
  const topics = rules.pageViewed.topics.map((t) => ({ pattern: new RegExp(t.pattern), topic: t.topic }));

  const settings = (d: SettingsChangedDetail): RuleOutput => {
    const drafts: FactDraft[] = [];
    let rejected = 0;
    for (const [name, value] of Object.entries(d.settings)) {
      const segment = toSegment(name);
      if (segment && ignore.some((r) => r.test(segment))) continue;
      const text = scalarText(value);
      if (!segment || text === undefined) {
        rejected += 1;
        continue;
      }
      drafts.push({
        attribute: `${rules.settingsChanged.attributePrefix}.${segment}`,
        value: text,
        confidence: rules.settingsChanged.confidence,
      });
    }
    return { drafts, rejected };
  };

  const error = (d: ErrorOccurredDetail): RuleOutput => {
    const code = toSegment(String(d.code));
    if (!code) return { drafts: [], rejected: 1 };
    const where = d.page ? ` (on ${pagePath(d.page) || d.page})` : '';
    return {
      drafts: [
        {
          attribute: `${rules.errorOccurred.attributePrefix}.${code}`,
          value: `${d.message.trim()}${where}`,
          confidence: rules.errorOccurred.confidence,
          shorten: true,
        },
      ],
      rejected: 0,
    };
  };

  const pageView = (d: PageViewedDetail): RuleOutput => {
    const path = pagePath(d.page);
    const match = topics.find((t) => t.pattern.test(path));
    if (!match) return { drafts: [], rejected: 0 };
    return {
      drafts: [
        { attribute: `interest.${match.topic}`, value: path, confidence: rules.pageViewed.confidence, shorten: true },
      ],
      rejected: 0,
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
    let rejected = 0;
    for (const [key, attribute] of Object.entries(rules.userLoggedIn.appState)) {
      if (!d.appState || !(key in d.appState)) continue;
      const text = scalarText(d.appState[key]);
      if (text === undefined) rejected += 1;
      else drafts.push({ attribute, value: text, confidence: rules.userLoggedIn.confidence });
    }
    return { drafts, rejected };
  };

  const userEvent = (d: UserEventDetail): RuleOutput => {
    const declared = rules.userEvent.actions[d.action] ?? [];
    const properties = d.properties ?? {};
    const drafts: FactDraft[] = [];
    let rejected = 0;
    for (const rule of declared) {
      const attribute = fill(rule.attribute, properties, true);
      const value = fill(rule.value, properties, false);
      if (attribute === undefined || value === undefined) rejected += 1;
      else drafts.push({ attribute, value, confidence: rule.confidence });
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
          return { drafts: [], rejected: 0 };
      }
    },
  };
}

/** The deployment's rules: MEMORY_RULES_FILE, else config/memory-rules.yaml (packaged with the functions). */
export function memoryRules(): MemoryRules {
  return configFile('MEMORY_RULES_FILE', 'memory-rules.yaml', (text) => buildMemoryRules(parse(text)));
}
