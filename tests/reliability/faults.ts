import type { Ports, SqlClient } from '../../functions/shared/ports.js';

/** The port calls a fault-path test can make fail (or hold) on the local runtime. */
export type FaultSite =
  | 'sql'
  | 'embed'
  | 'text'
  | 'facts.upsert'
  | 'edge.putMany'
  | 'edge.deleteMany'
  | 'documents.get'
  | 'staging.get';

interface Plan {
  /** Matching calls let through before the plan acts. */
  skip: number;
  /** Matching calls the plan still acts on. */
  times: number;
  when: (args: readonly unknown[]) => boolean;
  /** Runs before the call (a hold, a concurrent change); then `error`, if any, is thrown instead of the call. */
  before?: (args: readonly unknown[]) => Promise<void>;
  error?: () => Error;
}

/**
 * Named errors raised from the ports the handlers call, as the AWS adapters raise them (IndexUnavailableError from
 * the RDS Data adapter, FactConflictError from the fact store, EdgeStoreConflictError from the KVS store, model
 * errors from Bedrock), so a state machine's Retry or Catch for that name runs for real. Install with
 * `startTestStack({ wrapPorts: faults.wrap })`; arm right before the step under test; `reset()` between tests.
 */
export class Faults {
  private plans = new Map<FaultSite, Plan[]>();
  /** Errors thrown so far, per site (a test asserts its fault did fire). */
  readonly raised = new Map<FaultSite, number>();
  /** Matching calls seen per site since the last reset (e.g. to count a step's SQL statements). */
  readonly calls = new Map<FaultSite, number>();

  /** The next `times` matching calls of `site` (after `skip`) throw `error()` instead of running. */
  fail(
    site: FaultSite,
    error: () => Error,
    options: { times?: number; skip?: number; when?: (args: readonly unknown[]) => boolean } = {},
  ): void {
    this.add(site, { skip: options.skip ?? 0, times: options.times ?? 1, when: options.when ?? (() => true), error });
  }

  /** Runs `before` ahead of the next matching call of `site` (once), which then proceeds. */
  intercept(
    site: FaultSite,
    before: (args: readonly unknown[]) => Promise<void>,
    options: { skip?: number; when?: (args: readonly unknown[]) => boolean } = {},
  ): void {
    this.add(site, { skip: options.skip ?? 0, times: 1, when: options.when ?? (() => true), before });
  }

  reset(): void {
    this.plans.clear();
    this.raised.clear();
    this.calls.clear();
  }

  /** Whether every armed plan has acted. */
  get spent(): boolean {
    return [...this.plans.values()].every((plans) => plans.length === 0);
  }

  private add(site: FaultSite, plan: Plan): void {
    this.plans.set(site, [...(this.plans.get(site) ?? []), plan]);
  }

  private async check(site: FaultSite, args: readonly unknown[]): Promise<void> {
    this.calls.set(site, (this.calls.get(site) ?? 0) + 1);
    const plans = this.plans.get(site) ?? [];
    const plan = plans.find((p) => p.when(args));
    if (!plan) return;
    if (plan.skip > 0) {
      plan.skip -= 1;
      return;
    }
    plan.times -= 1;
    if (plan.times <= 0) plans.splice(plans.indexOf(plan), 1);
    if (plan.before) await plan.before(args);
    if (plan.error) {
      this.raised.set(site, (this.raised.get(site) ?? 0) + 1);
      throw plan.error();
    }
  }

  private wrapSql(sql: SqlClient): SqlClient {
    const faults = this;
    const wrapped: SqlClient = {
      async query(text, params) {
        await faults.check('sql', [text, params]);
        return sql.query(text, params);
      },
      transaction(fn) {
        return sql.transaction((tx) => fn(faults.wrapSql(tx)));
      },
    };
    return wrapped;
  }

  /** The `wrapPorts` option of startLocalStack. */
  readonly wrap = (ports: Ports): Ports => {
    const check = (site: FaultSite, args: readonly unknown[]) => this.check(site, args);
    return {
      ...ports,
      sql: this.wrapSql(ports.sql),
      embedder: {
        modelId: ports.embedder.modelId,
        dimensions: ports.embedder.dimensions,
        async embed(texts) {
          await check('embed', [texts]);
          return ports.embedder.embed(texts);
        },
      },
      textModel: {
        async complete(request) {
          await check('text', [request]);
          return ports.textModel.complete(request);
        },
      },
      facts: {
        ...ports.facts,
        async upsert(fact) {
          await check('facts.upsert', [fact]);
          return ports.facts.upsert(fact);
        },
      },
      edge: {
        ...ports.edge,
        async putMany(entries) {
          await check('edge.putMany', [entries]);
          return ports.edge.putMany(entries);
        },
        async deleteMany(keys, options) {
          await check('edge.deleteMany', [keys, options]);
          return ports.edge.deleteMany(keys, options);
        },
      },
      documents: {
        ...ports.documents,
        async get(key) {
          await check('documents.get', [key]);
          return ports.documents.get(key);
        },
      },
      staging: {
        ...ports.staging,
        async get(key) {
          await check('staging.get', [key]);
          return ports.staging.get(key);
        },
      },
    };
  };
}
