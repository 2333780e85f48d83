import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { emitWarningIfUnsupportedVersion, state } from '@aws-sdk/core/client';
import { jest } from '@jest/globals';

const require = createRequire(import.meta.url);
const semver = require('semver') as { satisfies(version: string, range: string, options?: object): boolean };

/**
 * The supported Node versions (README, "Node.js versions"): development and CI on Node 20.19+, Lambda on
 * nodejs22.x. Packages that declare Node 22 yet run the suite on Node 20 are listed here and in .npmrc.
 */
const DEVELOPMENT_NODE = '20.19.0';
const LAMBDA_NODE = '22.12.0';
const DECLARE_22_BUT_RUN_ON_20 = ['aws-local-stepfunctions', 'serverless-step-functions'];

interface LockEntry {
  engines?: { node?: string } | string[];
  optional?: boolean;
  dev?: boolean;
}

const lock = JSON.parse(readFileSync('package-lock.json', 'utf8')) as { packages: Record<string, LockEntry> };
const manifest = JSON.parse(readFileSync('package.json', 'utf8')) as { engines: { node: string } };

function nodeRange(entry: LockEntry): string | undefined {
  return Array.isArray(entry.engines) ? undefined : entry.engines?.node;
}

describe('supported Node versions', () => {
  it('the project declares both the development and the Lambda Node versions', () => {
    expect(semver.satisfies(DEVELOPMENT_NODE, manifest.engines.node)).toBe(true);
    expect(semver.satisfies(LAMBDA_NODE, manifest.engines.node)).toBe(true);
  });

  it('every installed package accepts Node 20.19, except the listed development tools', () => {
    const refusing = Object.entries(lock.packages)
      .filter(([path, entry]) => path !== '' && !entry.optional)
      .filter(([, entry]) => {
        const range = nodeRange(entry);
        return range !== undefined && !semver.satisfies(DEVELOPMENT_NODE, range, { includePrerelease: true });
      })
      .map(([path, entry]) => ({ name: path.replace(/^.*node_modules\//, ''), dev: entry.dev === true }));

    expect(refusing.map((p) => p.name).sort()).toEqual(DECLARE_22_BUT_RUN_ON_20);
    // none of them ships in a Lambda bundle
    expect(refusing.every((p) => p.dev)).toBe(true);
  });

  it('every production dependency (what a Lambda bundle can hold) accepts the Lambda runtime (nodejs22.x)', () => {
    const refusing = Object.entries(lock.packages).filter(([path, entry]) => {
      const range = nodeRange(entry);
      return (
        path !== '' && !entry.dev && !entry.optional && range !== undefined && !semver.satisfies(LAMBDA_NODE, range)
      );
    });

    expect(refusing.map(([path]) => path)).toEqual([]);
  });
});

describe("the AWS SDK's Node version warning", () => {
  const VARIABLE = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env[VARIABLE];
    state.warningEmitted = false;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env[VARIABLE];
    else process.env[VARIABLE] = saved;
  });

  it('is off in the local runtime and the tests (local/polyfills.ts)', () => {
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);

    emitWarningIfUnsupportedVersion('v20.19.0');

    expect(process.env[VARIABLE]).toBe('true');
    expect(warn).not.toHaveBeenCalled();
  });

  it('is what the installed SDK would print on Node 20 without that variable', () => {
    delete process.env[VARIABLE];
    const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);

    emitWarningIfUnsupportedVersion('v20.19.0');

    expect(warn).toHaveBeenCalledWith(expect.stringContaining('NodeVersionSupportWarning'));
  });
});
