import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parse } from 'yaml';

/**
 * Reads serverless.yml the way the embedded runtime needs it: functions and their handlers, state
 * machines with their ASL definitions and EventBridge rules, HTTP API routes, and the CloudFormation
 * resources. Variables are resolved for a local stage; CloudFormation `Ref`s to resources become the
 * logical id (the local bucket, bus and table names).
 */

export interface LocalFunction {
  key: string;
  /** e.g. functions/rag/answer-question/ask.handler.handler */
  handler: string;
  timeoutSeconds: number;
  environment: Record<string, unknown>;
  httpRoutes: LocalHttpRoute[];
}

export interface LocalAuthorizer {
  /** The authorizer function's key in serverless.yml. */
  functionKey: string;
  /**
   * The headers API Gateway reads the identity from (lower case); one missing → 401 without calling the
   * authorizer. None (allowed only without a cache): the authorizer runs on every request.
   */
  identityHeaders: string[];
  /** How long API Gateway caches a verdict per identity value (0: no cache). */
  ttlSeconds: number;
}

export interface LocalHttpRoute {
  method: string;
  path: string;
  authorizer?: LocalAuthorizer;
}

export interface LocalRule {
  pattern: Record<string, unknown>;
  /** The bus the rule is on: `default` unless the event names one. */
  eventBusName: string;
}

export interface LocalStateMachine {
  /** The capability id: the ASL file's name (statemachines/<id>.asl.yaml). */
  id: string;
  key: string;
  name: string;
  type: 'STANDARD' | 'EXPRESS';
  definition: Record<string, unknown>;
  rules: LocalRule[];
}

export interface ServerlessProject {
  root: string;
  service: string;
  functions: Map<string, LocalFunction>;
  stateMachines: Map<string, LocalStateMachine>;
  resources: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
}

export const LOCAL_STAGE = 'local';
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '123456789012';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const VARIABLE = /\$\{([^{}]+)\}/g;

class Resolver {
  constructor(
    private readonly root: string,
    private readonly doc: Record<string, Json>,
  ) {}

  private lookup(path: string): Json | undefined {
    let node: Json | undefined = this.doc;
    for (const part of path.split('.')) {
      if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
      node = node[part];
    }
    return node;
  }

  private variable(expr: string): Json | undefined {
    const [source, ...fallbackParts] = expr.split(',');
    const fallback = fallbackParts
      .join(',')
      .trim()
      .replace(/^['"]|['"]$/g, '');
    const ref = (source ?? '').trim();
    let value: Json | undefined;
    const file = /^file\((.+)\)$/.exec(ref);
    if (file?.[1]) value = this.resolve(parse(readFileSync(join(this.root, file[1]), 'utf8')) as Json);
    else if (ref.startsWith('self:')) value = this.resolve(this.lookup(ref.slice(5)) ?? null);
    else if (ref === 'sls:stage' || ref === 'opt:stage') value = LOCAL_STAGE;
    else if (ref === 'aws:region' || ref === 'opt:region') value = LOCAL_REGION;
    else if (ref === 'aws:accountId') value = LOCAL_ACCOUNT;
    else if (ref === 'sls:instanceId') value = 'local';
    else if (ref.startsWith('param:')) value = this.lookup(`params.default.${ref.slice(6)}`);
    else if (ref.startsWith('env:')) value = process.env[ref.slice(4)];
    return value ?? (fallbackParts.length > 0 ? fallback : undefined);
  }

  resolve(node: Json): Json {
    if (typeof node === 'string') {
      const whole = /^\$\{([^{}]+)\}$/.exec(node);
      if (whole?.[1]) return this.variable(whole[1]) ?? node;
      return node.replace(VARIABLE, (m, expr: string) => {
        const v = this.variable(expr);
        return v === undefined || typeof v === 'object' ? m : String(v);
      });
    }
    if (Array.isArray(node)) return node.map((n) => this.resolve(n));
    if (node && typeof node === 'object') {
      if (typeof node.Ref === 'string' && Object.keys(node).length === 1) return node.Ref;
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, this.resolve(v)]));
    }
    return node;
  }
}

function asRecord(value: unknown, what: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value))
    throw new Error(`serverless.yml: ${what} is not a mapping`);
  return value as Record<string, unknown>;
}

