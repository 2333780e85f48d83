// The CloudFront Function's source as text, for `${file(scripts/edge-function-code.cjs):code}` in resources/edge.yml.
// functions/edge/precomputed.js is ESM (`import cf from 'cloudfront'`): `${file(...)}` would `require` it and fail.
// osls requires this CommonJS file instead and calls `code` when it follows the `:code` address. The address form
// also keeps local/serverless-project.ts (which YAML-parses plain `${file(x)}` references) from reading this file.
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

const SOURCE = join(__dirname, '..', 'functions', 'edge', 'precomputed.js');
// The CloudFront Functions quota on function code (and the design limit in functions/edge/README.md).
const MAX_BYTES = 10_240;

/** Reads the edge function's source, refusing code over the 10 KB CloudFront Functions limit. */
function code() {
  const text = readFileSync(SOURCE, 'utf8');
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_BYTES) {
    throw new Error(
      `functions/edge/precomputed.js is ${bytes} bytes; CloudFront Functions accept at most ${MAX_BYTES}`,
    );
  }
  return text;
}

module.exports = { code };
