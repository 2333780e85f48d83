import { parseConfig, requireResourceNames } from '../../functions/shared/config.js';
import { ConfigurationError } from '../../functions/shared/errors.js';

describe('parseConfig', () => {
  it('applies the documented defaults', () => {
    const config = parseConfig({});

    expect(config.modelProvider).toBe('offline');
    expect(config.embedding).toEqual({
      provider: 'use-lite',
      modelId: 'energetic-ai/universal-sentence-encoder-lite@0.2.0',
      dimensions: 512,
    });
    expect(config.search.maxTopK).toBe(100);
    expect(config.search.bm25).toEqual({ k1: 0.9, b: 0.4 });
    expect(config.search.fusion).toEqual({ method: 'weighted', vectorWeight: 0.3 });
    expect(config.maxDocumentBytes).toBe(10 * 1024 * 1024);
  });

  it('picks the embedder: Titan with Bedrock, the hashed one on request, and refuses a dimension USE lite lacks', () => {
    expect(parseConfig({ MODEL_PROVIDER: 'bedrock' }).embedding).toEqual({
      provider: 'bedrock',
      modelId: 'amazon.titan-embed-text-v2:0',
      dimensions: 1024,
    });
    expect(parseConfig({ EMBEDDER: 'hashed', EMBEDDING_DIMENSIONS: '256' }).embedding).toEqual({
      provider: 'hashed',
      modelId: 'offline/hashed-bow-v1',
      dimensions: 256,
    });
    expect(() => parseConfig({ EMBEDDER: 'use-lite', EMBEDDING_DIMENSIONS: '1024' })).toThrow(ConfigurationError);
    expect(() => parseConfig({ SEARCH_FUSION: 'max' })).toThrow(/SEARCH_FUSION/);
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
