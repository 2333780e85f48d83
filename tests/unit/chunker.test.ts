import {
  type Chunk,
  chunkDocument,
  chunkPages,
  type DocumentContentType,
  resolveContentType,
  SUPPORTED_CONTENT_TYPES,
} from '../../functions/rag/ingest-and-index/chunker.js';
import { UnsupportedContentTypeError } from '../../functions/shared/errors.js';
import { countTokens } from '../../functions/shared/tokens.js';

// ---- fixtures -----------------------------------------------------------------------------------

const WINTER_PARAGRAPHS = [
  'The city keeps forty-two plough trucks ready from the first of November. Each truck is assigned to a fixed route, and the routes are drawn so that no hospital or fire station is more than ten minutes from a cleared road. Drivers check their blades and salt spreaders every Monday morning.',
  'Salt works well down to about minus nine degrees. Below that temperature the crews switch to a brine mixed with beet juice, which keeps working several degrees colder. The brine is sprayed on bridges before a storm arrives, because bridge decks freeze first.',
  'Residents often ask why their street is cleared last. Routes follow a priority order that puts arterial roads and bus corridors first, then collector streets, and finally quiet residential lanes. A lane with a school on it is moved up the list on weekdays.',
  'During a heavy storm the depot runs two twelve-hour shifts. The night shift starts at six in the evening and hands over at six in the morning with a written log of every route completed. Supervisors compare the logs against the GPS traces before the next storm.',
  'Sidewalk clearing is handled by a separate fleet of small tracked vehicles. They start once the snowfall stops, since clearing during the storm only has to be repeated. Property owners remain responsible for the short path between the sidewalk and their door.',
  'The budget for the season is set in September using a ten-year average of snowfall. When a winter is harsher than the average, the council releases money from a reserve fund. Any money left over in a mild winter goes back into that reserve.',
  'Complaints are logged through the city phone line and the mobile app. Each complaint is tied to a street segment so that the depot can see patterns rather than single calls. A street that collects three complaints in one storm gets a supervisor visit.',
];

const WINTER_TEXT = WINTER_PARAGRAPHS.join('\n\n');

const LINUX_CODE = [
  'sudo apt-get update',
  'sudo apt-get install --yes postgresql-16 postgresql-16-pgvector',
  'sudo systemctl enable --now postgresql',
  'sudo -u postgres psql --command "CREATE EXTENSION IF NOT EXISTS vector;"',
  'sudo -u postgres createdb --owner "$USER" library_catalogue',
  'psql library_catalogue --file schema/001_books.sql',
  'psql library_catalogue --file schema/002_loans.sql',
].join('\n');

const GUIDE_MARKDOWN = `This guide explains how the library catalogue service is installed and run.

# Install

The service needs PostgreSQL with the vector extension. It also needs about two gigabytes of disk for the sample catalogue.

## Linux

On Debian and Ubuntu the packages come from the PostgreSQL project's own repository. Add that repository before you begin, because the distribution's packages are often a version behind.

\`\`\`bash
${LINUX_CODE}
\`\`\`

Once the schema is loaded, start the service with the systemd unit shipped in the repository.

### Troubleshooting on Linux

If the extension cannot be created, the pgvector package does not match the server version. Check both with the package manager and install the matching pair.

## macOS

Homebrew installs both PostgreSQL and pgvector. Run the same schema files afterwards.

# Operate

Backups run every night at two in the morning. A restore drill happens on the first Tuesday of each month.
`;

/** The source text of each markdown section, keyed by its heading path. */
const GUIDE_SECTIONS = new Map<string | null, string>([
  [null, 'This guide explains how the library catalogue service is installed and run.'],
  ['Install', 'The service needs PostgreSQL with the vector extension.'],
  ['Install > Linux', 'On Debian and Ubuntu the packages come from'],
  ['Install > Linux > Troubleshooting on Linux', 'If the extension cannot be created'],
  ['Install > macOS', 'Homebrew installs both PostgreSQL and pgvector.'],
  ['Operate', 'Backups run every night at two in the morning.'],
]);

const ARTICLE_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Caf&eacute; opening hours &amp; menu</title>
  <style>body { font-family: serif; } .hidden { display: none; }</style>
  <script>window.analytics = { track: function () { return 'tracking pixel fired'; } };</script>
