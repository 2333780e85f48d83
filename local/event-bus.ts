import { randomUUID } from 'node:crypto';
import type { AppEvent, EventPublisher } from '../functions/shared/ports.js';
import { matchesEventPattern } from './event-pattern.js';
import { LOCAL_ACCOUNT, LOCAL_REGION, type ServerlessProject } from './serverless-project.js';
import type { LocalStepFunctions } from './step-functions.js';

/** One PutEvents entry, as the EventBridge API takes it. */
export interface PutEventsEntry {
  Source: string;
  DetailType: string;
  /** A JSON object, as a string (or, locally, already an object). */
  Detail: string | Record<string, unknown>;
  EventBusName?: string;
  Resources?: string[];
  Time?: string;
}

export interface PutEventsResultEntry {
  EventId?: string;
  ErrorCode?: string;
  ErrorMessage?: string;
  /** Local only: the executions the event started. */
  Executions?: { executionId: string; stateMachine: string }[];
}

/** EventBridge's limit for one event (entry size). */
const MAX_EVENT_BYTES = 256 * 1024;

/**
 * The local EventBridge: the rules are the `eventBridge` events of serverless.yml's state machines,
 * matched in process with EventBridge's pattern semantics; a match starts the machine with the event.
 * Entries that name no bus go to the application bus (in AWS, PutEvents without a bus uses `default`).
 */
export class LocalEventBus {
  constructor(
    private readonly project: ServerlessProject,
    private readonly sfn: LocalStepFunctions,
    readonly appBusName: string,
  ) {}

  /** PutEvents: validates each entry, delivers it to every matching rule, reports per entry. */
  putEvents(entries: readonly PutEventsEntry[]): { FailedEntryCount: number; Entries: PutEventsResultEntry[] } {
    const results = entries.map((entry) => this.putOne(entry));
    return { FailedEntryCount: results.filter((r) => r.ErrorCode).length, Entries: results };
  }

  /** Builds the event EventBridge would deliver for an entry. */
  toEvent(entry: PutEventsEntry, detail: Record<string, unknown>): Record<string, unknown> {
    return {
      version: '0',
      id: randomUUID(),
      'detail-type': entry.DetailType,
      source: entry.Source,
      account: LOCAL_ACCOUNT,
      time: entry.Time ?? new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      region: LOCAL_REGION,
      resources: entry.Resources ?? [],
      detail,
    };
  }

  private putOne(entry: PutEventsEntry): PutEventsResultEntry {
    if (!entry || typeof entry.Source !== 'string' || entry.Source.length === 0) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Source is required' };
    }
    if (typeof entry.DetailType !== 'string' || entry.DetailType.length === 0) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'DetailType is required' };
    }
    let detail: unknown;
    try {
      detail = typeof entry.Detail === 'string' ? JSON.parse(entry.Detail) : entry.Detail;
    } catch {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail is not valid JSON' };
    }
    if (!detail || typeof detail !== 'object' || Array.isArray(detail)) {
      return { ErrorCode: 'MalformedDetail', ErrorMessage: 'Detail must be a JSON object' };
    }
    const event = this.toEvent(entry, detail as Record<string, unknown>);
    if (Buffer.byteLength(JSON.stringify(event)) > MAX_EVENT_BYTES) {
      return { ErrorCode: 'EventTooLarge', ErrorMessage: `an event may be at most ${MAX_EVENT_BYTES} bytes` };
    }
    const bus = entry.EventBusName ?? this.appBusName;
    return { EventId: String(event.id), Executions: this.deliver(bus, event) };
  }

  /** Starts every state machine with a rule on `bus` that matches the event. */
  deliver(bus: string, event: Record<string, unknown>): { executionId: string; stateMachine: string }[] {
    const started: { executionId: string; stateMachine: string }[] = [];
    for (const machine of this.project.stateMachines.values()) {
      for (const rule of machine.rules) {
        if (rule.eventBusName !== bus || !matchesEventPattern(rule.pattern, event)) continue;
        const { record } = this.sfn.start(machine.id, event);
        started.push({ executionId: record.executionId, stateMachine: machine.id });
      }
    }
    return started;
  }

  /** An EventPublisher for handlers: publishes to the application bus. */
  publisher(): EventPublisher {
    return {
      publish: async (events: readonly AppEvent[]) => {
        const result = this.putEvents(
          events.map((e) => ({
            Source: e.source,
            DetailType: e.detailType,
            Detail: e.detail,
            EventBusName: this.appBusName,
          })),
        );
        if (result.FailedEntryCount > 0) {
          throw new Error(
            `PutEvents failed: ${result.Entries.map((e) => e.ErrorMessage)
              .filter(Boolean)
              .join('; ')}`,
          );
        }
      },
    };
  }
}
