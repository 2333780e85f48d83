import { parse } from 'yaml';
import { z } from 'zod';
import { configFile } from '../shared/config.js';
import { ActionNotFoundError, ConfigurationError, InputValidationError } from '../shared/errors.js';
import type { EdgeDependency, Fact, StateChangeMarker } from '../shared/ports.js';
import { ACTION_ID_PATTERN, MAX_ANSWER_BYTES } from './edge-store.js';

/**
 * The action catalog of pre-generation at the edge (config/edge-actions.yaml) and the rules over it: which
 * actions a login predicts, which dependency tags an answer has, which tag a state change invalidates, and the
 * ordering rule that decides whether an answer is stale.
 *
 * Ordering rule: every dependency of an answer carries the version (epoch ms) of the state it was built from —
 * the login event's time for app state, the read time for facts (in whole seconds, like event times) — or, when a state change was applied to the
 * app state, that change's time and event id. A state change of a tag at time T (the detail's `occurredAt`,
 * else the event's time) makes an answer stale when T is later than the dependency's version, or equal to it
 * and not the change the answer already applied (EventBridge times have one-second precision: a tie is
 * treated as stale, the safe side).
 */

const TAG_PATTERN = /^[^\p{Cc}\p{Cf}\s]{1,200}$/u;
const PLACEHOLDER = /\{([^{}]+)\}/g;
const PATH = /^(userId|appState(\.[A-Za-z0-9_-]+)+|facts\.[a-z0-9_.*-]+)$/;

const Path = z.string().regex(PATH, 'must be userId, appState.<a>.<b> or facts.<attribute>');
const TagTemplate = z.string().refine((t) => {
  const paths = [...t.matchAll(PLACEHOLDER)].map((m) => m[1] as string);
  return paths.length > 0 && paths.every((p) => PATH.test(p));
}, 'must hold at least one {path} placeholder over userId, appState or facts');

const Action = z.strictObject({
  id: z.string().regex(ACTION_ID_PATTERN, 'must match ^[a-z0-9-]{1,64}$'),
  title: z.string().min(1).max(120),
  prompt: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  ttlSeconds: z
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600),
  maxAnswerBytes: z.number().int().min(256).max(MAX_ANSWER_BYTES),
  priority: z.number().default(0),
  requires: z.array(Path).default([]),
  /** Not applicable when a path holds one of these values (e.g. a ticket that was closed since the login). */
  skipWhen: z.array(z.strictObject({ path: Path, in: z.array(z.string()).min(1) })).default([]),
  boosts: z.array(z.strictObject({ path: Path, in: z.array(z.string()).min(1), add: z.number() })).default([]),
  dependsOn: z.array(TagTemplate).default([]),
});
export type EdgeAction = z.infer<typeof Action>;

const EventTemplate = z.string().refine((t) => /\{[A-Za-z0-9_]+\}/.test(t), 'must hold a {detailField} placeholder');
const InvalidationRule = z.strictObject({
  detailType: z.string().regex(/^[A-Za-z][A-Za-z0-9]{0,63}$/),
  tag: EventTemplate,
  /** Skip the event when every value of this detail list matches a pattern (`prefix.*` or exact). */
  ignoreWhenAll: z
    .strictObject({ field: z.string().regex(/^[A-Za-z0-9_]+$/), matching: z.array(z.string().min(1)).min(1) })
    .optional(),
  patch: z
    .strictObject({
      /** The app state key holding the entity, e.g. latestDeployment. */
      target: z.string().regex(/^[A-Za-z0-9_]+$/),
      /** The detail field holding the entity's id (compared with the entity's `id`). */
      idField: z.string().regex(/^[A-Za-z0-9_]+$/),
      /** entity field ← detail field */
      set: z.record(z.string().regex(/^[A-Za-z0-9_]+$/), z.string().regex(/^[A-Za-z0-9_]+$/)),
    })
    .optional(),
});
export type InvalidationRule = z.infer<typeof InvalidationRule>;

const Catalog = z.strictObject({
  maxActionsPerLogin: z.number().int().min(1).max(10).default(3),
  actions: z
    .array(Action)
    .min(1)
    .refine((a) => new Set(a.map((x) => x.id)).size === a.length, 'action ids must be unique'),
  invalidation: z.strictObject({
    regenerate: z.boolean().default(false),
    events: z
      .array(InvalidationRule)
      .refine((e) => new Set(e.map((x) => x.detailType)).size === e.length, 'one rule per detailType'),
  }),
});
export type EdgeCatalog = z.infer<typeof Catalog>;

