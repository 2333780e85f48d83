import { Parser } from 'htmlparser2';
import { Lexer, type MarkedToken, type Token, type Tokens } from 'marked';
import { UnsupportedContentTypeError } from '../../shared/errors.js';
import { countTokens, decodeTokens, encodeTokens } from '../../shared/tokens.js';

export type DocumentContentType = 'text/plain' | 'text/markdown' | 'text/html' | 'application/json' | 'application/pdf';

export const SUPPORTED_CONTENT_TYPES: readonly DocumentContentType[] = Object.freeze([
  'text/plain',
  'text/markdown',
  'text/html',
  'application/json',
  'application/pdf',
]);

export interface Chunk {
  ordinal: number;
  text: string;
  heading: string | null;
  tokenCount: number;
  /** The 1-based page the chunk comes from, for paged formats (PDF); a chunk never spans two pages. */
  page?: number;
}

export interface ChunkOptions {
  maxTokens: number;
  overlapTokens: number;
}

// ---- content types -----------------------------------------------------------------------------

const TYPE_BY_MEDIA_TYPE: Readonly<Record<string, DocumentContentType>> = {
  'text/plain': 'text/plain',
  'text/markdown': 'text/markdown',
  'text/x-markdown': 'text/markdown',
  'text/html': 'text/html',
  'application/json': 'application/json',
  'application/pdf': 'application/pdf',
};

const TYPE_BY_EXTENSION: Readonly<Record<string, DocumentContentType>> = {
  txt: 'text/plain',
  text: 'text/plain',
  md: 'text/markdown',
  markdown: 'text/markdown',
  html: 'text/html',
  htm: 'text/html',
  json: 'application/json',
  pdf: 'application/pdf',
};

// S3 stores these when the uploader did not say what the object is: only then does the key decide.
const UNLABELLED_MEDIA_TYPES = new Set(['', 'application/octet-stream', 'binary/octet-stream']);

/** Maps a Content-Type header (or, when it is absent or generic, the key's extension) to a supported document type. */
export function resolveContentType(contentType: string | undefined, key: string): DocumentContentType | undefined {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (!UNLABELLED_MEDIA_TYPES.has(mediaType)) return TYPE_BY_MEDIA_TYPE[mediaType];
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return undefined;
  return TYPE_BY_EXTENSION[name.slice(dot + 1).toLowerCase()];
}

// ---- extraction: every format becomes sections of blocks ---------------------------------------

/** `prose` splits at sentences when too large; `lines` (code, lists, tables, records) splits at lines. */
interface Block {
  kind: 'prose' | 'lines';
  text: string;
}

interface Section {
  heading: string | null;
  blocks: Block[];
}

/** Collects blocks into sections; a heading that arrives before any content relabels the open section. */
class SectionBuilder {
  private current: Section = { heading: null, blocks: [] };
  private readonly sections: Section[] = [this.current];

  start(heading: string | null): void {
    if (this.current.blocks.length === 0) {
      this.current.heading = heading;
    } else {
      this.current = { heading, blocks: [] };
      this.sections.push(this.current);
    }
  }

  add(block: Block | undefined): void {
    if (block !== undefined && block.text.length > 0) this.current.blocks.push(block);
  }

  build(): Section[] {
    return this.sections.filter((section) => section.blocks.length > 0);
  }
}

/** Heading levels 1–6 as a path: a new heading replaces its level and drops the deeper ones. */
class HeadingPath {
  private readonly levels: string[] = [];

  set(depth: number, text: string): string | null {
    this.levels.length = Math.min(this.levels.length, depth - 1);
    while (this.levels.length < depth - 1) this.levels.push('');
    this.levels.push(text);
    const path = this.levels.filter((level) => level.length > 0).join(' > ');
    return path.length > 0 ? path : null;
  }
}

