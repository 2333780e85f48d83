import { pathToFileURL } from 'node:url';

/**
 * Runs a script's `main(argv)` when the module is the entry point (not when a test imports it): exits with the code
 * it returns, or 1 after printing an error it throws.
 */
export function runWhenMain(moduleUrl: string, main: (argv: string[]) => Promise<number>, showStack = false): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const text = err instanceof Error ? (showStack ? (err.stack ?? err.message) : err.message) : String(err);
      process.stderr.write(`${text}\n`);
      process.exit(1);
    },
  );
}
