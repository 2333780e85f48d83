import { parseConfig, requireResourceNames } from '../../functions/shared/config.js';
import { ConfigurationError } from '../../functions/shared/errors.js';

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    const config = parseConfig({});

    expect(config.modelProvider).toBe('offline');
    expect(config.embedding).toEqual({ modelId: 'amazon.titan-embed-text-v2:0', dimensions: 1024 });
    expect(config.maxDocumentBytes).toBe(10 * 1024 * 1024);
  });

  it('names every invalid variable', () => {
    const parse = () => parseConfig({ EMBEDDING_DIMENSIONS: '300', MODEL_PROVIDER: 'openai' });

    expect(parse).toThrow(ConfigurationError);
    expect(parse).toThrow(/EMBEDDING_DIMENSIONS.*MODEL_PROVIDER|MODEL_PROVIDER.*EMBEDDING_DIMENSIONS/);
  });

  it('rejects an overlap as large as the chunk', () => {
    expect(() => parseConfig({ CHUNK_MAX_TOKENS: '100', CHUNK_OVERLAP_TOKENS: '100' })).toThrow(/OVERLAP/);
  });
});

describe('requireResourceNames', () => {
  it('fails fast on missing resource names instead of defaulting', () => {
    expect(() => requireResourceNames(['DOCUMENTS_BUCKET', 'DB_NAME'], { DB_NAME: 'x' })).toThrow(/DOCUMENTS_BUCKET/);
  });
});
