/**
 * EventBridge event patterns for the local bus: the content filtering documented in the EventBridge
 * user guide, with the edge cases the guide leaves open (null, arrays, validation) settled the way
 * aws/event-ruler, the open-source matcher behind EventBridge, settles them.
 *
 * A pattern is compiled into predicates (throwing on anything invalid) and then run against the event.
 */

export type EventPattern = Record<string, unknown>;

/** The pattern is not one EventBridge would accept (PutRule answers InvalidEventPatternException). */
export class InvalidEventPatternError extends Error {
  override readonly name = 'InvalidEventPatternError';
}

/** A JSON value that is not an object or an array: what conditions are compared with. */
type Leaf = string | number | boolean | null;
type LeafPredicate = (leaf: Leaf) => boolean;
/** Tests the leaf values found at one field (several when the event holds an array there). */
type FieldTest = (leaves: readonly Leaf[]) => boolean;
type ObjectTest = (object: Record<string, unknown>) => boolean;
type NumericOperator = '=' | '<' | '<=' | '>' | '>=';

const OR_KEY = '$or';
// event-ruler's RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP: field names rejected anywhere inside $or.
const RESERVED_INSIDE_OR = new Set([
  'exactly',
  'equals-ignore-case',
  'prefix',
  'suffix',
  'anything-but',
  'exists',
  'wildcard',
  'numeric',
  'cidr',
  '=',
  '<',
  '<=',
  '>',
  '>=',
  'regex',
  'not-wildcard',
  'not-equals-ignore-case',
  'date-after',
  'date-on-or-after',
  'date-before',
  'date-on-or-before',
  'in-date-range',
  'ip-address-in-range',
  'ip-address-not-in-range',
]);
const NUMERIC_RANGE_HELP =
  'numeric needs ["=", n], [">" | ">=" | "<" | "<=", n] or [">" | ">=", low, "<" | "<=", high]';

/** Throws InvalidEventPatternError when the pattern is not a valid EventBridge event pattern. */
export function validateEventPattern(pattern: unknown): asserts pattern is EventPattern {
  compileFields(pattern, '', false);
}

/** True when the event matches the pattern under EventBridge's rules (throws on an invalid pattern). */
export function matchesEventPattern(pattern: EventPattern, event: Record<string, unknown>): boolean {
  return compileFields(pattern, '', false)(event);
}

// ---- structure: objects, fields, $or -----------------------------------------------------------

function compileFields(pattern: unknown, path: string, insideOr: boolean): ObjectTest {
  if (!isObject(pattern)) fail(path, 'must be an object');
  const entries = Object.entries(pattern);
  if (entries.length === 0) fail(path, 'empty objects are not allowed');
  const tests = entries.map(([key, spec]) => compileField(key, spec, joinPath(path, key), insideOr));
  return (object) => tests.every((test) => test(object));
}

function compileField(key: string, spec: unknown, path: string, insideOr: boolean): ObjectTest {
  if (insideOr && RESERVED_INSIDE_OR.has(key)) fail(path, `"${key}" is reserved and cannot name a field in $or`);
  if (key === OR_KEY) return compileOr(spec, path);
  if (Array.isArray(spec)) {
    const test = compileConditions(spec, path);
    return (object) => test(leavesOf(fieldOf(object, key)));
  }
  if (isObject(spec)) {
    const test = compileNested(spec, path, insideOr);
    return (object) => test(fieldOf(object, key));
  }
  return fail(path, 'must be an array of values and conditions, or a nested object (write ["x"], not "x")');
}

function compileOr(spec: unknown, path: string): ObjectTest {
  if (!Array.isArray(spec) || spec.length < 2) fail(path, '$or needs an array of at least two patterns');
  const alternatives = spec.map((alternative, index) => compileFields(alternative, `${path}[${index}]`, true));
  return (object) => alternatives.some((test) => test(object));
}

/** A nested pattern matches an object, or any object inside an array (all its fields from that same element). */
function compileNested(spec: Record<string, unknown>, path: string, insideOr: boolean): (value: unknown) => boolean {
  const test = compileFields(spec, path, insideOr);
  return (value) => {
    const objects = objectsIn(value);
    // A missing or non-object node still satisfies the {exists: false} leaves below it.
    return objects.length === 0 ? test({}) : objects.some(test);
  };
}