/** Parses and checks a catalog (YAML text); ConfigurationError names every problem. */
export function parseEdgeCatalog(text: string, source = 'the edge action catalog'): EdgeCatalog {
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (err) {
    throw new ConfigurationError(`${source} is not valid YAML: ${(err as Error).message}`);
  }
  const parsed = Catalog.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new ConfigurationError(`${source} is invalid: ${problems}`);
  }
  return parsed.data;
}

/** The deployment's catalog: EDGE_ACTIONS_FILE, else config/edge-actions.yaml (packaged with the functions). */
export function edgeCatalog(): EdgeCatalog {
  return configFile('EDGE_ACTIONS_FILE', 'edge-actions.yaml', parseEdgeCatalog);
}

/** The catalog's action with this id; ActionNotFoundError (404) otherwise. */
export function findAction(catalog: EdgeCatalog, actionId: string): EdgeAction {
  const action = catalog.actions.find((a) => a.id === actionId);
  if (!action) {
    const ids = catalog.actions.map((a) => a.id).join(', ');
    throw new ActionNotFoundError(`no action "${actionId}"; the actions are ${ids}`);
  }
  return action;
}

// ---- the login context ---------------------------------------------------------------------------------------

/** What predictions and prompts read: the user, their app state (changes applied) and their facts. */
export interface LoginContext {
  userId: string;
  appState: Record<string, unknown>;
  facts: Pick<Fact, 'attribute' | 'value'>[];
}

/** The value at a path of the context; undefined when any step is missing. */
export function readPath(context: LoginContext, path: string): unknown {
  if (path === 'userId') return context.userId;
  if (path.startsWith('facts.')) {
    const attribute = path.slice('facts.'.length);
    return context.facts.find((f) => f.attribute === attribute)?.value;
  }
  let value: unknown = context.appState;
  for (const step of path.split('.').slice(1)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[step];
  }
  return value;
}

function scalarText(value: unknown): string | undefined {
  if (typeof value === 'string' && value.length > 0) return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  return undefined;
}

/** Fills a template's {…} placeholders with scalars; undefined when one is missing or the tag would be invalid. */
function fill(template: string, lookup: (key: string) => unknown): string | undefined {
  let missing = false;
  const tag = template.replace(PLACEHOLDER, (_match, key: string) => {
    const text = scalarText(lookup(key));
    if (text === undefined) missing = true;
    return text ?? '';
  });
  return missing || !TAG_PATTERN.test(tag) ? undefined : tag;
}

/**
 * The dependencies of an action's answer with their versions: a tag filled from the app state has the state's
 * version (or that of the change applied to it); any other tag (the user's facts) was read at `readAt`.
 */
export function actionDependencies(
  action: EdgeAction,
  context: LoginContext,
  versions: { stateVersion: number; readAt: number; patched: StateVersions },
): EdgeDependency[] {
  const byTag = new Map<string, EdgeDependency>();
  for (const template of action.dependsOn) {
    const tag = fill(template, (path) => readPath(context, path));
    if (tag === undefined || byTag.has(tag)) continue;
    const fromState = template.includes('{appState.');
    byTag.set(tag, versions.patched[tag] ?? { tag, version: fromState ? versions.stateVersion : versions.readAt });
  }
  return [...byTag.values()].sort((a, b) => (a.tag < b.tag ? -1 : 1));
}

/** Whether every path the action requires is present (a scalar) in the context and no skipWhen rule matches. */
export function isApplicable(action: EdgeAction, context: LoginContext): boolean {
  return (
    action.requires.every((path) => scalarText(readPath(context, path)) !== undefined) &&
    !action.skipWhen.some((rule) => rule.in.includes(scalarText(readPath(context, rule.path)) ?? '\u0000'))
  );
}

export interface PredictedAction {
  actionId: string;
  score: number;
}

/** The actions a login predicts: applicable ones by score (priority + matching boosts), then id; at most `limit`. */
export function predictActions(catalog: EdgeCatalog, context: LoginContext, limit = catalog.maxActionsPerLogin) {
  const scored: PredictedAction[] = catalog.actions
    .filter((action) => isApplicable(action, context))
    .map((action) => ({
      actionId: action.id,
      score:
        action.priority +
        action.boosts
          .filter((boost) => boost.in.includes(scalarText(readPath(context, boost.path)) ?? '\u0000'))
          .reduce((sum, boost) => sum + boost.add, 0),
    }));
  return scored.sort((a, b) => b.score - a.score || (a.actionId < b.actionId ? -1 : 1)).slice(0, limit);
}

// ---- state changes -------------------------------------------------------------------------------------------

