import { parseArgs } from 'node:util';
import { authSettingsFromEnv, mintToken } from '../functions/auth/verify-token.js';
import { runWhenMain } from './cli.js';

/**
 * `npm run token -- <userId> [--tenant <id>] [--ttl <seconds>]`: prints a bearer token for the local API,
 * signed with AUTH_JWT_SECRET / AUTH_JWT_ISSUER / AUTH_JWT_AUDIENCE (or their development defaults).
 */
const USAGE = 'usage: npm run token -- <userId> [--tenant <id>] [--ttl <seconds>]';

/**
 * A command that works as printed, pasted into another shell while `npm start` runs: the same user and tenant
 * (tenant `default`, which owns the sample corpus, when none was given), the server's address (PORT/HOST as
 * `npm start` reads them) and a question the sample corpus answers.
 */
export function tryHint(userId: string, tenant: string | undefined, env: NodeJS.ProcessEnv): string {
  const host = env.HOST ?? '127.0.0.1';
  // a shell default, not a template placeholder: the shell that runs the hint fills it in
  const port = env.PORT ?? `\${PORT:-3000}`;
  const args = [userId, '--tenant', tenant ?? 'default'].map(shellWord).join(' ');
  const lines = [
    `try (with npm start running): export TOKEN=$(npm run -s token -- ${args})`,
    `  curl -s http://${host}:${port}/v1/ask -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '{"question":"Who built the Bell Rock Lighthouse and when was it first lit?"}'`,
  ];
  if (tenant === undefined)
    lines.push("(without --tenant the token's tenant is the user id, which owns no sample documents)");
  return lines.join('\n');
}

/** Quotes a word for a POSIX shell unless it is plainly safe. */
function shellWord(word: string): string {
  return /^[A-Za-z0-9_.:@%+=,/-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

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
  process.stderr.write(`${tryHint(userId, values.tenant, process.env)}\n`);
}

runWhenMain(import.meta.url, async () => {
  await main();
  return 0;
});