function compileConditions(spec: unknown[], path: string): FieldTest {
  if (spec.length === 0) fail(path, 'empty arrays are not allowed');
  const tests = spec.map((condition, index) => compileCondition(condition, `${path}[${index}]`));
  return (leaves) => tests.some((test) => test(leaves));
}

function compileCondition(condition: unknown, path: string): FieldTest {
  if (isLeaf(condition)) return anyLeaf((leaf) => leaf === condition);
  if (!isObject(condition)) fail(path, 'must be a string, number, boolean, null or a condition object');
  const entries = Object.entries(condition);
  const entry = entries[0];
  if (entries.length !== 1 || entry === undefined) fail(path, 'a condition object must have exactly one operator');
  const [operator, operand] = entry;
  switch (operator) {
    case 'prefix':
      return anyLeaf(prefixMatcher(operand, path));
    case 'suffix':
      return anyLeaf(suffixMatcher(operand, path));
    case 'equals-ignore-case':
      return anyLeaf(equalsIgnoreCaseMatcher(operand, path));
    case 'wildcard':
      return anyLeaf(wildcardMatcher(operand, path));
    case 'anything-but':
      return anyLeaf(anythingButMatcher(operand, path));
    case 'numeric':
      return anyLeaf(numericMatcher(operand, path));
    case 'cidr':
      return anyLeaf(cidrMatcher(operand, path));
    case 'exists':
      return existsTest(operand, path);
    default:
      if (operator === 'Ref' || operator.startsWith('Fn::')) {
        fail(path, `unresolved CloudFormation intrinsic "${operator}": resolve it before matching`);
      }
      return fail(path, `unknown operator "${operator}"`);
  }
}

// ---- operators ---------------------------------------------------------------------------------

function prefixMatcher(operand: unknown, path: string): LeafPredicate {
  const { text, ignoreCase } = affixOperand(operand, 'prefix', path);
  if (ignoreCase) return (leaf) => typeof leaf === 'string' && leaf.toLowerCase().startsWith(text);
  return (leaf) => typeof leaf === 'string' && leaf.startsWith(text);
}

function suffixMatcher(operand: unknown, path: string): LeafPredicate {
  const { text, ignoreCase } = affixOperand(operand, 'suffix', path);
  if (ignoreCase) return (leaf) => typeof leaf === 'string' && leaf.toLowerCase().endsWith(text);
  return (leaf) => typeof leaf === 'string' && leaf.endsWith(text);
}

/** Reads `"x"` or `{"equals-ignore-case": "x"}` (then lower-cased) for prefix and suffix. */
function affixOperand(operand: unknown, operator: string, path: string): { text: string; ignoreCase: boolean } {
  if (typeof operand === 'string') return { text: operand, ignoreCase: false };
  if (isObject(operand) && Object.keys(operand).length === 1 && typeof operand['equals-ignore-case'] === 'string') {
    return { text: operand['equals-ignore-case'].toLowerCase(), ignoreCase: true };
  }
  return fail(path, `${operator} needs a string or {"equals-ignore-case": string}`);
}

function equalsIgnoreCaseMatcher(operand: unknown, path: string): LeafPredicate {
  if (typeof operand !== 'string') fail(path, 'equals-ignore-case needs a string');
  const expected = operand.toLowerCase();
  return (leaf) => typeof leaf === 'string' && leaf.toLowerCase() === expected;
}

function wildcardMatcher(operand: unknown, path: string): LeafPredicate {
  if (typeof operand !== 'string') fail(path, 'wildcard needs a string');
  const parts = parseWildcard(operand, path);
  return (leaf) => typeof leaf === 'string' && matchesWildcard(leaf, parts);
}

/** Splits a wildcard on its unescaped `*`; only `\*` and `\\` are escapes, and `**` is refused. */
function parseWildcard(wildcard: string, path: string): string[] {
  const parts: string[] = [];
  let literal = '';
  for (let index = 0; index < wildcard.length; index += 1) {
    const char = wildcard.charAt(index);
    if (char === '*') {
      if (wildcard.charAt(index + 1) === '*') fail(path, `consecutive wildcard characters at position ${index}`);
      parts.push(literal);
      literal = '';
    } else if (char === '\\') {
      const escaped = wildcard.charAt(index + 1);
      if (escaped !== '*' && escaped !== '\\') fail(path, `invalid escape at position ${index}: only \\* and \\\\`);
      literal += escaped;
      index += 1;
    } else {
      literal += char;
    }
  }
  parts.push(literal);
  return parts;
}

