/**
 * The BM25 baseline of the retrieval harness, in memory: the analysis and scoring of the Cranfield folder's
 * reference bm25.py (Lucene's BM25Similarity, k1 = 0.9, b = 0.4 by default): lowercase, drop the possessive
 * "'s", tokens = runs of [a-z0-9], Lucene's 33-word English stoplist, Porter stemming (Martin Porter's reference
 * C version, which Lucene ports). idf = ln(1 + (N − df + 0.5) / (df + 0.5)); score = Σ qtf · idf · tf /
 * (tf + k1 · (1 − b + b · dl / avgdl)); ties by document id.
 */

const STOPWORDS = new Set(
  'a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with'.split(
    ' ',
  ),
);

class PorterStemmer {
  private b: string[] = [];
  private k = 0;
  private j = 0;
  private readonly cache = new Map<string, string>();

  private cons(i: number): boolean {
    const ch = this.b[i] as string;
    if ('aeiou'.includes(ch)) return false;
    if (ch === 'y') return i === 0 ? true : !this.cons(i - 1);
    return true;
  }

  private m(): number {
    let n = 0;
    let i = 0;
    const j = this.j;
    for (;;) {
      if (i > j) return n;
      if (!this.cons(i)) break;
      i += 1;
    }
    i += 1;
    for (;;) {
      for (;;) {
        if (i > j) return n;
        if (this.cons(i)) break;
        i += 1;
      }
      i += 1;
      n += 1;
      for (;;) {
        if (i > j) return n;
        if (!this.cons(i)) break;
        i += 1;
      }
      i += 1;
    }
  }

  private vowelInStem(): boolean {
    for (let i = 0; i <= this.j; i++) if (!this.cons(i)) return true;
    return false;
  }

  private doubleC(j: number): boolean {
    if (j < 1 || this.b[j] !== this.b[j - 1]) return false;
    return this.cons(j);
  }

  private cvc(i: number): boolean {
    if (i < 2 || !this.cons(i) || this.cons(i - 1) || !this.cons(i - 2)) return false;
    return !'wxy'.includes(this.b[i] as string);
  }

  private ends(s: string): boolean {
    const n = s.length;
    if (n > this.k + 1) return false;
    if (this.b.slice(this.k - n + 1, this.k + 1).join('') !== s) return false;
    this.j = this.k - n;
    return true;
  }

  private setTo(s: string): void {
    this.b.splice(this.j + 1, this.k - this.j, ...s);
    this.k = this.j + s.length;
  }

  private r(s: string): void {
    if (this.m() > 0) this.setTo(s);
  }

  private step1ab(): void {
    if (this.b[this.k] === 's') {
      if (this.ends('sses')) this.k -= 2;
      else if (this.ends('ies')) this.setTo('i');
      else if (this.b[this.k - 1] !== 's') this.k -= 1;
    }
    if (this.ends('eed')) {
      if (this.m() > 0) this.k -= 1;
    } else if ((this.ends('ed') || this.ends('ing')) && this.vowelInStem()) {
      this.k = this.j;
      if (this.ends('at')) this.setTo('ate');
      else if (this.ends('bl')) this.setTo('ble');
      else if (this.ends('iz')) this.setTo('ize');
      else if (this.doubleC(this.k)) {
        this.k -= 1;
        if ('lsz'.includes(this.b[this.k] as string)) this.k += 1;
      } else {
        this.j = this.k;
        if (this.m() === 1 && this.cvc(this.k)) this.setTo('e');
      }
    }
  }

  private step1c(): void {
    if (this.ends('y') && this.vowelInStem()) this.b[this.k] = 'i';
  }

  private static readonly STEP2: Record<string, [string, string][]> = {
    a: [
      ['ational', 'ate'],
      ['tional', 'tion'],
    ],
    c: [
      ['enci', 'ence'],
      ['anci', 'ance'],
    ],
    e: [['izer', 'ize']],
    l: [
      ['bli', 'ble'],
      ['alli', 'al'],
      ['entli', 'ent'],
      ['eli', 'e'],
      ['ousli', 'ous'],
    ],
    o: [
      ['ization', 'ize'],
      ['ation', 'ate'],
      ['ator', 'ate'],
    ],
    s: [
      ['alism', 'al'],
      ['iveness', 'ive'],
      ['fulness', 'ful'],
      ['ousness', 'ous'],
    ],
    t: [
      ['aliti', 'al'],
      ['iviti', 'ive'],
      ['biliti', 'ble'],
    ],
    g: [['logi', 'log']],
  };

  private static readonly STEP3: Record<string, [string, string][]> = {
    e: [
      ['icate', 'ic'],
      ['ative', ''],
      ['alize', 'al'],
    ],
    i: [['iciti', 'ic']],
    l: [
      ['ical', 'ic'],
      ['ful', ''],
    ],
    s: [['ness', '']],
  };

