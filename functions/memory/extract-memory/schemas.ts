import { z } from 'zod';

/**
 * The user events extract-memory learns from, and what its steps pass each other. Every event on the
 * application bus whose `detail-type` is one of USER_EVENT_TYPES and whose detail has a `userId` starts
 * the machine, whatever its `source` (integrators publish from their own sources, e.g. `app.users`).
 */

/** EventBridge allows 256 KB per event; a user event's detail is far smaller, so anything larger is dropped. */
export const MAX_DETAIL_BYTES = 16 * 1024;
/** Longest chat message read (POST /v1/chat accepts 4,000 characters). */
export const MAX_CHAT_TEXT_CHARS = 4000;
/** Longest fact value: a fact is a short statement, not a document. */
export const MAX_VALUE_CHARS = 200;
/** Most facts one event can produce (settings with hundreds of keys, a model listing thousands). */
export const MAX_FACTS_PER_EVENT = 20;
export const MAX_ATTRIBUTE_CHARS = 96;
export const DEFAULT_TENANT = 'default';

const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}\p{Cf}]+$/u, 'must not contain control or invisible characters');

/** Fields every user event's detail has. Unknown fields are ignored, not an error. */
const UserDetail = z.object({
  userId: printable(128),
  tenantId: printable(64).default(DEFAULT_TENANT),
  /** When the action happened (ISO 8601, any precision); the event's `time` when absent. */
  occurredAt: z.iso.datetime({ offset: true }).optional(),
});

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const UserLoggedInDetail = UserDetail.extend({
  /** The app's state at login (plan, locale, …); only the keys config/memory-rules.yaml declares are read. */
  appState: z.record(z.string(), z.unknown()).optional(),
});

export const PageViewedDetail = UserDetail.extend({
  /** A path (/pricing/teams) or a full URL. */
  page: z.string().min(1).max(2048),
  title: z.string().max(300).optional(),
});

export const SettingsChangedDetail = UserDetail.extend({
  settings: z
    .record(z.string().min(1).max(128), z.unknown())
    .refine((s) => Object.keys(s).length > 0, 'settings must name at least one setting'),
});

export const ErrorOccurredDetail = UserDetail.extend({
  code: z.union([z.string().min(1).max(64), z.number().int()]),
  message: z.string().min(1).max(2000),
  page: z.string().min(1).max(2048).optional(),
});

export const ChatMessageSentDetail = UserDetail.extend({
  text: z.string().trim().min(1).max(MAX_CHAT_TEXT_CHARS),
});

/** Any other user action, e.g. `{action: 'plan_changed', properties: {plan: 'team'}}`. */
export const UserEventDetail = UserDetail.extend({
  action: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z][A-Za-z0-9_.:-]*$/, 'action is a word such as plan_changed'),
  properties: z.record(z.string(), Scalar.nullable()).optional(),
});

/** detail-type → the schema of its detail. */
export const DETAIL_SCHEMAS = {
  UserLoggedIn: UserLoggedInDetail,
  PageViewed: PageViewedDetail,
  SettingsChanged: SettingsChangedDetail,
  ErrorOccurred: ErrorOccurredDetail,
  ChatMessageSent: ChatMessageSentDetail,
  UserEvent: UserEventDetail,
} as const;

export type UserEventType = keyof typeof DETAIL_SCHEMAS;
/** The detail-types the EventBridge rule of extract-memory matches (serverless.yml). */
export const USER_EVENT_TYPES = Object.keys(DETAIL_SCHEMAS) as UserEventType[];

export type UserLoggedInDetail = z.infer<typeof UserLoggedInDetail>;
export type PageViewedDetail = z.infer<typeof PageViewedDetail>;
export type SettingsChangedDetail = z.infer<typeof SettingsChangedDetail>;
export type ErrorOccurredDetail = z.infer<typeof ErrorOccurredDetail>;
export type ChatMessageSentDetail = z.infer<typeof ChatMessageSentDetail>;
export type UserEventDetail = z.infer<typeof UserEventDetail>;

/** A user event whose detail parsed: what the rules and the model path work on. */
export type ParsedUserEvent =
  | { type: 'UserLoggedIn'; detail: UserLoggedInDetail }
  | { type: 'PageViewed'; detail: PageViewedDetail }
  | { type: 'SettingsChanged'; detail: SettingsChangedDetail }
  | { type: 'ErrorOccurred'; detail: ErrorOccurredDetail }
  | { type: 'ChatMessageSent'; detail: ChatMessageSentDetail }
  | { type: 'UserEvent'; detail: UserEventDetail };

