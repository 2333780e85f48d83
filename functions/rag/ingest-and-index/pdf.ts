import { extractText, getDocumentProxy } from 'unpdf';
import { EncryptedDocumentError, ImageOnlyDocumentError, MalformedDocumentError } from '../../shared/errors.js';

/**
 * Text of a PDF, page by page, with unpdf (pdf.js built for serverless runtimes: pure JavaScript, no native
 * canvas, no worker file, nothing downloaded). Page n of the file is `pages[n - 1]`.
 */
export interface PdfText {
  pages: string[];
}

const PDF_MAGIC = '%PDF-';

/** Whether the bytes start like a PDF file (the header may follow up to 1 KB of junk, as readers allow). */
export function looksLikePdf(body: Uint8Array): boolean {
  return Buffer.from(body.subarray(0, 1024)).toString('latin1').includes(PDF_MAGIC);
}

/**
 * Extracts each page's text. An encrypted file that needs a password, a file that is not a readable PDF, and a
 * file whose pages carry no text at all (scanned, image-only) fail with their named errors.
 */
export async function extractPdfText(body: Uint8Array, documentKey: string): Promise<PdfText> {
  if (!looksLikePdf(body)) throw new MalformedDocumentError(`${documentKey} is not a PDF file (no %PDF- header)`);
  let pages: string[];
  try {
    // pdf.js takes ownership of (detaches) the buffer it is given: hand it a copy.
    const pdf = await getDocumentProxy(new Uint8Array(body), { verbosity: 0, isEvalSupported: false });
    try {
      pages = (await extractText(pdf, { mergePages: false })).text;
    } finally {
      await pdf.destroy();
    }
  } catch (err) {
    const name = (err as { name?: string }).name;
    if (name === 'PasswordException') {
      throw new EncryptedDocumentError(`${documentKey} is an encrypted PDF that needs a password`, { cause: err });
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new MalformedDocumentError(`${documentKey} could not be read as a PDF: ${reason}`, { cause: err });
  }
  if (pages.length === 0) throw new MalformedDocumentError(`${documentKey} is a PDF with no pages`);
  if (pages.every((page) => page.trim().length === 0)) {
    throw new ImageOnlyDocumentError(
      `${documentKey} has ${pages.length} page(s) but no text layer (scanned or image-only); OCR is not supported`,
    );
  }
  return { pages };
}