function collapseSpaces(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** Prose keeps its line breaks (hard-wrapped text, <br>) but loses runs of spaces and blank lines. */
function proseBlock(raw: string): Block | undefined {
  const text = raw
    .split('\n')
    .map((line) => line.replace(/[^\S\n]+/g, ' ').trim())
    .filter((line) => line.length > 0)
    .join('\n');
  return text.length > 0 ? { kind: 'prose', text } : undefined;
}

/** Code keeps its indentation (it carries meaning); trailing spaces and extra blank lines go. */
function linesBlock(raw: string): Block | undefined {
  const text = raw
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .replace(/^\n+|\n+$/g, '');
  return text.trim().length > 0 ? { kind: 'lines', text } : undefined;
}

function plainTextSections(text: string): Section[] {
  const builder = new SectionBuilder();
  for (const paragraph of text.split(/\n[^\S\n]*\n/)) builder.add(proseBlock(paragraph));
  return builder.build();
}

const SKIPPED_HTML_ELEMENTS = new Set(['script', 'style', 'noscript', 'template', 'svg']);
const HTML_BLOCK_ELEMENTS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'br',
  'caption',
  'dd',
  'details',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'section',
  'summary',
  'table',
  'tbody',
  'tfoot',
  'thead',
  'tr',
  'ul',
]);
const HTML_HEADING = /^h([1-6])$/;

