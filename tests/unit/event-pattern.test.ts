import {
  type EventPattern,
  InvalidEventPatternError,
  matchesEventPattern,
  validateEventPattern,
} from '../../local/event-pattern.js';

/** An S3 "Object Created" event as EventBridge delivers it (bucket notifications to EventBridge enabled). */
function objectCreatedEvent(): Record<string, unknown> {
  return {
    version: '0',
    id: '17793124-05d4-b198-2fde-7ededc63b103',
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '123456789012',
    time: '2026-11-12T00:00:00Z',
    region: 'eu-west-1',
    resources: ['arn:aws:s3:::composable-ai-documents-dev'],
    detail: {
      version: '0',
      bucket: { name: 'composable-ai-documents-dev' },
      object: {
        key: 'tenants/t-1/handbook.PDF',
        size: 5,
        etag: 'b1946ac92492d2347c6235b4d2611184',
        'version-id': 'IYV3p45BT0ac8hjHg1houSdS1a.Mf8mS',
        sequencer: '00617F08299329D189',
      },
      'request-id': 'N4N7GDK58NMKJ12R',
      requester: '123456789012',
      'source-ip-address': '10.0.0.33',
      reason: 'PutObject',
    },
  };
}

/** An application event posted to the app bus. */
function settingsChangedEvent(): Record<string, unknown> {
  return {
    version: '0',
    id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
    'detail-type': 'SettingsChanged',
    source: 'app.users',
    account: '123456789012',
    time: '2026-11-12T08:30:00Z',
    region: 'eu-west-1',
    resources: [],
    detail: {
      userId: 'u-1',
      settings: { theme: 'dark', beta: true, fontScale: 1.25 },
      tags: ['onboarding', 'mobile'],
      changes: [
        { field: 'theme', to: 'dark' },
        { field: 'language', to: 'fr' },
      ],
      deletedAt: null,
      nickname: '',
      clientIp: '2001:db8::8a2e:370:7334',
    },
  };
}

function expectInvalid(pattern: unknown, message: RegExp): void {
  expect(() => validateEventPattern(pattern)).toThrow(InvalidEventPatternError);
  expect(() => validateEventPattern(pattern)).toThrow(message);
}