/** Loads serverless.yml (and the files it includes) from a project root. */
export function loadServerlessProject(root: string): ServerlessProject {
  const raw = parse(readFileSync(join(root, 'serverless.yml'), 'utf8')) as Record<string, Json>;
  const resolver = new Resolver(root, raw);
  const doc = asRecord(resolver.resolve(raw), 'the document');
  const provider = asRecord(doc.provider, 'provider');
  const defaultTimeout = Number(provider.timeout ?? 6);
  const authorizers = asRecord(asRecord(provider.httpApi ?? {}, 'provider.httpApi').authorizers ?? {}, 'authorizers');
  const authorizerOf = (name: string | undefined): LocalAuthorizer | undefined => {
    if (!name) return undefined;
    const a = asRecord(authorizers[name], `provider.httpApi.authorizers.${name}`);
    const identityHeaders = [a.identitySource ?? []].flat().map((source) => {
      const header = /^\$request\.header\.(.+)$/.exec(String(source))?.[1];
      if (!header) throw new Error(`serverless.yml: authorizer ${name} must take its identity from headers`);
      return header.toLowerCase();
    });
    const ttlSeconds = Number(a.resultTtlInSeconds ?? 0);
    if (ttlSeconds > 0 && identityHeaders.length === 0) {
      throw new Error(`serverless.yml: authorizer ${name} caches verdicts, so it needs an identitySource`);
    }
    return { functionKey: String(a.functionName), identityHeaders, ttlSeconds };
  };

  const functions = new Map<string, LocalFunction>();
  for (const [key, value] of Object.entries(asRecord(doc.functions ?? {}, 'functions'))) {
    const fn = asRecord(value, `functions.${key}`);
    const events = (fn.events ?? []) as Record<string, unknown>[];
    functions.set(key, {
      key,
      handler: String(fn.handler),
      timeoutSeconds: Number(fn.timeout ?? defaultTimeout),
      environment: {
        ...asRecord(provider.environment ?? {}, 'provider.environment'),
        ...asRecord(fn.environment ?? {}, 'environment'),
      },
      httpRoutes: events
        .map((e) => e.httpApi as { method?: string; path?: string; authorizer?: { name?: string } } | undefined)
        .filter((h): h is { method: string; path: string; authorizer?: { name?: string } } =>
          Boolean(h?.method && h.path),
        )
        .map((h) => {
          const authorizer = authorizerOf(h.authorizer?.name);
          return { method: h.method.toUpperCase(), path: h.path, ...(authorizer ? { authorizer } : {}) };
        }),
    });
  }

  const rawMachines = asRecord(asRecord(raw.stepFunctions ?? {}, 'stepFunctions').stateMachines ?? {}, 'stateMachines');
  const resolvedMachines = asRecord(
    asRecord(doc.stepFunctions ?? {}, 'stepFunctions').stateMachines ?? {},
    'stateMachines',
  );
  const stateMachines = new Map<string, LocalStateMachine>();
  for (const [key, value] of Object.entries(resolvedMachines)) {
    const sm = asRecord(value, `stateMachines.${key}`);
    const source = String(asRecord(rawMachines[key], key).definition ?? '');
    const file = /file\((.+\.asl\.ya?ml)\)/.exec(source)?.[1];
    if (!file)
      throw new Error(
        `serverless.yml: state machine ${key} must load its definition with \${file(statemachines/<id>.asl.yaml)}`,
      );
    const id = basename(file).replace(/\.asl\.ya?ml$/, '');
    const events = (sm.events ?? []) as Record<string, unknown>[];
    const rules = events
      .map((e) => e.eventBridge as { event?: Record<string, unknown>; eventBusName?: string } | undefined)
      .filter((e): e is { event: Record<string, unknown>; eventBusName?: string } => Boolean(e?.event))
      .map((e) => ({ pattern: e.event, eventBusName: e.eventBusName ?? 'default' }));
    stateMachines.set(id, {
      id,
      key,
      name: String(sm.name ?? key),
      type: sm.type === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
      definition: asRecord(sm.definition, `${key}.definition`),
      rules,
    });
  }

  const resources: ServerlessProject['resources'] = {};
  const blocks = Array.isArray(doc.resources) ? doc.resources : [doc.resources ?? {}];
  for (const block of blocks) Object.assign(resources, asRecord(block, 'resources').Resources ?? {});

  return { root, service: String(doc.service), functions, stateMachines, resources };
}
