import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import type { EventPublisher } from '../ports.js';

const client = new EventBridgeClient({});

/** PutEvents accepts at most 10 entries per call. */
const MAX_ENTRIES = 10;

/** EventPublisher over one EventBridge bus; a partially failed PutEvents throws, naming the failures. */
export function createEventBridgePublisher(busName: string): EventPublisher {
  return {
    async publish(events) {
      for (let i = 0; i < events.length; i += MAX_ENTRIES) {
        const entries = events.slice(i, i + MAX_ENTRIES).map((e) => ({
          EventBusName: busName,
          Source: e.source,
          DetailType: e.detailType,
          Detail: JSON.stringify(e.detail),
        }));
        const res = await client.send(new PutEventsCommand({ Entries: entries }));
        if ((res.FailedEntryCount ?? 0) > 0) {
          const codes = (res.Entries ?? []).filter((e) => e.ErrorCode).map((e) => `${e.ErrorCode}: ${e.ErrorMessage}`);
          throw new Error(
            `PutEvents failed for ${res.FailedEntryCount} of ${entries.length} events: ${codes.join('; ')}`,
          );
        }
      }
    },
  };
}
