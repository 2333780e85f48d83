import '../local/polyfills.js';
import 'aws-sdk-client-mock-jest';

// Handlers log through Powertools; tests assert on behaviour, not log lines.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
// The hashed embedder keeps the suite fast; tests/unit/use-lite-embedder.test.ts covers the local model.
process.env.EMBEDDER ??= 'hashed';
