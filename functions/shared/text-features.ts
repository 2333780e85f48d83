/**
 * Word-level text features shared by the offline models (and usable by keyword scoring elsewhere):
 * lowercase words with punctuation and diacritics removed, a small English stopword list, and a
 * light suffix stemmer that maps common inflections (plural, -ed, -ing, -ly) to one stem.
 */

/** Common English function words (and question words) that carry little meaning for matching. */
export const STOPWORDS: ReadonlySet<string> = new Set([
  'a',
  'about',
  'above',
  'after',
  'again',
  'against',
  'all',
  'also',
  'am',
  'an',
  'and',
  'any',
  'are',
  'as',
  'at',
  'be',
  'because',
  'been',
  'before',
  'being',
  'below',
  'between',
  'both',
  'but',
  'by',
  'can',
  'could',
  'did',
  'do',
  'does',
  'doing',
  'down',
  'during',
  'each',
  'few',
  'for',
  'from',
  'further',
  'had',
  'has',
  'have',
  'having',
  'he',
  'her',
  'here',
  'hers',
  'herself',
  'him',
  'himself',
  'his',
  'how',
  'i',
  'if',
  'in',
  'into',
  'is',
  'it',
  'its',
  'itself',
  'just',
  'me',
  'more',
  'most',
  'my',
  'myself',
  'no',
  'nor',
  'not',
  'now',
  'of',
  'off',
  'on',
  'once',
  'only',
  'or',
  'other',
  'our',
  'ours',
  'ourselves',
  'out',
  'over',
  'own',
  'same',
  'she',
  'should',
  'so',
  'some',
  'such',
  'than',
  'that',
  'the',
  'their',
  'theirs',
  'them',
  'themselves',
  'then',
  'there',
  'these',
  'they',
  'this',
  'those',
  'through',
  'to',
  'too',
  'under',
  'until',
  'up',
  'very',
  'was',
  'we',
  'were',
  'what',
  'when',
  'where',
  'which',
  'while',
  'who',
  'whom',
  'why',
  'will',
  'with',
  'would',
  'you',
  'your',
  'yours',
  'yourself',
  'yourselves',
]);

const WORD = /[\p{L}\p{N}]+/gu;
const NON_ASCII = /[^\p{ASCII}]/u;
const COMBINING_MARKS = /\p{M}+/gu;
// "lighthouse's" → "lighthouse", "don't" → "dont": apostrophes never split a word
const POSSESSIVE = /['\u2019]s\b/g;
const APOSTROPHE = /['\u2019]/g;
const VOWEL = /[aeiouy]/;
const DIGIT = /\d/;

/** Lowercase words of a text, with punctuation and diacritics removed (stopwords kept). */
export function tokenize(text: string): string[] {
  let s = text.toLowerCase();
  if (NON_ASCII.test(s)) s = s.normalize('NFKD').replace(COMBINING_MARKS, '');
  s = s.replace(POSSESSIVE, '').replace(APOSTROPHE, '');
  return s.match(WORD) ?? [];
}

/** True for words in STOPWORDS (expects a lowercase word from tokenize). */
export function isStopword(word: string): boolean {
  return STOPWORDS.has(word);
}

/** Light suffix stemmer: strips plural, -ed, -ing and -ly endings and a final "e", so inflections share a stem. */
export function stem(word: string): string {
  if (word.length <= 3 || DIGIT.test(word)) return word;
  let w = word;
  let strippedVerbEnding = false;

  if (w.endsWith('ies') && w.length > 4) w = `${w.slice(0, -3)}y`;
  else if (w.endsWith('sses')) w = w.slice(0, -2);
  else if (w.endsWith('s') && !w.endsWith('ss') && !w.endsWith('us') && !w.endsWith('is')) w = w.slice(0, -1);

  if (w.endsWith('ied') && w.length > 4) {
    w = `${w.slice(0, -3)}y`;
  } else if (w.endsWith('eed')) {
    // "agreed" → "agree", but "feed" and "speed" are words of their own
    if (w.length > 5) w = w.slice(0, -1);
  } else if (w.endsWith('ed') && hasVowelStem(w, 2)) {
    w = w.slice(0, -2);
    strippedVerbEnding = true;
  } else if (w.endsWith('ing') && hasVowelStem(w, 3)) {
    w = w.slice(0, -3);
    strippedVerbEnding = true;
  } else if (w.endsWith('ly') && w.length > 5) {
    w = w.slice(0, -2);
  }

  // "stopped" → "stopp" → "stop", but "falling" → "fall"
  if (strippedVerbEnding && w.length > 3 && w.at(-1) === w.at(-2) && !'lsz'.includes(w.at(-1) ?? '')) {
    w = w.slice(0, -1);
  }
  // "complete", "completed" and "completing" all end as "complet"
  if (w.endsWith('e') && w.length > 3) w = w.slice(0, -1);
  return w;
}

function hasVowelStem(word: string, suffixLength: number): boolean {
  const rest = word.slice(0, -suffixLength);
  return rest.length >= 3 && VOWEL.test(rest);
}

/** Stemmed content words of a text (stopwords removed), in order: the terms used for matching. */
export function contentTerms(text: string): string[] {
  const terms: string[] = [];
  for (const word of tokenize(text)) {
    if (!STOPWORDS.has(word)) terms.push(stem(word));
  }
  return terms;
}