/** Literal parts must appear in order; the first anchors the start and the last the end. */
function matchesWildcard(text: string, parts: readonly string[]): boolean {
  const first = parts[0] ?? '';
  const last = parts[parts.length - 1] ?? '';
  if (parts.length === 1) return text === first;
  if (text.length < first.length + last.length || !text.startsWith(first) || !text.endsWith(last)) return false;
  const end = text.length - last.length;
  let position = first.length;
  for (const middle of parts.slice(1, -1)) {
    const found = text.indexOf(middle, position);
    if (found === -1 || found + middle.length > end) return false;
    position = found + middle.length;
  }
  return true;
}

/** Matches every present value except those excluded; values of another type are never excluded. */
function anythingButMatcher(operand: unknown, path: string): LeafPredicate {
  if (isObject(operand)) return anythingButStringMatcher(operand, path);
  const values: unknown[] = Array.isArray(operand) ? operand : [operand];
  if (values.length === 0 || !(values.every(isString) || values.every(isFiniteNumber))) {
    fail(path, 'anything-but needs a string, a number, a list of only strings or only numbers, or an operator object');
  }
  // A Set compares numbers by value and never equates a number with a string.
  const excluded = new Set<unknown>(values);
  return (leaf) => !excluded.has(leaf);
}

function anythingButStringMatcher(operand: Record<string, unknown>, path: string): LeafPredicate {
  const entries = Object.entries(operand);
  const entry = entries[0];
  if (entries.length !== 1 || entry === undefined) fail(path, 'anything-but takes exactly one operator');
  const [operator, value] = entry;
  switch (operator) {
    case 'prefix':
    case 'suffix': {
      const affixes = stringList(value, `anything-but ${operator}`, path);
      if (affixes.includes('')) fail(path, `anything-but ${operator} cannot be empty`);
      if (operator === 'prefix') {
        return (leaf) => typeof leaf !== 'string' || !affixes.some((affix) => leaf.startsWith(affix));
      }
      return (leaf) => typeof leaf !== 'string' || !affixes.some((affix) => leaf.endsWith(affix));
    }
    case 'equals-ignore-case': {
      const lowered = stringList(value, `anything-but ${operator}`, path).map((text) => text.toLowerCase());
      return (leaf) => typeof leaf !== 'string' || !lowered.includes(leaf.toLowerCase());
    }
    case 'wildcard': {
      const wildcards = stringList(value, `anything-but ${operator}`, path).map((text) => parseWildcard(text, path));
      return (leaf) => typeof leaf !== 'string' || !wildcards.some((parts) => matchesWildcard(leaf, parts));
    }
    default:
      return fail(path, `anything-but does not support "${operator}"`);
  }
}

/** Reads a string or a non-empty list of strings. */
function stringList(value: unknown, operator: string, path: string): string[] {
  const strings: unknown[] = Array.isArray(value) ? value : [value];
  if (strings.length === 0 || !strings.every(isString)) fail(path, `${operator} needs a string or a list of strings`);
  return strings;
}

function numericMatcher(operand: unknown, path: string): LeafPredicate {
  const bounds = parseNumericRange(operand, path);
  return (leaf) =>
    typeof leaf === 'number' && bounds.every(([operator, limit]) => compareNumbers(leaf, operator, limit));
}

function parseNumericRange(operand: unknown, path: string): [NumericOperator, number][] {
  if (!Array.isArray(operand)) fail(path, NUMERIC_RANGE_HELP);
  const items: unknown[] = operand;
  const [operator, limit, upperOperator, upperLimit] = items;
  if (items.length === 2 && isNumericOperator(operator) && isFiniteNumber(limit)) return [[operator, limit]];
  const isLower = operator === '>' || operator === '>=';
  const isUpper = upperOperator === '<' || upperOperator === '<=';
  if (items.length === 4 && isLower && isUpper && isFiniteNumber(limit) && isFiniteNumber(upperLimit)) {
    if (limit >= upperLimit) fail(path, `numeric range is empty: ${limit} is not below ${upperLimit}`);
    return [
      [operator, limit],
      [upperOperator, upperLimit],
    ];
  }
  return fail(path, NUMERIC_RANGE_HELP);
}