</head>
<body>
  <noscript>Please enable JavaScript to see the seasonal specials.</noscript>
  <p>We are a small neighbourhood caf&eacute; near the station.</p>
  <h1>Opening hours</h1>
  <p>We open at seven on weekdays &amp; at nine on weekends.</p>
  <p>On public holidays we close at&nbsp;three in the afternoon.</p>
  <template><p>Template text that is never rendered.</p></template>
  <h2>Kitchen</h2>
  <ul><li>Breakfast is served until eleven.</li><li>Soup of the day from noon.</li></ul>
  <svg width="10" height="10"><text x="0" y="10">decorative svg label</text></svg>
  <script type="module">console.log('a script in the body');</script>
  <h1>Menu</h1>
  <p>Our bread comes from the bakery next door&#8217;s morning batch.</p>
</body>
</html>`;

/** Deterministic pseudo-random numbers (mulberry32) so the large document is the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SUBJECTS = [
  'the harbour master',
  'a volunteer from the rowing club',
  'the night ferry crew',
  'an inspector from the port authority',
  'the fish market manager',
  'two apprentices at the boatyard',
  'the lighthouse keeper',
  'a retired pilot',
];
const VERBS = ['recorded', 'questioned', 'measured', 'repaired', 'photographed', 'reported', 'inspected', 'described'];
const OBJECTS = [
  'the tide gauge on the north pier',
  'a crack in the breakwater',
  'the fuel prices at the quay',
  'the mooring chains of the old trawler',
  'the fog signal timing',
  'a shipment of ice that arrived late',
  'the depth of the silted channel',
  'the queue at the ferry ticket office',
];
const CLAUSES = [
  'before the morning tide turned',
  'while the gulls circled the market roofs',
  'because the winter storms had moved the sandbanks again',
  'although nobody on the council had asked for it',
  'after the last ferry had left for the island',
  'so that the insurers could close their file',
];

function pick<T>(items: readonly T[], random: () => number): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function harbourSentence(random: () => number): string {
  const subject = pick(SUBJECTS, random);
  const sentence = `${subject} ${pick(VERBS, random)} ${pick(OBJECTS, random)}`;
  const withClause = random() < 0.6 ? `${sentence} ${pick(CLAUSES, random)}` : sentence;
  return `${withClause.charAt(0).toUpperCase()}${withClause.slice(1)}${random() < 0.1 ? '!' : '.'}`;
}

/** A ~5 MB markdown log whose paragraphs each start with a unique "Entry N" label. */
function harbourLog(targetBytes: number): { markdown: string; paragraphs: number } {
  const random = seededRandom(20240611);
  const parts: string[] = [];
  let bytes = 0;
  let paragraphs = 0;
  while (bytes < targetBytes) {
    if (paragraphs % 40 === 0) parts.push(`## Week ${paragraphs / 40 + 1}`);
    // Mostly short paragraphs, sometimes a long one that has to be split at sentences.
    const sentences = random() < 0.05 ? 40 + Math.floor(random() * 40) : 2 + Math.floor(random() * 8);
    const body = Array.from({ length: sentences }, () => harbourSentence(random)).join(' ');
    const paragraph = `Entry ${paragraphs} notes this. ${body}`;
    parts.push(paragraph);
    bytes += paragraph.length + 2;
    paragraphs++;
  }
  return { markdown: parts.join('\n\n'), paragraphs };
}

// ---- helpers ------------------------------------------------------------------------------------

/** Length of the longest end of `previous` that `next` starts with. */
function sharedPrefixLength(previous: string, next: string): number {
  for (let length = Math.min(previous.length, next.length); length > 0; length--) {
    if (previous.endsWith(next.slice(0, length))) return length;
  }
  return 0;
}

function expectWithinBound(chunks: readonly Chunk[], maxTokens: number): void {
  for (const chunk of chunks) {
    expect(chunk.tokenCount).toBeLessThanOrEqual(maxTokens);
    expect(chunk.tokenCount).toBe(countTokens(chunk.text));
    expect(chunk.text.trim()).toBe(chunk.text);
    expect(chunk.text.length).toBeGreaterThan(0);
  }
  expect(chunks.map((chunk) => chunk.ordinal)).toEqual(chunks.map((_, index) => index));
}

// ---- tests --------------------------------------------------------------------------------------

