import { parseArgs } from 'node:util';
import { authSettingsFromEnv, mintToken } from '../functions/auth/verify-token.js';

/**
 * `npm run token -- <userId> [--tenant <id>] [--ttl <seconds>]`: prints a bearer token for the local API,
 * signed with AUTH_JWT_SECRET / AUTH_JWT_ISSUER / AUTH_JWT_AUDIENCE (or their development defaults).
 */
const USAGE = 'usage: npm run token -- <userId> [--tenant <id>] [--ttl <seconds>]';

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { tenant: { type: 'string' }, ttl: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [userId, ...extra] = positionals;
  if (values.help || !userId || extra.length > 0) {
    process.stderr.write(`${USAGE}\n`);
    process.exit(values.help ? 0 : 2);
  }
  const ttl = values.ttl === undefined ? undefined : Number(values.ttl);
  if (ttl !== undefined && !(Number.isInteger(ttl) && ttl > 0)) {
    process.stderr.write(`--ttl must be a positive whole number of seconds\n${USAGE}\n`);
    process.exit(2);
  }
  const token = await mintToken(
    {
      sub: userId,
      ...(values.tenant === undefined ? {} : { tenant: values.tenant }),
      ...(ttl === undefined ? {} : { expiresInSeconds: ttl }),
    },
    authSettingsFromEnv(),
  );
  process.stdout.write(`${token}\n`);
  const base = `http://127.0.0.1:${process.env.PORT ?? 3000}`;
  process.stderr.write(
    `try: TOKEN=$(npm run -s token -- ${userId}) && curl -s ${base}/v1/ask -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"question":"…"}'\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}\n`);
  process.exit(1);
});