describe('matchesEventPattern: structure', () => {
  it('matches the ingest rule on an S3 Object Created event (AND over fields, OR over values)', () => {
    const pattern: EventPattern = {
      source: ['aws.s3'],
      'detail-type': ['Object Created', 'Object Deleted'],
      detail: { bucket: { name: ['composable-ai-documents-dev'] } },
    };

    const matched = matchesEventPattern(pattern, objectCreatedEvent());

    expect(matched).toBe(true);
  });

  it('fails when any one field of the pattern fails', () => {
    const pattern: EventPattern = {
      source: ['aws.s3'],
      detail: { bucket: { name: ['composable-ai-documents-dev'] }, reason: ['CopyObject'] },
    };

    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(false);
  });

  it('ignores event fields the pattern does not name', () => {
    expect(matchesEventPattern({ 'detail-type': ['Object Created'] }, objectCreatedEvent())).toBe(true);
    expect(matchesEventPattern({ 'detail-type': ['Object Deleted'] }, objectCreatedEvent())).toBe(false);
  });

  it('recurses into nested objects and fails when the nested path is missing', () => {
    const event = settingsChangedEvent();

    expect(matchesEventPattern({ detail: { settings: { theme: ['dark'] } } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { settings: { theme: ['light'] } } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { preferences: { theme: ['dark'] } } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { userId: { id: ['u-1'] } } }, event)).toBe(false);
  });

  it.each([
    ['a number equal in value', { detail: { object: { size: [5.0] } } }, true],
    ['another number', { detail: { object: { size: [6] } } }, false],
    ['a string holding the number', { detail: { object: { size: ['5'] } } }, false],
    ['a number against a string field (account)', { account: [123456789012] }, false],
  ])('compares exact values by type and value: %s', (_case, pattern, expected) => {
    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(expected);
  });

  it.each([
    ['true matches true', { detail: { settings: { beta: [true] } } }, true],
    ['"true" does not match true', { detail: { settings: { beta: ['true'] } } }, false],
    ['null matches null', { detail: { deletedAt: [null] } }, true],
    ['"" does not match null', { detail: { deletedAt: [''] } }, false],
    ['null does not match ""', { detail: { nickname: [null] } }, false],
    ['"" matches ""', { detail: { nickname: [''] } }, true],
    ['null does not match a missing field', { detail: { archivedAt: [null] } }, false],
  ])('matches booleans, null and empty strings exactly: %s', (_case, pattern, expected) => {
    expect(matchesEventPattern(pattern, settingsChangedEvent())).toBe(expected);
  });

  it('matches an array field when any element matches', () => {
    const event = settingsChangedEvent();

    expect(matchesEventPattern({ detail: { tags: ['mobile', 'desktop'] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { tags: ['desktop'] } }, event)).toBe(false);
    expect(matchesEventPattern({ resources: ['arn:aws:s3:::composable-ai-documents-dev'] }, objectCreatedEvent())).toBe(
      true,
    );
  });

  it('matches a nested pattern against an array of objects only within one element', () => {
    const event = settingsChangedEvent();

    expect(matchesEventPattern({ detail: { changes: { field: ['language'], to: ['fr'] } } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { changes: { field: ['theme'], to: ['fr'] } } }, event)).toBe(false);
  });

  it('matches $or when any alternative matches, each alternative being a full AND', () => {
    const pattern: EventPattern = {
      source: ['app.users'],
      $or: [{ 'detail-type': ['UserLoggedIn'] }, { detail: { settings: { theme: ['dark'] }, userId: ['u-1'] } }],
    };
    const otherUser = settingsChangedEvent();
    (otherUser.detail as Record<string, unknown>).userId = 'u-2';

    expect(matchesEventPattern(pattern, settingsChangedEvent())).toBe(true);
    expect(matchesEventPattern(pattern, otherUser)).toBe(false);
    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(false);
  });

  it('evaluates a nested $or against the object it sits in', () => {
    const pattern: EventPattern = {
      detail: { $or: [{ reason: ['CopyObject'] }, { object: { size: [{ numeric: ['<', 10] }] } }] },
    };

    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(true);
    expect(matchesEventPattern(pattern, settingsChangedEvent())).toBe(false);
  });
});

describe('matchesEventPattern: string operators', () => {
  it.each([
    ['prefix', { detail: { object: { key: [{ prefix: 'tenants/t-1/' }] } } }, true],
    ['prefix, other tenant', { detail: { object: { key: [{ prefix: 'tenants/t-2/' }] } } }, false],
    ['prefix is case-sensitive', { detail: { object: { key: [{ prefix: 'Tenants/' }] } } }, false],
    [
      'prefix ignoring case',
      { detail: { object: { key: [{ prefix: { 'equals-ignore-case': 'TENANTS/T-1' } }] } } },
      true,
    ],
    ['suffix is case-sensitive', { detail: { object: { key: [{ suffix: '.pdf' }] } } }, false],
    ['suffix', { detail: { object: { key: [{ suffix: '.PDF' }] } } }, true],
    ['suffix ignoring case', { detail: { object: { key: [{ suffix: { 'equals-ignore-case': '.pdf' } }] } } }, true],
    ['equals-ignore-case', { detail: { reason: [{ 'equals-ignore-case': 'putobject' }] } }, true],
    ['equals-ignore-case is not a prefix', { detail: { reason: [{ 'equals-ignore-case': 'put' }] } }, false],
    ['wildcard', { detail: { object: { key: [{ wildcard: 'tenants/*/*.PDF' }] } } }, true],
    ['wildcard with no match', { detail: { object: { key: [{ wildcard: 'tenants/*/*.txt' }] } } }, false],
    ['wildcard without a star is exact', { detail: { reason: [{ wildcard: 'PutObject' }] } }, true],
    ['wildcard star matches the empty string', { detail: { reason: [{ wildcard: 'Put*Object' }] } }, true],
    ['wildcard parts must not overlap', { detail: { reason: [{ wildcard: 'PutObj*bject' }] } }, false],
  ])('%s', (_case, pattern, expected) => {
    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(expected);
  });

  it('matches an escaped star in a wildcard literally', () => {
    const event = { detail: { path: 'reports/*/summary' } };

    expect(matchesEventPattern({ detail: { path: [{ wildcard: 'reports/\\*/*' }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { path: [{ wildcard: 'reports/\\*/x*' }] } }, event)).toBe(false);
  });

  it('applies string operators to strings only', () => {
    const event = objectCreatedEvent();

    expect(matchesEventPattern({ detail: { object: { size: [{ prefix: '5' }] } } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { object: { size: [{ wildcard: '*' }] } } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { object: { key: [{ wildcard: '*' }] } } }, event)).toBe(true);
  });
});

describe('matchesEventPattern: anything-but', () => {
  it.each([
    ['a different string', { detail: { reason: [{ 'anything-but': 'CopyObject' }] } }, true],
    ['the excluded string', { detail: { reason: [{ 'anything-but': 'PutObject' }] } }, false],
    ['a list including the value', { detail: { reason: [{ 'anything-but': ['CopyObject', 'PutObject'] }] } }, false],
    ['a number', { detail: { object: { size: [{ 'anything-but': 5 }] } } }, false],
    ['a list of numbers', { detail: { object: { size: [{ 'anything-but': [0, 1] }] } } }, true],
    ['a string against a number', { detail: { object: { size: [{ 'anything-but': '5' }] } } }, true],
    ['a prefix', { source: [{ 'anything-but': { prefix: 'aws.' } }] }, false],
    ['a list of prefixes', { source: [{ 'anything-but': { prefix: ['app.', 'partner.'] } }] }, true],
    ['a suffix', { detail: { object: { key: [{ 'anything-but': { suffix: '.PDF' } }] } } }, false],
    ['ignoring case', { detail: { reason: [{ 'anything-but': { 'equals-ignore-case': 'PUTOBJECT' } }] } }, false],
    ['a wildcard', { detail: { object: { key: [{ 'anything-but': { wildcard: 'tenants/*/drafts/*' } }] } } }, true],
  ])('excluding %s', (_case, pattern, expected) => {
    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(expected);
  });

  it('never matches a missing field', () => {
    expect(
      matchesEventPattern({ detail: { 'destination-key': [{ 'anything-but': 'x' }] } }, objectCreatedEvent()),
    ).toBe(false);
  });

  it('matches an array field when any element is not excluded', () => {
    const event = settingsChangedEvent();

    expect(matchesEventPattern({ detail: { tags: [{ 'anything-but': 'mobile' }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { tags: [{ 'anything-but': ['mobile', 'onboarding'] }] } }, event)).toBe(
      false,
    );
  });
});

describe('matchesEventPattern: exists', () => {
  it.each([
    ['exists:true on a present field', { detail: { userId: [{ exists: true }] } }, true],
    ['exists:true on a missing field', { detail: { email: [{ exists: true }] } }, false],
    ['exists:false on a missing field', { detail: { email: [{ exists: false }] } }, true],
    ['exists:false on a present field', { detail: { userId: [{ exists: false }] } }, false],
    ['exists:true on a null field (present, value ignored)', { detail: { deletedAt: [{ exists: true }] } }, true],
    ['exists:false on a null field', { detail: { deletedAt: [{ exists: false }] } }, false],
    ['exists:true on an object (not a leaf)', { detail: { settings: [{ exists: true }] } }, false],
    ['exists:false on an object (not a leaf)', { detail: { settings: [{ exists: false }] } }, true],
    ['exists:false under a missing parent', { detail: { profile: { email: [{ exists: false }] } } }, true],
  ])('%s', (_case, pattern, expected) => {
    expect(matchesEventPattern(pattern, settingsChangedEvent())).toBe(expected);
  });

  it('treats an empty array as absent', () => {
    const event = settingsChangedEvent();

    expect(matchesEventPattern({ resources: [{ exists: true }] }, event)).toBe(false);
    expect(matchesEventPattern({ resources: [{ exists: false }] }, event)).toBe(true);
  });
});

describe('matchesEventPattern: numeric and cidr', () => {
  it.each([
    [['>', 0, '<=', 5], true],
    [['>', 0, '<', 5], false],
    [['>=', 5], true],
    [['>', 5], false],
    [['<', 10], true],
    [['<=', 4.999], false],
    [['=', 5], true],
    [['=', 5.000001], false],
  ])('numeric %j on size 5 is %s', (range, expected) => {
    const pattern: EventPattern = { detail: { object: { size: [{ numeric: range }] } } };

    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(expected);
  });

  it('matches numeric conditions against JSON numbers only', () => {
    const event = settingsChangedEvent();

    expect(matchesEventPattern({ detail: { settings: { fontScale: [{ numeric: ['>', 1, '<', 2] }] } } }, event)).toBe(
      true,
    );
    expect(matchesEventPattern({ account: [{ numeric: ['>', 0] }] }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { email: [{ numeric: ['>', 0] }] } }, event)).toBe(false);
  });

  it.each([
    ['10.0.0.0/24', true],
    ['10.0.0.36/30', false],
    ['10.0.0.32/27', true],
    ['10.0.0.0/8', true],
    ['192.168.0.0/16', false],
    ['0.0.0.0/0', true],
  ])('cidr %s on 10.0.0.33 is %s', (cidr, expected) => {
    const pattern: EventPattern = { detail: { 'source-ip-address': [{ cidr }] } };

    expect(matchesEventPattern(pattern, objectCreatedEvent())).toBe(expected);
  });

  it('matches IPv6 blocks and ignores values that are not addresses', () => {
    const event = settingsChangedEvent();

    expect(matchesEventPattern({ detail: { clientIp: [{ cidr: '2001:db8::/32' }] } }, event)).toBe(true);
    expect(matchesEventPattern({ detail: { clientIp: [{ cidr: '2001:db9::/32' }] } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { clientIp: [{ cidr: '10.0.0.0/8' }] } }, event)).toBe(false);
    expect(matchesEventPattern({ detail: { userId: [{ cidr: '0.0.0.0/0' }] } }, event)).toBe(false);
  });
});

describe('validateEventPattern', () => {
  it('accepts every documented form', () => {
    const pattern: EventPattern = {
      source: ['aws.s3', 5, true, null, { prefix: 'aws.' }, { prefix: { 'equals-ignore-case': 'AWS.' } }],
      detail: {
        a: [{ suffix: '.png' }, { suffix: { 'equals-ignore-case': '.PNG' } }, { 'equals-ignore-case': 'x' }],
        b: [{ wildcard: 'dir/*.png' }, { wildcard: 'a\\*b\\\\c*' }, { exists: false }, { cidr: '10.0.0.0/24' }],
        c: [{ 'anything-but': 'x' }, { 'anything-but': [1, 2] }, { 'anything-but': { prefix: ['a', 'b'] } }],
        d: [{ 'anything-but': { suffix: 'x' } }, { 'anything-but': { 'equals-ignore-case': ['x'] } }],
        e: [{ 'anything-but': { wildcard: '*/lib/*' } }, { numeric: ['>=', 0, '<', 1e9] }, { numeric: ['=', 3.018e2] }],
        $or: [{ f: ['1'] }, { g: { h: [{ exists: true }] } }],
      },
    };

    expect(() => validateEventPattern(pattern)).not.toThrow();
  });

  it('throws an error named InvalidEventPatternError that says where the problem is', () => {
    const validate = () => validateEventPattern({ detail: { object: { key: [{ prefx: 'tenants/' }] } } });

    expect(validate).toThrow(InvalidEventPatternError);
    expect(validate).toThrow('Invalid event pattern at detail.object.key[0]: unknown operator "prefx"');
    expect(new InvalidEventPatternError('x').name).toBe('InvalidEventPatternError');
  });

  it('also throws when matching with an invalid pattern', () => {
    expect(() => matchesEventPattern({ source: 'aws.s3' }, objectCreatedEvent())).toThrow(InvalidEventPatternError);
  });

  it.each([
    ['a pattern that is not an object', ['aws.s3'], /root: must be an object/],
    ['an empty pattern', {}, /empty objects/],
    ['a leaf that is not an array', { source: 'aws.s3' }, /source: must be an array/],
    ['a leaf that is a number', { detail: { size: 5 } }, /detail.size: must be an array/],
    ['an empty value list', { source: [] }, /empty arrays/],
    ['an empty nested object', { detail: {} }, /detail: empty objects/],
    ['a nested list as a value', { source: [['aws.s3']] }, /source\[0\]: must be a string, number/],
    ['an unknown operator', { source: [{ contains: 's3' }] }, /unknown operator "contains"/],
    ['two operators in one condition', { source: [{ prefix: 'a', suffix: 'b' }] }, /exactly one operator/],
    [
      'an unresolved intrinsic',
      { detail: { bucket: { name: [{ Ref: 'Bucket' }] } } },
      /CloudFormation intrinsic "Ref"/,
    ],
    ['a prefix that is not a string', { source: [{ prefix: 1 }] }, /prefix needs a string/],
    ['a prefix with an unknown option', { source: [{ prefix: { wildcard: 'a' } }] }, /prefix needs a string/],
    ['equals-ignore-case on a number', { source: [{ 'equals-ignore-case': 1 }] }, /equals-ignore-case needs/],
    ['consecutive wildcards', { source: [{ wildcard: 'a**b' }] }, /consecutive wildcard/],
    ['an invalid wildcard escape', { source: [{ wildcard: 'a\\b' }] }, /invalid escape/],
    ['exists that is not a boolean', { source: [{ exists: 'true' }] }, /exists needs true or false/],
    ['anything-but mixing strings and numbers', { a: [{ 'anything-but': ['x', 1] }] }, /only strings or only numbers/],
    ['anything-but null', { a: [{ 'anything-but': null }] }, /anything-but needs/],
    ['anything-but with an empty list', { a: [{ 'anything-but': [] }] }, /anything-but needs/],
    ['anything-but numeric', { a: [{ 'anything-but': { numeric: ['>', 1] } }] }, /does not support "numeric"/],
    ['anything-but an empty prefix', { a: [{ 'anything-but': { prefix: '' } }] }, /cannot be empty/],
    [
      'anything-but prefix on a number',
      { a: [{ 'anything-but': { prefix: 1 } }] },
      /needs a string or a list of strings/,
    ],
    ['numeric that is not an array', { a: [{ numeric: '>5' }] }, /numeric needs/],
    ['numeric with an unknown operator', { a: [{ numeric: ['!=', 5] }] }, /numeric needs/],
    ['numeric with a string bound', { a: [{ numeric: ['>', '5'] }] }, /numeric needs/],
    ['numeric with a missing bound', { a: [{ numeric: ['>', 0, '<='] }] }, /numeric needs/],
    ['numeric with bounds in the wrong order', { a: [{ numeric: ['<', 5, '>', 0] }] }, /numeric needs/],
    ['numeric "=" in a range', { a: [{ numeric: ['=', 1, '<', 5] }] }, /numeric needs/],
    ['numeric with too many terms', { a: [{ numeric: ['>', 0, '<', 5, '<', 6] }] }, /numeric needs/],
    ['numeric with an empty range', { a: [{ numeric: ['>', 5, '<', 5] }] }, /range is empty/],
    ['cidr without a mask', { a: [{ cidr: '10.0.0.1' }] }, /not an IPv4 block/],
    ['cidr with an out-of-range octet', { a: [{ cidr: '10.0.0.256/24' }] }, /not an IPv4 block/],
    ['cidr with a full-length mask', { a: [{ cidr: '10.0.0.1/32' }] }, /not an IPv4 block/],
    ['cidr with a malformed IPv6 address', { a: [{ cidr: '2001:db8:::1/64' }] }, /not an IPv4 block/],
    ['$or that is not an array', { $or: { a: ['x'] } }, /\$or needs an array of at least two/],
    ['$or with one alternative', { $or: [{ a: ['x'] }] }, /\$or needs an array of at least two/],
    ['$or with a non-object alternative', { $or: [{ a: ['x'] }, 'b'] }, /\$or\[1\]: must be an object/],
    ['a reserved word as a field inside $or', { $or: [{ a: ['x'] }, { numeric: ['>', 1] }] }, /"numeric" is reserved/],
    ['an invalid condition inside $or', { $or: [{ a: ['x'] }, { b: [{ prefix: 2 }] }] }, /\$or\[1\]\.b\[0\]/],
  ])('rejects %s', (_case, pattern, message) => {
    expectInvalid(pattern, message);
  });

  it('allows operator names as ordinary field names outside $or', () => {
    expect(matchesEventPattern({ detail: { prefix: ['x'] } }, { detail: { prefix: 'x' } })).toBe(true);
  });
});