describe('resolveContentType', () => {
  it.each([
    ['text/plain', 'notes/readme', 'text/plain'],
    ['text/markdown; charset=utf-8', 'docs/guide', 'text/markdown'],
    ['TEXT/HTML; Charset=UTF-8', 'site/index', 'text/html'],
    ['application/json;charset=UTF-8', 'data/export', 'application/json'],
    [undefined, 'docs/Install.MD', 'text/markdown'],
    [undefined, 'docs/changelog.markdown', 'text/markdown'],
    ['application/octet-stream', 'site/about.htm', 'text/html'],
    ['application/octet-stream', 'site/about.html', 'text/html'],
    [undefined, 'notes/minutes.txt', 'text/plain'],
    [undefined, 'notes/minutes.text', 'text/plain'],
    [undefined, 'exports/catalogue.json', 'application/json'],
    ['application/pdf', 'reports/annual', 'application/pdf'],
    [undefined, 'reports/annual.PDF', 'application/pdf'],
  ] as const)('maps header %p with key %p to %p', (header, key, expected) => {
    const resolved = resolveContentType(header, key);

    expect(resolved).toBe(expected);
  });

  it.each([
    ['image/png', 'photos/harbour.png'],
    [undefined, 'photos/harbour.png'],
    ['application/octet-stream', 'bin/archive.tar.gz'],
    [undefined, 'README'],
    [undefined, 'config/.json'],
  ] as const)('rejects header %p with key %p', (header, key) => {
    const resolved = resolveContentType(header, key);

    expect(resolved).toBeUndefined();
  });

  it('lets the header win over the extension when both are present', () => {
    expect(resolveContentType('text/html', 'pages/guide.md')).toBe('text/html');
  });

  it('resolves every supported type from its own header', () => {
    const resolved = SUPPORTED_CONTENT_TYPES.map((type) => resolveContentType(type, 'object'));

    expect(resolved).toEqual(['text/plain', 'text/markdown', 'text/html', 'application/json', 'application/pdf']);
  });
});

describe('chunkPages', () => {
  const options = { maxTokens: 40, overlapTokens: 0 };

  it('numbers chunks across pages and gives each the page it comes from', () => {
    const pages = [
      'The ferry leaves from pier four.',
      '',
      `${'The lighthouse keeper winds the lamp. '.repeat(12)}`,
      'The fish market opens at dawn.',
    ];

    const chunks = chunkPages(pages, options);

    expect(chunks.map((c) => c.ordinal)).toEqual(chunks.map((_, i) => i));
    expect(chunks[0]).toMatchObject({ page: 1, text: 'The ferry leaves from pier four.' });
    expect(chunks.at(-1)).toMatchObject({ page: 4, text: 'The fish market opens at dawn.' });
    const lighthouse = chunks.filter((c) => c.text.includes('lighthouse'));
    expect(lighthouse.length).toBeGreaterThan(1);
    expect(lighthouse.every((c) => c.page === 3 && c.tokenCount <= options.maxTokens)).toBe(true);
    expect(chunks.some((c) => c.page === 2)).toBe(false);
  });

  it('refuses to chunk a PDF as text', () => {
    expect(() => chunkDocument('%PDF-1.7', 'application/pdf', options)).toThrow(UnsupportedContentTypeError);
  });
});