function htmlSections(html: string): Section[] {
  const builder = new SectionBuilder();
  const headings = new HeadingPath();
  let sawHeading = false;
  let skipDepth = 0;
  let inHead = false;
  let titleText: string | undefined;
  let headingDepth = 0;
  let headingText = '';
  let preDepth = 0;
  let paragraph = '';

  const flush = (): void => {
    builder.add(preDepth > 0 ? linesBlock(paragraph) : proseBlock(collapseSpaces(paragraph)));
    paragraph = '';
  };
  const finishHeading = (): void => {
    builder.start(headings.set(headingDepth, collapseSpaces(headingText)));
    sawHeading = true;
    headingDepth = 0;
  };

  const parser = new Parser(
    {
      onopentag(name) {
        if (SKIPPED_HTML_ELEMENTS.has(name)) {
          skipDepth++;
          return;
        }
        if (skipDepth > 0) return;
        if (name === 'head') inHead = true;
        if (name === 'body') inHead = false;
        if (name === 'title') titleText = '';
        const heading = HTML_HEADING.exec(name)?.[1];
        if (headingDepth > 0) {
          // An unclosed heading ends where a block starts, or it would swallow the content after it.
          const startsBlock = heading !== undefined || name === 'pre' || HTML_BLOCK_ELEMENTS.has(name);
          if (!startsBlock || headingText.trim().length === 0) return;
          finishHeading();
        }
        if (heading !== undefined) {
          flush();
          headingDepth = Number(heading);
          headingText = '';
        } else if (name === 'pre') {
          flush();
          preDepth++;
        } else if (preDepth > 0) {
          if (name === 'br') paragraph += '\n';
        } else if (HTML_BLOCK_ELEMENTS.has(name)) {
          flush();
        } else if ((name === 'td' || name === 'th') && paragraph.trim().length > 0) {
          paragraph += ' | ';
        }
      },
      ontext(text) {
        if (skipDepth > 0) return;
        if (titleText !== undefined) titleText += text;
        else if (inHead) return;
        else if (headingDepth > 0) headingText += text;
        else paragraph += text;
      },
      onclosetag(name) {
        if (SKIPPED_HTML_ELEMENTS.has(name)) {
          skipDepth = Math.max(0, skipDepth - 1);
          return;
        }
        if (skipDepth > 0) return;
        if (name === 'head') inHead = false;
        if (name === 'title' && titleText !== undefined) {
          // The title names the content that comes before the first h1–h6.
          if (!sawHeading) builder.start(collapseSpaces(titleText) || null);
          titleText = undefined;
          return;
        }
        if (headingDepth > 0) {
          if (name === `h${headingDepth}`) finishHeading();
          return;
        }
        if (name === 'pre' && preDepth > 0) {
          flush();
          preDepth--;
        } else if (preDepth === 0 && HTML_BLOCK_ELEMENTS.has(name)) {
          flush();
        }
      },
      onend() {
        if (headingDepth > 0) finishHeading();
        flush();
      },
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  return builder.build();
}

/** Decodes HTML character references left in markdown text (marked keeps `&amp;` as written). */
function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  let decoded = '';
  const parser = new Parser({ ontext: (part) => (decoded += part) }, { decodeEntities: true });
  parser.write(text.replaceAll('<', '&lt;'));
  parser.end();
  return decoded;
}

function inlineText(tokens: readonly Token[]): string {
  let text = '';
  for (const token of tokens) {
    const t = token as MarkedToken;
    switch (t.type) {
      case 'text':
        // A soft line break inside a paragraph is a space; hard breaks arrive as `br` tokens.
        text += t.tokens ? inlineText(t.tokens) : decodeEntities(t.text.replace(/\s*\n\s*/g, ' '));
        break;
      case 'escape':
      case 'codespan':
        text += t.text;
        break;
      case 'strong':
      case 'em':
      case 'del':
      case 'link':
        text += inlineText(t.tokens);
        break;
      case 'image':
        text += t.text;
        break;
      case 'br':
        text += '\n';
        break;
      default:
        // Inline HTML tags and checkboxes carry no text of their own.
        break;
    }
  }
  return text;
}

function listLines(list: Tokens.List, indent: string): string[] {
  const lines: string[] = [];
  const first = typeof list.start === 'number' ? list.start : 1;
  list.items.forEach((item, index) => {
    const marker = list.ordered ? `${first + index}.` : '-';
    const checkbox = item.task ? (item.checked ? '[x] ' : '[ ] ') : '';
    let lead = `${indent}${marker} ${checkbox}`;
    for (const child of item.tokens) {
      const c = child as MarkedToken;
      if (c.type === 'list') {
        lines.push(...listLines(c, `${indent}  `));
        continue;
      }
      const text = markdownBlocks(c)
        .map((block) => block.text)
        .join('\n');
      if (text.length === 0) continue;
      lines.push(lead + text.replaceAll('\n', `\n${indent}  `));
      lead = `${indent}  `;
    }
  });
  return lines;
}

function tableLines(table: Tokens.Table): string[] {
  const row = (cells: Tokens.TableCell[]): string =>
    cells.map((cell) => collapseSpaces(inlineText(cell.tokens))).join(' | ');
  return [row(table.header), ...table.rows.map(row)];
}

function markdownBlocks(token: MarkedToken): Block[] {
  const block = (value: Block | undefined): Block[] => (value === undefined ? [] : [value]);
  switch (token.type) {
    case 'paragraph':
    case 'heading':
      return block(proseBlock(inlineText(token.tokens)));
    case 'text':
      return block(proseBlock(token.tokens ? inlineText(token.tokens) : decodeEntities(token.text)));
    case 'code':
      return block(linesBlock(token.text));
    case 'list':
      return block(linesBlock(listLines(token, '').join('\n')));
    case 'table':
      return block(linesBlock(tableLines(token).join('\n')));
    case 'blockquote':
      return token.tokens.flatMap((child) => markdownBlocks(child as MarkedToken));
    case 'html':
      return htmlSections(token.text).flatMap((section) => section.blocks);
    default:
      return [];
  }
}

function markdownSections(markdown: string): Section[] {
  const builder = new SectionBuilder();
  const headings = new HeadingPath();
  for (const token of Lexer.lex(markdown)) {
    const t = token as MarkedToken;
    if (t.type === 'heading') {
      builder.start(headings.set(t.depth, collapseSpaces(inlineText(t.tokens))));
    } else {
      for (const block of markdownBlocks(t)) builder.add(block);
    }
  }
  return builder.build();
}

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalarText(value: unknown): string {
  return typeof value === 'string' ? collapseSpaces(value) : String(value);
}

/** Renders a JSON value as `key: value` lines: nested keys dotted, array items indexed, scalar arrays joined. */
function jsonLines(prefix: string, value: unknown, lines: string[]): void {
  const line = (text: string): void => {
    lines.push(prefix.length > 0 ? `${prefix}: ${text}`.trimEnd() : text);
  };
  if (Array.isArray(value)) {
    if (value.some((item) => Array.isArray(item) || isJsonObject(item))) {
      for (const [index, item] of value.entries()) jsonLines(`${prefix}[${index}]`, item, lines);
    } else {
      line(value.map(scalarText).join(', '));
    }
  } else if (isJsonObject(value)) {
    const entries = Object.entries(value);
    if (entries.length === 0) line('{}');
    for (const [key, item] of entries) jsonLines(prefix.length > 0 ? `${prefix}.${key}` : key, item, lines);
  } else {
    line(scalarText(value));
  }
}

function jsonSections(text: string): Section[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new UnsupportedContentTypeError(`The JSON document could not be parsed: ${reason}`, { cause: err });
  }
  const builder = new SectionBuilder();
  const record = (prefix: string, item: unknown): void => {
    const lines: string[] = [];
    jsonLines(prefix, item, lines);
    builder.add(linesBlock(lines.join('\n')));
  };
  if (Array.isArray(value)) {
    for (const item of value) record('', item);
  } else if (isJsonObject(value)) {
    for (const [key, item] of Object.entries(value)) record(key, item);
  } else {
    builder.add(proseBlock(scalarText(value)));
  }
  return builder.build();
}