/** The invalidation rule of a detail-type, if it is a configured state change. */
export function invalidationRule(catalog: EdgeCatalog, detailType: string): InvalidationRule | undefined {
  return catalog.invalidation.events.find((rule) => rule.detailType === detailType);
}

/** The tag a state change invalidates; InputValidationError when the detail lacks a field the tag needs. */
export function changedTag(rule: InvalidationRule, detail: Record<string, unknown>): string {
  const tag = fill(rule.tag, (field) => detail[field]);
  if (tag === undefined) {
    const fields = [...rule.tag.matchAll(PLACEHOLDER)].map((m) => m[1]).join(', ');
    throw new InputValidationError(`${rule.detailType} needs detail.${fields} (non-empty strings or numbers)`);
  }
  return tag;
}

/** Whether a rule's ignoreWhenAll skips this event (e.g. a FactsChanged that only touched context.last_login). */
export function isIgnoredChange(rule: InvalidationRule, detail: Record<string, unknown>): boolean {
  if (!rule.ignoreWhenAll) return false;
  const values = detail[rule.ignoreWhenAll.field];
  if (!Array.isArray(values) || values.length === 0) return false;
  const matches = (value: unknown) =>
    typeof value === 'string' &&
    (rule.ignoreWhenAll?.matching ?? []).some((p) =>
      p.endsWith('.*') ? value.startsWith(p.slice(0, -1)) : value === p,
    );
  return values.every(matches);
}

/** The new entity fields a state change carries (its patch), as stored on its marker. */
export function patchValues(rule: InvalidationRule, detail: Record<string, unknown>): Record<string, string> {
  if (!rule.patch) return {};
  const values: Record<string, string> = {};
  for (const [field, from] of Object.entries(rule.patch.set)) {
    const text = scalarText(detail[from]);
    if (text !== undefined) values[field] = text;
  }
  return values;
}

/** An entity of the app state a rule can patch, and the tag it is known by. */
interface PatchableEntity {
  rule: InvalidationRule & { patch: NonNullable<InvalidationRule['patch']> };
  tag: string;
}

/** The app state entities (e.g. latestDeployment {id}) that state changes can patch, with their tags. */
export function patchableEntities(catalog: EdgeCatalog, appState: Record<string, unknown>): PatchableEntity[] {
  const entities: PatchableEntity[] = [];
  for (const rule of catalog.invalidation.events) {
    if (!rule.patch) continue;
    const entity = appState[rule.patch.target];
    if (typeof entity !== 'object' || entity === null || Array.isArray(entity)) continue;
    const id = (entity as Record<string, unknown>).id;
    const tag = fill(rule.tag, (field) => (field === rule.patch?.idField ? id : undefined));
    if (tag !== undefined) entities.push({ rule: rule as PatchableEntity['rule'], tag });
  }
  return entities;
}

/** Versions of the app state's tags: the state's own version, or the change applied to it. */
export type StateVersions = Record<string, EdgeDependency>;

/**
 * Applies the latest state change of each patchable entity that is not older than the state (`stateVersion`) to
 * a copy of the app state, and returns the version each entity's tag now has. A change at the same time as the
 * state is applied too (the same second may or may not have preceded the login; its values are at least as new).
 */
export function applyStateChanges(
  catalog: EdgeCatalog,
  appState: Record<string, unknown>,
  stateVersion: number,
  markers: Readonly<Record<string, StateChangeMarker>>,
): { appState: Record<string, unknown>; versions: StateVersions } {
  const patched: Record<string, unknown> = structuredClone(appState);
  const versions: StateVersions = {};
  for (const { rule, tag } of patchableEntities(catalog, appState)) {
    const marker = markers[tag];
    if (!marker || marker.at < stateVersion) {
      versions[tag] = { tag, version: stateVersion };
      continue;
    }
    patched[rule.patch.target] = { ...(patched[rule.patch.target] as Record<string, unknown>), ...marker.values };
    versions[tag] = { tag, version: marker.at, eventId: marker.eventId };
  }
  return { appState: patched, versions };
}

/** Whether a state change (marker) makes an answer built from `dependency` stale (the ordering rule above). */
export function isStale(dependency: EdgeDependency, marker: StateChangeMarker | undefined): boolean {
  if (!marker) return false;
  return marker.at > dependency.version || (marker.at === dependency.version && marker.eventId !== dependency.eventId);
}

/** Renders the app state for a prompt as quoted data: an `<app_state>` block with one line of JSON, `<` escaped. */
export function renderAppStateBlock(appState: Record<string, unknown>): string {
  const json = JSON.stringify(appState)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
  return `<app_state>\n${json}\n</app_state>`;
}