describe('chunkDocument on markdown', () => {
  const options = { maxTokens: 60, overlapTokens: 15 };

  it('labels chunks with their heading path, null before the first heading', () => {
    const chunks = chunkDocument(GUIDE_MARKDOWN, 'text/markdown', options);

    const headings = [...new Set(chunks.map((chunk) => chunk.heading))];
    expect(headings).toEqual([...GUIDE_SECTIONS.keys()]);
    for (const [heading, opening] of GUIDE_SECTIONS) {
      const first = chunks.find((chunk) => chunk.heading === heading);
      expect(first?.text.startsWith(opening)).toBe(true);
    }
  });

  it('never lets a chunk take text from another section', () => {
    const sectionTexts = GUIDE_MARKDOWN.split(/\n(?=#{1,3} )/);

    const chunks = chunkDocument(GUIDE_MARKDOWN, 'text/markdown', options);

    for (const chunk of chunks) {
      const homes = sectionTexts.filter((section) =>
        chunk.text.split('\n').every((line) => section.includes(line.replace(/^- /, ''))),
      );
      expect(homes).toHaveLength(1);
    }
    expectWithinBound(chunks, options.maxTokens);
  });

  it('keeps a code block whole in one chunk instead of packing part of it with the prose before', () => {
    const codeOptions = { maxTokens: 120, overlapTokens: 15 };
    const proseBefore = GUIDE_MARKDOWN.slice(GUIDE_MARKDOWN.indexOf('On Debian'), GUIDE_MARKDOWN.indexOf('```') - 2);
    // Greedy packing would put the first lines of the code after the paragraph before it.
    expect(countTokens(proseBefore) + countTokens(LINUX_CODE)).toBeGreaterThan(codeOptions.maxTokens);

    const chunks = chunkDocument(GUIDE_MARKDOWN, 'text/markdown', codeOptions);

    const withCode = chunks.filter((chunk) => /sudo|psql/.test(chunk.text));
    expect(withCode).toHaveLength(1);
    expect(withCode[0]?.text).toContain(LINUX_CODE);
    expect(withCode[0]?.heading).toBe('Install > Linux');
    expectWithinBound(chunks, codeOptions.maxTokens);
  });

  it('keeps lists and tables together and renders inline markup as text', () => {
    const markdown = `# Checklist

Before opening the *reading room*, staff work through this list &amp; sign it.

- [x] Unlock the **east** door
- [ ] Switch on the [catalogue terminals](https://example.org/terminals)
  - check the \`barcode\` scanners

| Room | Opens |
|------|-------|
| Reading room | 09:00 |
| Archive | 10:30 |
`;

    const chunks = chunkDocument(markdown, 'text/markdown', { maxTokens: 200, overlapTokens: 20 });

    expect(chunks).toEqual([
      {
        ordinal: 0,
        heading: 'Checklist',
        text: [
          'Before opening the reading room, staff work through this list & sign it.',
          '',
          '- [x] Unlock the east door',
          '- [ ] Switch on the catalogue terminals',
          '  - check the barcode scanners',
          '',
          'Room | Opens',
          'Reading room | 09:00',
          'Archive | 10:30',
        ].join('\n'),
        tokenCount: expect.any(Number),
      },
    ]);
  });
});

describe('chunkDocument on HTML', () => {
  it('skips scripts, styles and other non-content, and keeps headings as sections', () => {
    const chunks = chunkDocument(ARTICLE_HTML, 'text/html', { maxTokens: 200, overlapTokens: 20 });

    const all = chunks.map((chunk) => chunk.text).join('\n');
    for (const hidden of [
      'font-family',
      'tracking pixel',
      'enable JavaScript',
      'Template text',
      'decorative svg',
      'a script',
    ]) {
      expect(all).not.toContain(hidden);
    }
    expect(chunks.map((chunk) => chunk.heading)).toEqual([
      'Café opening hours & menu',
      'Opening hours',
      'Opening hours > Kitchen',
      'Menu',
    ]);
  });

  it('decodes entities and turns block elements into paragraph boundaries', () => {
    const chunks = chunkDocument(ARTICLE_HTML, 'text/html', { maxTokens: 200, overlapTokens: 20 });

    expect(chunks.map((chunk) => chunk.text)).toEqual([
      'We are a small neighbourhood café near the station.',
      'We open at seven on weekdays & at nine on weekends.\n\nOn public holidays we close at three in the afternoon.',
      'Breakfast is served until eleven.\n\nSoup of the day from noon.',
      'Our bread comes from the bakery next door’s morning batch.',
    ]);
  });

  it('ends an unclosed heading at the next block so the content after it is kept', () => {
    const chunks = chunkDocument('<h2>Returns<p>Books are due back within three weeks.</p>', 'text/html', {
      maxTokens: 100,
      overlapTokens: 10,
    });

    expect(chunks).toMatchObject([{ heading: 'Returns', text: 'Books are due back within three weeks.' }]);
  });
});

describe('chunkDocument on JSON', () => {
  const options = { maxTokens: 200, overlapTokens: 20 };

  it('renders an array of objects as one paragraph of key: value lines per element', () => {
    const json = JSON.stringify([
      {
        title: 'The Shipping News',
        author: { name: 'Annie Proulx', country: 'US' },
        tags: ['fiction', 'newfoundland'],
        copies: 3,
      },
      { title: 'Moby-Dick', author: { name: 'Herman Melville' }, tags: [], onLoan: true, shelf: null },
    ]);

    const chunks = chunkDocument(json, 'application/json', options);

    expect(chunks.map((chunk) => chunk.text)).toEqual([
      [
        'title: The Shipping News',
        'author.name: Annie Proulx',
        'author.country: US',
        'tags: fiction, newfoundland',
        'copies: 3',
        '',
        'title: Moby-Dick',
        'author.name: Herman Melville',
        'tags:',
        'onLoan: true',
        'shelf: null',
      ].join('\n'),
    ]);
  });

  it('renders an object as one paragraph per top-level key', () => {
    const json = JSON.stringify({
      branch: 'Harbour Road',
      hours: { weekdays: '09:00-18:00', saturday: '10:00-14:00' },
      services: ['printing', 'study rooms'],
      events: [{ name: 'Story time', day: 'Wednesday' }],
    });

    const chunks = chunkDocument(json, 'application/json', options);

    expect(chunks).toHaveLength(1);
    expect(chunks[0]?.text.split('\n\n')).toEqual([
      'branch: Harbour Road',
      'hours.weekdays: 09:00-18:00\nhours.saturday: 10:00-14:00',
      'services: printing, study rooms',
      'events[0].name: Story time\nevents[0].day: Wednesday',
    ]);
  });

  it('rejects invalid JSON with UnsupportedContentTypeError saying where parsing failed', () => {
    const call = (): Chunk[] => chunkDocument('{"branch": "Harbour Road",}', 'application/json', options);

    expect(call).toThrow(UnsupportedContentTypeError);
    expect(call).toThrow(/could not be parsed.*position \d+/);
  });
});

describe('chunkDocument token bound and overlap', () => {
  const options = { maxTokens: 90, overlapTokens: 40 };

  it('keeps every chunk within maxTokens, counted on the final text', () => {
    const chunks = chunkDocument(WINTER_TEXT, 'text/plain', options);

    expect(chunks.length).toBeGreaterThan(3);
    expectWithinBound(chunks, options.maxTokens);
  });

  it('starts each chunk after the first with whole sentences from the end of the previous one', () => {
    const chunks = chunkDocument(WINTER_TEXT, 'text/plain', options);

    for (const [index, chunk] of chunks.entries()) {
      const previous = chunks[index - 1];
      if (previous === undefined) continue;
      const shared = chunk.text.slice(0, sharedPrefixLength(previous.text, chunk.text));
      expect(shared.length).toBeGreaterThan(0);
      expect(countTokens(shared)).toBeLessThanOrEqual(options.overlapTokens);
      // Whole sentences: the shared text starts a sentence and ends one.
      expect(shared).toMatch(/^[A-Z].*[.!?]$/s);
      expect(chunk.text.length).toBeGreaterThan(shared.length);
    }
  });

  it('covers every sentence of the document', () => {
    const chunks = chunkDocument(WINTER_TEXT, 'text/plain', options);

    const all = chunks.map((chunk) => chunk.text).join('\n\n');
    for (const sentence of WINTER_TEXT.split(/(?<=\.)\s+/)) expect(all).toContain(sentence);
  });

  it('does not carry an overlap across a section boundary', () => {
    const markdown = `# Roads\n\n${WINTER_PARAGRAPHS.slice(0, 3).join('\n\n')}\n\n# Sidewalks\n\n${WINTER_PARAGRAPHS.slice(3).join('\n\n')}`;

    const chunks = chunkDocument(markdown, 'text/markdown', options);

    const firstSidewalk = chunks.findIndex((chunk) => chunk.heading === 'Sidewalks');
    expect(firstSidewalk).toBeGreaterThan(1);
    expect(chunks[firstSidewalk]?.text.startsWith(WINTER_PARAGRAPHS[3]?.slice(0, 40) ?? '?')).toBe(true);
    expect(chunks[firstSidewalk - 1]?.heading).toBe('Roads');
    // Inside the sections the overlap is still there.
    expect(sharedPrefixLength(chunks[0]?.text ?? '', chunks[1]?.text ?? '')).toBeGreaterThan(0);
  });

  it('never lets the overlap push a chunk over the bound when paragraphs nearly fill a chunk', () => {
    const tight = { maxTokens: 70, overlapTokens: 40 };

    const chunks = chunkDocument(WINTER_TEXT, 'text/plain', tight);

    expectWithinBound(chunks, tight.maxTokens);
  });

  it('splits a paragraph longer than maxTokens at sentence boundaries', () => {
    const paragraph = WINTER_PARAGRAPHS.join(' ');
    expect(countTokens(paragraph)).toBeGreaterThan(options.maxTokens * 3);

    const chunks = chunkDocument(paragraph, 'text/plain', options);

    expect(chunks.length).toBeGreaterThan(3);
    expectWithinBound(chunks, options.maxTokens);
    for (const chunk of chunks) expect(chunk.text).toMatch(/^[A-Z].*\.$/s);
  });

  it('splits a single giant sentence with no punctuation at token bounds', () => {
    const words = ['harbour', 'lantern', 'café', 'naïve', 'Zürich', '東京', 'ferry', 'quay', '🚲', 'tide'];
    const sentence = Array.from({ length: 900 }, (_, index) => words[(index * 7) % words.length]).join(' ');

    const chunks = chunkDocument(sentence, 'text/plain', { maxTokens: 64, overlapTokens: 16 });

    expect(chunks.length).toBeGreaterThan(10);
    expectWithinBound(chunks, 64);
    expect(chunks.some((chunk) => chunk.tokenCount >= 60)).toBe(true);
    const joined = chunks.map((chunk) => chunk.text).join('');
    expect(joined).not.toContain('\uFFFD');
    expect(joined.replace(/\s/g, '')).toBe(sentence.replace(/\s/g, ''));
  });

  it('normalises whitespace but keeps paragraphs', () => {
    const text = '  The depot\t\topens   at six.\r\n\r\n\r\n   Trucks leave at \t seven.  \n \n';

    const chunks = chunkDocument(text, 'text/plain', { maxTokens: 100, overlapTokens: 10 });

    expect(chunks.map((chunk) => chunk.text)).toEqual(['The depot opens at six.\n\nTrucks leave at seven.']);
  });

  it('returns no chunks for a document without text', () => {
    expect(chunkDocument(' \n\n\t ', 'text/plain', options)).toEqual([]);
    expect(chunkDocument('<html><head><style>p{}</style></head><body></body></html>', 'text/html', options)).toEqual(
      [],
    );
  });

  it('rejects options that cannot bound a chunk', () => {
    expect(() => chunkDocument(WINTER_TEXT, 'text/plain', { maxTokens: 0, overlapTokens: 0 })).toThrow(RangeError);
    expect(() => chunkDocument(WINTER_TEXT, 'text/plain', { maxTokens: 50, overlapTokens: 50 })).toThrow(RangeError);
  });

  it('rejects a content type outside the supported set', () => {
    const call = (): Chunk[] =>
      chunkDocument(WINTER_TEXT, 'application/pdf' as DocumentContentType, { maxTokens: 90, overlapTokens: 10 });

    expect(call).toThrow(UnsupportedContentTypeError);
  });

  it('is deterministic', () => {
    const first = chunkDocument(GUIDE_MARKDOWN + WINTER_TEXT, 'text/markdown', options);

    const second = chunkDocument(GUIDE_MARKDOWN + WINTER_TEXT, 'text/markdown', options);

    expect(second).toEqual(first);
  });
});

describe('chunkDocument on a 5 MB document', () => {
  it('bounds every chunk and keeps every paragraph', () => {
    const { markdown, paragraphs } = harbourLog(5 * 1024 * 1024);
    const options = { maxTokens: 256, overlapTokens: 48 };

    const chunks = chunkDocument(markdown, 'text/markdown', options);

    expect(markdown.length).toBeGreaterThan(5 * 1024 * 1024);
    for (const chunk of chunks) {
      if (chunk.tokenCount > options.maxTokens)
        throw new Error(`chunk ${chunk.ordinal} has ${chunk.tokenCount} tokens`);
    }
    const all = chunks.map((chunk) => chunk.text).join('\n');
    let from = 0;
    for (let entry = 0; entry < paragraphs; entry++) {
      const at = all.indexOf(`Entry ${entry} notes this.`, from);
      if (at < 0) throw new Error(`paragraph ${entry} is missing`);
      from = at;
    }
    expect(chunks.at(-1)?.heading).toBe(`Week ${Math.ceil(paragraphs / 40)}`);
  });
});