/**
 * The EventBridge event the machine starts with. Only the envelope is checked here (EventBridge always
 * sets it); the detail is checked by ExtractFacts, which drops a malformed one instead of failing.
 */
export const BusEvent = z.object({
  id: z.string().min(1).max(128),
  'detail-type': z.string(),
  source: z.string(),
  time: z.iso.datetime({ offset: true }),
  detail: z.unknown(),
});
export type BusEvent = z.infer<typeof BusEvent>;

/** A fact candidate as ExtractFacts hands it to UpsertFacts (the FactCandidate port type, checked). */
export const FactCandidateSchema = z.strictObject({
  userId: printable(128),
  attribute: z.string().min(3).max(MAX_ATTRIBUTE_CHARS),
  value: z.string().min(1).max(MAX_VALUE_CHARS),
  confidence: z.number().min(0).max(1),
  sourceEventId: z.string().min(1).max(128),
  observedAt: z.iso.datetime(),
  expiresAt: z.number().int().positive().optional(),
});

/** Why ExtractFacts dropped a whole event (the execution still succeeds: nothing to retry). */
export const DROP_REASONS = [
  'malformed',
  'oversized',
  'unsupported-type',
  'duplicate',
  'model-output-invalid',
  'budget-exceeded',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/**
 * Why a fact candidate was rejected (counted per reason in the step's output and the
 * MemoryFactsRejected{reason} metric; a rejected value is never stored, not even in part):
 * - undeclared: a setting, attribute or model attribute the rules do not declare
 * - type: a value outside its declared type (enum, number, boolean, pattern), or not a scalar
 * - empty / too-long: free text with nothing visible, or longer than its declared bound
 * - hidden-text: tag characters, bidi overrides or supplementary variation selectors
 * - markup: HTML/XML, markdown headings, links, emphasis, fences, templates, role markers
 * - encoded: base64 or percent-encoded text
 * - mixed-script: a word mixing Latin, Cyrillic, Greek… letters (homoglyph spelling)
 * - injection: text shaped like an instruction to a model, in any folded spelling or major language
 * - vocabulary: free text of an attribute with a vocabulary (error messages) had a word outside it; the
 *   text is withheld and, for an error, its code alone is stored (the fact is kept, the message counted here)
 * - guardrail / guardrail-unavailable: the Bedrock guardrail blocked it, or could not be asked (fail closed)
 * - confidence, shape, over-limit, repeat: a malformed model item, a missing property, past the per-event cap, a repeated attribute
 */
export const REJECT_REASONS = [
  'undeclared',
  'type',
  'empty',
  'too-long',
  'hidden-text',
  'markup',
  'encoded',
  'mixed-script',
  'injection',
  'vocabulary',
  'guardrail',
  'guardrail-unavailable',
  'confidence',
  'shape',
  'over-limit',
  'repeat',
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export const ExtractResult = z.object({
  userId: z.string().nullable(),
  tenantId: z.string(),
  sourceEventId: z.string(),
  detailType: z.string(),
  facts: z.array(FactCandidateSchema).max(MAX_FACTS_PER_EVENT),
  /** facts.length: what the machine's Choice reads. */
  count: z.number().int().min(0),
  /** Candidates dropped by validation, the safety checks or the per-event limit. */
  rejected: z.number().int().min(0),
  /** The same, per reason. */
  rejectedBy: z.partialRecord(z.enum(REJECT_REASONS), z.number().int().positive()),
  dropped: z.enum(DROP_REASONS).nullable(),
});
export type ExtractResult = z.infer<typeof ExtractResult>;

export const UpsertInput = z.object({
  facts: z.array(FactCandidateSchema).max(MAX_FACTS_PER_EVENT),
});
export type UpsertInput = z.infer<typeof UpsertInput>;

export interface UpsertResult {
  outcomes: { attribute: string; outcome: string }[];
  /** Attributes whose value was created or replaced: what FactsChanged announces. */
  changed: string[];
  changedCount: number;
}

export const EmitInput = z.object({
  userId: z.string().min(1),
  tenantId: z.string().min(1),
  sourceEventId: z.string().min(1),
  attributes: z.array(z.string().min(1)).min(1),
});
export type EmitInput = z.infer<typeof EmitInput>;

/** Where FactsChanged comes from on the application bus (invalidate-stale-keys listens for it). */
export const MEMORY_EVENT_SOURCE = 'composable-ai.memory';
