import type { Ports } from '../../shared/runtime.js';
import { type EmitInput, MEMORY_EVENT_SOURCE } from './schemas.js';

/** EmitFactsChanged: tells the bus which of a user's attributes changed (invalidate-stale-keys listens). */
export async function emitFactsChanged(input: EmitInput, deps: Pick<Ports, 'events'>): Promise<void> {
  await deps.events.publish([
    {
      source: MEMORY_EVENT_SOURCE,
      detailType: 'FactsChanged',
      detail: {
        userId: input.userId,
        tenantId: input.tenantId,
        attributes: input.attributes,
        sourceEventId: input.sourceEventId,
      },
    },
  ]);
}
