import { jest } from '@jest/globals';
import type { Context } from 'aws-lambda';
import { EDGE_CONFIG_KEY } from '../../functions/edge/edge-store.js';
import { handler } from '../../functions/edge/maintain-edge-store.handler.js';
import { installPorts, type Ports } from '../../functions/shared/runtime.js';
import { createLocalEdgeStore } from '../../local/edge-store.js';

const context = {} as Context;
const customResource = (requestType: 'Create' | 'Delete') => ({
  RequestType: requestType,
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:composable-ai-dev-maintainEdgeStore',
  ResponseURL: 'https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/signed-url',
  StackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/composable-ai-dev/5b0b1d40',
  RequestId: 'req-1',
  LogicalResourceId: 'EdgeStoreSettings',
  ResourceType: 'Custom::EdgeStoreSettings',
  ResourceProperties: { ServiceToken: 'x' },
  ...(requestType === 'Delete' ? { PhysicalResourceId: 'edge-store-settings' } : {}),
});

describe('maintainEdgeStore handler', () => {
  let edge: ReturnType<typeof createLocalEdgeStore>;
  let fetchSpy: jest.SpiedFunction<typeof fetch>;
  beforeEach(() => {
    edge = createLocalEdgeStore();
    installPorts({ edge } as unknown as Ports);
    fetchSpy = jest.spyOn(globalThis, 'fetch').mockResolvedValue(new Response(null, { status: 200 }));
  });
  afterEach(() => fetchSpy.mockRestore());

  it('writes the token settings on the schedule without answering CloudFormation', async () => {
    const result = await handler({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context);

    expect(result).toMatchObject({ configWritten: true });
    expect(JSON.parse((await edge.get(EDGE_CONFIG_KEY)) ?? '{}')).toHaveProperty('secret');
    expect(fetchSpy).not.toHaveBeenCalled();
  });

  it('writes them on deploy and answers the custom resource with SUCCESS', async () => {
    const result = await handler(customResource('Create'), context);

    expect(result).toMatchObject({ Status: 'SUCCESS', Data: { ConfigWritten: 'true' } });
    expect(await edge.get(EDGE_CONFIG_KEY)).toBeDefined();
    const [url, init] = fetchSpy.mock.calls[0] ?? [];
    expect(url).toMatch(/signed-url$/);
    expect(JSON.parse(String(init?.body))).toMatchObject({ Status: 'SUCCESS', LogicalResourceId: 'EdgeStoreSettings' });
  });

  it('answers a Delete with SUCCESS and leaves the store alone', async () => {
    const result = await handler(customResource('Delete'), context);

    expect(result).toMatchObject({ Status: 'SUCCESS' });
    expect(await edge.get(EDGE_CONFIG_KEY)).toBeUndefined();
  });

  it('answers FAILED with the reason when the settings cannot be loaded, so the deploy does not hang', async () => {
    const secret = process.env.AUTH_JWT_SECRET;
    process.env.AUTH_JWT_SECRET = 'too-short';
    try {
      const result = await handler(customResource('Create'), context);

      expect(result).toMatchObject({
        Status: 'FAILED',
        Reason: expect.stringMatching(/ConfigurationError|AUTH_JWT_SECRET/),
      });
      expect(fetchSpy).toHaveBeenCalledTimes(1);
    } finally {
      if (secret === undefined) delete process.env.AUTH_JWT_SECRET;
      else process.env.AUTH_JWT_SECRET = secret;
    }
  });
});
