import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

/**
 * Prompts live in prompts/, never in code: this scans every string and template literal of functions/
 * (the code that runs in Lambda) for prose that looks like a prompt. SQL statements and error messages
 * (arguments of `new …Error(…)`) are code and messages, not prompts, so only the phrasing rule applies to them.
 */
const root = join(process.cwd());
const MAX_LITERAL = 160;
const INSTRUCTION = /\b(You are|You answer|You classify|You grade|Answer |Respond |Reply with|Act as)/;
// a statement, or a list of common table expressions spliced into one (`name as (select …`)
const SQL = /^\s*((select|insert|update|delete|create|alter|drop|with)\b|\w+ as \(\s*select\b)/i;
/** file:line → why that literal is not a prompt. Keep this tiny. */
const ALLOWED: Readonly<Record<string, string>> = {};

function typeScriptFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return typeScriptFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

function isErrorMessage(node: ts.Node): boolean {
  for (let n: ts.Node | undefined = node.parent; n; n = n.parent) {
    if (ts.isNewExpression(n)) return /Error$/.test(n.expression.getText());
    if (ts.isBlock(n) || ts.isSourceFile(n)) return false;
  }
  return false;
}

interface Finding {
  where: string;
  reason: string;
}

/** Literals in a source text that look like prompt text, as "file:line" findings. */
function promptLikeLiterals(file: string, source: string): Finding[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true);
  const findings: Finding[] = [];
  const visit = (node: ts.Node): void => {
    let text: string | undefined;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) text = node.text;
    else if (ts.isTemplateExpression(node)) {
      text = [node.head.text, ...node.templateSpans.map((s) => s.literal.text)].join('');
    }
    if (text !== undefined) {
      const where = `${relative(root, file)}:${sf.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;
      const phrase = INSTRUCTION.exec(text);
      const exempt = SQL.test(text) || isErrorMessage(node);
      if (!(where in ALLOWED)) {
        if (phrase && !SQL.test(text)) findings.push({ where, reason: `instruction phrasing "${phrase[0].trim()}"` });
        else if (!exempt && text.length > MAX_LITERAL) {
          findings.push({ where, reason: `a ${text.length}-character literal` });
        }
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return findings;
}

describe('prompt text in code', () => {
  it('finds no prompt-like literal in functions/ (prompts belong in prompts/<id>.prompt.yaml)', () => {
    const files = typeScriptFiles(join(root, 'functions'));

    const findings = files.flatMap((f) => promptLikeLiterals(f, readFileSync(f, 'utf8')));

    expect(files.length).toBeGreaterThan(10);
    expect(findings.map((f) => `${f.where}: ${f.reason}`)).toEqual([]);
  });

  it('flags an inline system prompt and a long prose literal, naming file and line', () => {
    const source = [
      'const a = 1;',
      "const system = 'You are a helpful assistant. Answer briefly.';",
      `const long = '${'Summarise the document carefully and keep every number. '.repeat(4)}';`,
    ].join('\n');

    const findings = promptLikeLiterals(join(root, 'functions/x/inline.ts'), source);

    expect(findings).toEqual([
      { where: 'functions/x/inline.ts:2', reason: 'instruction phrasing "You are"' },
      { where: 'functions/x/inline.ts:3', reason: 'a 224-character literal' },
    ]);
  });

  it('lets SQL and error messages be long, but not phrased as instructions', () => {
    const source = [
      `const sql = 'select ${'a, '.repeat(100)}b from t';`,
      `const ctes = 'first_pass as (select ${'a, '.repeat(100)}b from t)';`,
      `throw new InputValidationError(\`The request is \${n} bytes; ${'too long. '.repeat(20)}\`);`,
      "throw new Error('Respond with JSON only');",
    ].join('\n');

    const findings = promptLikeLiterals(join(root, 'functions/x/sql.ts'), source);

    expect(findings).toEqual([{ where: 'functions/x/sql.ts:4', reason: 'instruction phrasing "Respond"' }]);
  });
});
