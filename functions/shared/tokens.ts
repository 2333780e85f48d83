import { Tiktoken } from 'js-tiktoken/lite';
import cl100k from 'js-tiktoken/ranks/cl100k_base';

/**
 * Token counting for budgets and chunk bounds. Bedrock models each use their own tokenizer; cl100k_base
 * is a close, model-neutral stand-in (within ~10% of Titan and Claude counts on English prose), and
 * every bound in this project leaves that much headroom.
 */
let encoder: Tiktoken | undefined;

function tokenizer(): Tiktoken {
  encoder ??= new Tiktoken(cl100k);
  return encoder;
}

/** Number of tokens in text. */
export function countTokens(text: string): number {
  return text.length === 0 ? 0 : encodeTokens(text).length;
}

/** Token ids of text (for splitting at exact token bounds). */
export function encodeTokens(text: string): number[] {
  // Documents may contain strings like "<|endoftext|>": count them as text, never as special tokens.
  return tokenizer().encode(text, [], []);
}

/** Text of token ids. */
export function decodeTokens(tokens: readonly number[]): string {
  return tokenizer().decode([...tokens]);
}