function extractSections(text: string, contentType: DocumentContentType): Section[] {
  const normalized = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  switch (contentType) {
    case 'text/plain':
      return plainTextSections(normalized);
    case 'text/markdown':
      return markdownSections(normalized);
    case 'text/html':
      return htmlSections(normalized);
    case 'application/json':
      return jsonSections(normalized);
    case 'application/pdf':
      throw new UnsupportedContentTypeError('A PDF is chunked from its extracted pages (chunkPages), not as text');
    default:
      throw new UnsupportedContentTypeError(`Unsupported document content type: ${String(contentType)}`);
  }
}

// ---- chunking: pieces that fit, packed greedily, with a sentence overlap ----------------------

/** A whole unit of text (a sentence, or a line of code, a list or a table) with its token count. */
interface Part {
  text: string;
  /** The whitespace that joins it to the text before it. */
  sep: string;
  tokens: number;
}

/** What the packer moves around: a whole block that fits, a single part, or a token-bounded fragment of one. */
interface Piece extends Part {
  /** `prose` and `lines` are whole blocks of that kind. */
  kind: Block['kind'] | 'part' | 'fragment';
  /** A block's sentences or lines, counted once, so an overlap can take whole ones without counting again. */
  parts: readonly Part[];
}

const PARAGRAPH_SEP = '\n\n';

