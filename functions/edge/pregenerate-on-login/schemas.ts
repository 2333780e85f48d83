import { z } from 'zod';

/** The user events pregenerate-on-login starts from (serverless.yml's rule lists the same detail-types). */
export const LOGIN_EVENT = 'UserLoggedIn';
export const REGENERATION_EVENT = 'EdgeRegenerationRequested';
/** Where EdgeRegenerationRequested comes from on the application bus. */
export const EDGE_EVENT_SOURCE = 'composable-ai.edge';
export const DEFAULT_TENANT = 'default';
/** The app state a login may carry (JSON bytes): it travels through every branch of the Map. */
export const MAX_APP_STATE_BYTES = 8 * 1024;

const printable = (max: number) =>
  z
    .string()
    .min(1)
    .max(max)
    .regex(/^[^\p{Cc}\p{Cf}]+$/u, 'must not contain control or invisible characters');

/** The EventBridge envelope. */
export const BusEvent = z.object({
  id: z.string().min(1).max(128),
  'detail-type': z.enum([LOGIN_EVENT, REGENERATION_EVENT]),
  time: z.iso.datetime({ offset: true }),
  detail: z.unknown(),
});
export type BusEvent = z.infer<typeof BusEvent>;

const AppState = z
  .record(z.string(), z.unknown())
  .refine((s) => Buffer.byteLength(JSON.stringify(s)) <= MAX_APP_STATE_BYTES, {
    message: `appState must be at most ${MAX_APP_STATE_BYTES} bytes of JSON`,
  });

export const LoginDetail = z.object({
  userId: printable(128),
  tenantId: printable(64).default(DEFAULT_TENANT),
  /** When the state was read (ISO 8601; milliseconds order changes within a second); the event's time when absent. */
  occurredAt: z.iso.datetime({ offset: true }).optional(),
  appState: AppState.default({}),
});

export const RegenerationDetail = z.object({
  userId: printable(128),
  tenantId: printable(64).default(DEFAULT_TENANT),
  actions: z
    .array(z.string().regex(/^[a-z0-9-]{1,64}$/))
    .min(1)
    .max(10),
});

const Dependency = z.object({ tag: z.string(), version: z.number(), eventId: z.string().optional() });
const ProfileFact = z.object({
  attribute: z.string(),
  value: z.string(),
  confidence: z.number(),
  observedAt: z.string(),
});

/** LoadUserContext's output: what every later step reads. */
export const UserContext = z.object({
  eventId: z.string(),
  userId: z.string(),
  tenantId: z.string(),
  /** The app state as the login carried it (stored by RecordEdgeIndex for origin misses). */
  loginAppState: z.record(z.string(), z.unknown()),
  /** The app state with the state changes recorded since applied (what prompts see). */
  appState: z.record(z.string(), z.unknown()),
  stateVersion: z.number(),
  /** When the facts were read (epoch ms). */
  readAt: z.number(),
  /** Versions of the app state's patched entities. */
  patched: z.record(z.string(), Dependency),
  /** The fact profile within its token budget. */
  facts: z.array(ProfileFact),
  /** Regeneration: only these actions. */
  only: z.array(z.string()).optional(),
  /** The login event was already handled (a redelivery): nothing is generated again. */
  duplicate: z.boolean().optional(),
});
export type UserContext = z.infer<typeof UserContext>;

/** One predicted action, as the Map iterates them. */
export const PlannedAction = z.object({
  actionId: z.string(),
  prompt: z.string(),
  ttlSeconds: z.number().int().positive(),
  maxAnswerBytes: z.number().int().positive(),
  score: z.number(),
  dependencies: z.array(Dependency),
});
export type PlannedAction = z.infer<typeof PlannedAction>;

export const GenerateInput = z.object({ action: PlannedAction, context: UserContext });
export type GenerateInput = z.infer<typeof GenerateInput>;

export const GeneratedAnswer = z.object({
  text: z.string(),
  model: z.string(),
  servedBy: z.string(),
  requestId: z.string(),
});
export type GeneratedAnswer = z.infer<typeof GeneratedAnswer>;

export const PublishInput = GenerateInput.extend({ answer: GeneratedAnswer });
export type PublishInput = z.infer<typeof PublishInput>;

/** The outcome of one predicted action: published (or not, and why), or the error that stopped it. */
export const BranchResult = z.object({
  actionId: z.string(),
  status: z.enum(['published', 'stale', 'retracted', 'failed']),
  /** The error the branch's Catch caught. */
  failure: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
  key: z.string().optional(),
  bytes: z.number().optional(),
});
export type BranchResult = z.infer<typeof BranchResult>;

/** What each Map branch ends with: a generated answer (to publish), or the error its Catch caught. */
export const GeneratedOrFailed = z.union([PublishInput, BranchResult]);
export type GeneratedOrFailed = z.infer<typeof GeneratedOrFailed>;

/** PublishToEdge's input: the login's context and the Map's results (published all at once). */
export const PublishAllInput = z.object({ context: UserContext, results: z.array(GeneratedOrFailed) });
export type PublishAllInput = z.infer<typeof PublishAllInput>;

/**
 * RecordEdgeIndex's input: PublishToEdge's results, or, when PublishToEdge failed (its Catch put the error in
 * publishFailure), the Map's results, whose generated answers were then not published.
 */
export const RecordInput = z.object({
  context: UserContext,
  results: z.array(GeneratedOrFailed),
  publishFailure: z.object({ Error: z.string(), Cause: z.string().optional() }).optional(),
});
export type RecordInput = z.infer<typeof RecordInput>;