  private static readonly STEP4: Record<string, string[]> = {
    a: ['al'],
    c: ['ance', 'ence'],
    e: ['er'],
    i: ['ic'],
    l: ['able', 'ible'],
    n: ['ant', 'ement', 'ment', 'ent'],
    o: ['ion', 'ou'],
    s: ['ism'],
    t: ['ate', 'iti'],
    u: ['ous'],
    v: ['ive'],
    z: ['ize'],
  };

  private step2(): void {
    if (this.k === 0) return;
    for (const [suffix, replacement] of PorterStemmer.STEP2[this.b[this.k - 1] as string] ?? []) {
      if (this.ends(suffix)) {
        this.r(replacement);
        return;
      }
    }
  }

  private step3(): void {
    for (const [suffix, replacement] of PorterStemmer.STEP3[this.b[this.k] as string] ?? []) {
      if (this.ends(suffix)) {
        this.r(replacement);
        return;
      }
    }
  }

  private step4(): void {
    if (this.k === 0) return;
    const suffixes = PorterStemmer.STEP4[this.b[this.k - 1] as string];
    if (!suffixes) return;
    let hit = false;
    for (const suffix of suffixes) {
      if (this.ends(suffix)) {
        if (suffix === 'ion' && !(this.j >= 0 && 'st'.includes(this.b[this.j] as string))) continue;
        hit = true;
        break;
      }
    }
    if (hit && this.m() > 1) this.k = this.j;
  }

  private step5(): void {
    this.j = this.k;
    if (this.b[this.k] === 'e') {
      const a = this.m();
      if (a > 1 || (a === 1 && !this.cvc(this.k - 1))) this.k -= 1;
    }
    if (this.b[this.k] === 'l' && this.doubleC(this.k) && this.m() > 1) this.k -= 1;
  }

  stem(word: string): string {
    if (word.length <= 2) return word;
    const hit = this.cache.get(word);
    if (hit !== undefined) return hit;
    this.b = [...word];
    this.k = word.length - 1;
    this.j = 0;
    this.step1ab();
    if (this.k > 0) {
      this.step1c();
      this.step2();
      this.step3();
      this.step4();
      this.step5();
    }
    const out = this.b.slice(0, this.k + 1).join('');
    this.cache.set(word, out);
    return out;
  }
}

const stemmer = new PorterStemmer();

/** Porter's stem of a lowercase word (exported for tests). */
export function porterStem(word: string): string {
  return stemmer.stem(word);
}

/** The reference analysis: lowercase, no possessive 's, [a-z0-9] runs, stopwords out, Porter stems. */
export function analyze(text: string, stem = true): string[] {
  const lowered = text.toLowerCase().replace(/['\u2019]s\b/g, '');
  const tokens = (lowered.match(/[a-z0-9]+/g) ?? []).filter((t) => !STOPWORDS.has(t));
  return stem ? tokens.map((t) => stemmer.stem(t)) : tokens;
}

export interface Bm25Options {
  k1: number;
  b: number;
  stem: boolean;
}

/** An in-memory BM25 index over whole documents. */
export class Bm25Index {
  private readonly ids: string[] = [];
  private readonly lengths: number[] = [];
  private readonly postings = new Map<string, [number, number][]>();

  constructor(readonly options: Bm25Options = { k1: 0.9, b: 0.4, stem: true }) {}

  add(id: string, text: string): void {
    const index = this.ids.length;
    this.ids.push(id);
    const tokens = analyze(text, this.options.stem);
    this.lengths.push(tokens.length);
    const counts = new Map<string, number>();
    for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    for (const [term, tf] of counts) {
      let list = this.postings.get(term);
      if (!list) {
        list = [];
        this.postings.set(term, list);
      }
      list.push([index, tf]);
    }
  }

  /**
   * The best `k` documents for a query: [id, score], score descending, then id ascending. `expansion` adds weighted
   * terms (term → query weight, added to the query's own counts), as RM3 does.
   */
  search(query: string, k = 1000, expansion: ReadonlyMap<string, number> = new Map()): [string, number][] {
    const { k1, b } = this.options;
    const n = this.ids.length;
    const avgdl = n > 0 ? this.lengths.reduce((s, l) => s + l, 0) / n : 1;
    const scores = new Map<number, number>();
    const qtf = new Map<string, number>();
    for (const t of analyze(query, this.options.stem)) qtf.set(t, (qtf.get(t) ?? 0) + 1);
    for (const [t, w] of expansion) qtf.set(t, (qtf.get(t) ?? 0) + w);
    for (const [term, count] of qtf) {
      const list = this.postings.get(term);
      if (!list) continue;
      const weight = count * Math.log(1 + (n - list.length + 0.5) / (list.length + 0.5));
      for (const [index, tf] of list) {
        const norm = k1 * (1 - b + (b * (this.lengths[index] ?? 0)) / avgdl);
        scores.set(index, (scores.get(index) ?? 0) + (weight * tf) / (tf + norm));
      }
    }
    return [...scores]
      .map(([index, score]) => [this.ids[index] as string, score] as [string, number])
      .sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))
      .slice(0, k);
  }
}