// A sentence ends at . ! ? (plus closing quotes or brackets) before whitespace, or at CJK full stops.
const SENTENCE_END = /[.!?…]+["'”’)\]]*(\s+)|[。！？]+/g;

function splitSentences(text: string, firstSep: string): Omit<Part, 'tokens'>[] {
  const parts: Omit<Part, 'tokens'>[] = [];
  let start = 0;
  let sep = firstSep;
  for (const match of text.matchAll(SENTENCE_END)) {
    const end = match.index + match[0].length;
    const next = text[end];
    // A lowercase letter after the stop means an abbreviation ("e.g. the"), not a new sentence.
    if (next === undefined || /\p{Ll}/u.test(next)) continue;
    const space = match[1] ?? '';
    parts.push({ text: text.slice(start, end - space.length), sep });
    sep = space.length === 0 ? '' : space.includes('\n') ? '\n' : ' ';
    start = end;
  }
  const rest = text.slice(start).trim();
  if (rest.length > 0) parts.push({ text: rest, sep });
  return parts;
}

function splitLines(text: string, firstSep: string): Omit<Part, 'tokens'>[] {
  const parts: Omit<Part, 'tokens'>[] = [];
  let sep = firstSep;
  for (const line of text.split('\n')) {
    if (line.trim().length === 0) {
      sep = PARAGRAPH_SEP;
      continue;
    }
    parts.push({ text: line, sep });
    sep = '\n';
  }
  return parts;
}

function counted(parts: readonly Omit<Part, 'tokens'>[]): Part[] {
  return parts.map((part) => ({ ...part, tokens: countTokens(part.text) }));
}

// A space joining two parts almost always merges into the next word's token; a line break is a token.
// Estimates only steer packing: every chunk is counted exactly once it is assembled.
function sepTokens(sep: string): number {
  return sep.length === 0 || sep === ' ' ? 0 : 1;
}

function estimateTokens(parts: readonly Part[]): number {
  let total = 0;
  for (const [index, part] of parts.entries()) total += part.tokens + (index > 0 ? sepTokens(part.sep) : 0);
  return total;
}

function render(parts: readonly Part[]): string {
  return parts.map((part, index) => (index > 0 ? part.sep : '') + part.text).join('');
}

/** Cuts text at exact token bounds; a cut moves back off a multi-byte character split across tokens. */
function splitAtTokens(text: string, sep: string, budget: number): Piece[] {
  const ids = encodeTokens(text);
  const pieces: Piece[] = [];
  let pendingSep = sep;
  let start = 0;
  while (start < ids.length) {
    let end = Math.min(start + budget, ids.length);
    let slice = decodeTokens(ids.slice(start, end));
    while (end < ids.length && end - start > 1 && slice.endsWith('\uFFFD') && start + budget - end < 4) {
      end--;
      slice = decodeTokens(ids.slice(start, end));
    }
    let body = slice.trim();
    let tokens = countTokens(body);
    // Re-encoding a cut piece on its own can take more tokens than the ids it came from.
    while (tokens > budget && end - start > 1) {
      end--;
      slice = decodeTokens(ids.slice(start, end));
      body = slice.trim();
      tokens = countTokens(body);
    }
    if (body.length > 0) {
      const leading = slice.slice(0, slice.length - slice.trimStart().length);
      pieces.push({ text: body, tokens, sep: pendingSep + leading, kind: 'fragment', parts: [] });
      pendingSep = slice.slice(slice.trimEnd().length);
    } else {
      pendingSep += slice;
    }
    start = end;
  }
  return pieces;
}

/** Parts that fit become pieces; a line too large splits at sentences, a sentence too large at tokens. */
function piecesOfParts(parts: readonly Part[], kind: Block['kind'], budget: number): Piece[] {
  const pieces: Piece[] = [];
  for (const part of parts) {
    if (part.tokens <= budget) {
      pieces.push({ ...part, kind: 'part', parts: [part] });
    } else if (kind === 'lines') {
      pieces.push(...piecesOfParts(counted(splitSentences(part.text, part.sep)), 'prose', budget));
    } else {
      pieces.push(...splitAtTokens(part.text, part.sep, budget));
    }
  }
  return pieces;
}

/** Blocks that fit stay whole; larger ones split at lines or sentences, then at exact token bounds. */
function buildPieces(blocks: readonly Block[], budget: number): Piece[] {
  const pieces: Piece[] = [];
  for (const block of blocks) {
    const split = block.kind === 'lines' ? splitLines : splitSentences;
    const parts = counted(split(block.text, PARAGRAPH_SEP));
    const tokens = estimateTokens(parts);
    if (tokens <= budget) pieces.push({ text: block.text, sep: PARAGRAPH_SEP, tokens, kind: block.kind, parts });
    else pieces.push(...piecesOfParts(parts, block.kind, budget));
  }
  return pieces;
}

/** The whole sentences (or lines) at the end of a chunk that fit in the overlap. */
function tailOverlap(chunk: readonly Piece[], limit: number): Part[] {
  const units: Part[] = [];
  let total = 0;
  collect: for (let k = chunk.length - 1; k >= 0; k--) {
    const piece = chunk[k];
    if (piece === undefined || piece.kind === 'fragment') break;
    for (let m = piece.parts.length - 1; m >= 0; m--) {
      const part = piece.parts[m];
      if (part === undefined) break collect;
      const cost = part.tokens + (units[0] === undefined ? 0 : sepTokens(units[0].sep));
      if (total + cost > limit) break collect;
      units.unshift(part);
      total += cost;
    }
  }
  while (units.length > 0 && countTokens(render(units)) > limit) units.shift();
  return units;
}

interface DraftChunk {
  text: string;
  tokenCount: number;
}

function packSection(sectionPieces: readonly Piece[], options: ChunkOptions, budget: number): DraftChunk[] {
  const pieces = [...sectionPieces];
  const drafts: DraftChunk[] = [];
  let overlap: Part[] = [];
  let next = 0;
  pack: while (next < pieces.length) {
    const head = [...overlap];
    const taken: Piece[] = [];
    let estimate = estimateTokens(head);
    while (next + taken.length < pieces.length) {
      const piece = pieces[next + taken.length];
      if (piece === undefined) break;
      const cost = piece.tokens + (head.length + taken.length > 0 ? sepTokens(piece.sep) : 0);
      if (estimate + cost <= budget || head.length + taken.length === 0) {
        taken.push(piece);
        estimate += cost;
      } else if (taken.length > 0) {
        break;
      } else {
        // The overlap must never push a chunk over the bound: give it up, oldest sentence first.
        head.shift();
        estimate = estimateTokens(head);
      }
    }
    let text = render([...head, ...taken]);
    let tokenCount = countTokens(text);
    while (tokenCount > options.maxTokens) {
      const only = taken[0];
      if (taken.length > 1) {
        taken.pop();
      } else if (head.length > 0) {
        head.shift();
      } else if (only !== undefined && (only.kind === 'prose' || only.kind === 'lines')) {
        // A block's size was estimated from its parts; when it is over after all, pack its parts instead.
        pieces.splice(next, 1, ...piecesOfParts(only.parts, only.kind, budget));
        continue pack;
      } else {
        break;
      }
      text = render([...head, ...taken]);
      tokenCount = countTokens(text);
    }
    drafts.push({ text, tokenCount });
    overlap = options.overlapTokens > 0 ? tailOverlap([...head.map(asPiece), ...taken], options.overlapTokens) : [];
    next += taken.length;
  }
  return drafts;
}

function asPiece(part: Part): Piece {
  return { ...part, kind: 'part', parts: [part] };
}

function assertOptions(options: ChunkOptions): void {
  const { maxTokens, overlapTokens } = options;
  if (!Number.isInteger(maxTokens) || maxTokens < 1) {
    throw new RangeError(`maxTokens must be a positive integer, got ${maxTokens}`);
  }
  if (!Number.isInteger(overlapTokens) || overlapTokens < 0 || overlapTokens >= maxTokens) {
    throw new RangeError(`overlapTokens must be an integer in [0, maxTokens), got ${overlapTokens}`);
  }
}

// Packing adds per-part counts; the margin keeps most chunks from needing a second exact count.
function packingBudget(options: ChunkOptions): number {
  return Math.max(1, options.maxTokens - Math.max(1, Math.ceil(options.maxTokens / 50)));
}

function chunkSections(sections: readonly Section[], options: ChunkOptions, chunks: Chunk[], page?: number): void {
  const budget = packingBudget(options);
  for (const section of sections) {
    for (const draft of packSection(buildPieces(section.blocks, budget), options, budget)) {
      chunks.push({
        ordinal: chunks.length,
        text: draft.text,
        heading: section.heading,
        tokenCount: draft.tokenCount,
        ...(page === undefined ? {} : { page }),
      });
    }
  }
}

/** Splits a document's text into token-bounded, overlapping chunks that follow its structure. */
export function chunkDocument(text: string, contentType: DocumentContentType, options: ChunkOptions): Chunk[] {
  assertOptions(options);
  const chunks: Chunk[] = [];
  chunkSections(extractSections(text, contentType), options, chunks);
  return chunks;
}

/**
 * Chunks a paged document (a PDF's extracted text, page n at index n - 1) page by page, as plain text: every chunk
 * carries its page number and none spans two pages, so a citation can name the page. Blank pages yield no chunk.
 */
export function chunkPages(pages: readonly string[], options: ChunkOptions): Chunk[] {
  assertOptions(options);
  const chunks: Chunk[] = [];
  pages.forEach((text, index) => {
    chunkSections(plainTextSections(text.replace(/\r\n?/g, '\n')), options, chunks, index + 1);
  });
  return chunks;
}
