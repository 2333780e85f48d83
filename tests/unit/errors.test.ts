import { BedrockRuntimeClient, ConverseCommand } from '@aws-sdk/client-bedrock-runtime';
import { mockClient } from 'aws-sdk-client-mock';
import {
  ERROR_NAMES,
  isTransient,
  ModelThrottledError,
  UnsupportedContentTypeError,
} from '../../functions/shared/errors.js';

describe('named errors', () => {
  it('carry their class name as the name Step Functions matches on', () => {
    expect(new ModelThrottledError('x').name).toBe('ModelThrottledError');
    expect(ERROR_NAMES).toContain('UnsupportedContentTypeError');
    expect(new Set(ERROR_NAMES).size).toBe(ERROR_NAMES.length);
  });

  it('mark only transient failures as retryable', () => {
    expect(isTransient(new ModelThrottledError('x'))).toBe(true);
    expect(isTransient(new UnsupportedContentTypeError('x'))).toBe(false);
    expect(isTransient(new Error('x'))).toBe(false);
  });

  it('works with aws-sdk-client-mock matchers', async () => {
    const bedrock = mockClient(BedrockRuntimeClient);
    bedrock.on(ConverseCommand).resolves({});
    await new BedrockRuntimeClient({ region: 'us-east-1' }).send(new ConverseCommand({ modelId: 'm', messages: [] }));
    expect(bedrock).toHaveReceivedCommandTimes(ConverseCommand, 1);
  });
});