function compareNumbers(value: number, operator: NumericOperator, limit: number): boolean {
  switch (operator) {
    case '=':
      return value === limit;
    case '<':
      return value < limit;
    case '<=':
      return value <= limit;
    case '>':
      return value > limit;
    case '>=':
      return value >= limit;
  }
}

function cidrMatcher(operand: unknown, path: string): LeafPredicate {
  if (typeof operand !== 'string') fail(path, 'cidr needs a string such as "10.0.0.0/24"');
  const block = parseCidr(operand);
  if (block === undefined) fail(path, `"${operand}" is not an IPv4 block with a /0-/31 mask or IPv6 with /0-/127`);
  return (leaf) => {
    const address = typeof leaf === 'string' ? parseIp(leaf) : undefined;
    return address?.width === block.width && address.value >> block.hostBits === block.network;
  };
}

function parseCidr(text: string): { width: number; hostBits: bigint; network: bigint } | undefined {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(text);
  const ip = match?.[1] === undefined ? undefined : parseIp(match[1]);
  const mask = Number(match?.[2]);
  // event-ruler refuses a full-length mask (/32, /128): a single address is written as a plain value.
  if (ip === undefined || mask >= ip.width) return undefined;
  const hostBits = BigInt(ip.width - mask);
  return { width: ip.width, hostBits, network: ip.value >> hostBits };
}

function parseIp(text: string): { width: number; value: bigint } | undefined {
  return text.includes(':') ? parseIpv6(text) : parseIpv4(text);
}

function parseIpv4(text: string): { width: number; value: bigint } | undefined {
  const octets = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text)?.slice(1).map(Number);
  if (octets === undefined || octets.some((octet) => octet > 255)) return undefined;
  return { width: 32, value: octets.reduce((value, octet) => (value << 8n) | BigInt(octet), 0n) };
}

function parseIpv6(text: string): { width: number; value: bigint } | undefined {
  const halves = text.split('::');
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string | undefined): string[] => (half ? half.split(':') : []);
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const zeros = 8 - head.length - tail.length;
  if (halves.length === 1 ? zeros !== 0 : zeros < 1) return undefined;
  const groups = [...head, ...new Array<string>(Math.max(zeros, 0)).fill('0'), ...tail];
  if (!groups.every((group) => /^[0-9a-fA-F]{1,4}$/.test(group))) return undefined;
  return { width: 128, value: groups.reduce((value, group) => (value << 16n) | BigInt(`0x${group}`), 0n) };
}

/** exists:true needs a leaf value at the field (null counts); objects and empty arrays count as absent. */
function existsTest(operand: unknown, path: string): FieldTest {
  if (typeof operand !== 'boolean') fail(path, 'exists needs true or false');
  return (leaves) => leaves.length > 0 === operand;
}

// ---- helpers -----------------------------------------------------------------------------------

function anyLeaf(predicate: LeafPredicate): FieldTest {
  return (leaves) => leaves.some(predicate);
}

/** The leaf values at a field: the value itself, or the leaves of an array, nested arrays flattened. */
function leavesOf(value: unknown): Leaf[] {
  if (Array.isArray(value)) return value.flatMap(leavesOf);
  return isLeaf(value) ? [value] : [];
}

function objectsIn(value: unknown): Record<string, unknown>[] {
  if (Array.isArray(value)) return value.flatMap(objectsIn);
  return isObject(value) ? [value] : [];
}

function fieldOf(object: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isLeaf(value: unknown): value is Leaf {
  return value === null || ['string', 'number', 'boolean'].includes(typeof value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isNumericOperator(value: unknown): value is NumericOperator {
  return value === '=' || value === '<' || value === '<=' || value === '>' || value === '>=';
}

function joinPath(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function fail(path: string, message: string): never {
  throw new InvalidEventPatternError(`Invalid event pattern at ${path === '' ? 'the root' : path}: ${message}`);
}
