/**
 * The docs a clone has must work in that clone: every relative link in README.md and docs/*.md
 * names a file inside the repository (and, with a #fragment, a heading of that file), and no doc
 * points at the design notes that live outside it. Code comments cite
 * docs/api-gateway-websocket.md by section number, so every cited section must exist there.
 */
import { describe, it, expect } from 'vitest';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const AWS_DOC = 'docs/api-gateway-websocket.md';

function docFiles(): string[] {
  const docs = readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`);
  return ['README.md', ...docs.sort()];
}

/** The text with fenced code blocks blanked out (lines kept, so line numbers stay right). */
function withoutFences(text: string): string {
  let fence: string | undefined;
  return text
    .split('\n')
    .map((line) => {
      const marker = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
      if (fence === undefined && marker) {
        fence = marker;
        return '';
      }
      if (fence !== undefined) {
        if (marker && marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = undefined;
        return '';
      }
      return line;
    })
    .join('\n');
}

function withoutCodeSpans(line: string): string {
  return line.replace(/(`+)(?:(?!\1).)+?\1/g, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, duplicates numbered. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(markdown).split('\n')) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const text = heading
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/<[^>]+>/g, '')
        .toLowerCase()
        .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
        .replace(/ /g, '-');
      const n = seen.get(text) ?? 0;
      seen.set(text, n + 1);
      anchors.add(n === 0 ? text : `${text}-${n}`);
    }
    for (const m of line.matchAll(/<a\s[^>]*(?:name|id)=["']([^"']+)["']/gi)) anchors.add(m[1]);
  }
  return anchors;
}

interface Link {
  file: string;
  line: number;
  target: string;
}

/** Inline links and images, reference definitions and HTML href/src, outside code. */
function linksIn(file: string, markdown: string): Link[] {
  const links: Link[] = [];
  withoutFences(markdown)
    .split('\n')
    .forEach((raw, i) => {
      const line = withoutCodeSpans(raw);
      const add = (target: string) => links.push({ file, line: i + 1, target });
      for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+(?:"[^"]*"|'[^']*'))?\s*\)/g)) add(m[1].replace(/^<|>$/g, ''));
      const ref = /^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(line);
      if (ref) add(ref[1].replace(/^<|>$/g, ''));
      for (const m of line.matchAll(/<(?:a|img)\s[^>]*(?:href|src)=["']([^"']+)["']/gi)) add(m[1]);
    });
  return links;
}

/** Why a link is broken, or undefined when it resolves inside the repository. */
function linkProblem(link: Link, read: (file: string) => string = (f) => readFileSync(path.join(root, f), 'utf8')): string | undefined {
  const { target } = link;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return undefined; // a web address
  if (target.startsWith('/')) return 'is absolute; write it relative to the file';
  const hashAt = target.indexOf('#');
  const pathPart = decodeURI(hashAt < 0 ? target : target.slice(0, hashAt));
  const fragment = hashAt < 0 ? undefined : decodeURIComponent(target.slice(hashAt + 1));
  const resolved = pathPart === '' ? link.file : path.posix.normalize(path.posix.join(path.posix.dirname(link.file), pathPart));
  if (resolved.startsWith('..') || path.isAbsolute(resolved)) return 'points outside the repository';
  const full = path.join(root, resolved);
  if (!existsSync(full)) return `names ${resolved}, which does not exist`;
  if (fragment !== undefined && fragment !== '') {
    if (!resolved.endsWith('.md') || statSync(full).isDirectory()) return `has a #${fragment} on a file that is not markdown`;
    if (!headingAnchors(read(resolved)).has(fragment)) return `names #${fragment}, which is not a heading of ${resolved}`;
  }
  return undefined;
}

function describeLink(link: Link): string {
  return `${link.file}:${link.line} (${link.target})`;
}

/** Section numbers of the doc's headings: "## 4. The @connections API" → 4, "### 4.3 Semantics" → 4.3. */
function sectionNumbers(markdown: string): Set<string> {
  const numbers = new Set<string>();
  for (const line of withoutFences(markdown).split('\n')) {
    const n = /^#{2,6}\s+(\d+(?:\.\d+)*)\.?\s/.exec(line)?.[1];
    if (n) numbers.add(n);
  }
  return numbers;
}

const CODE_DIRS = ['src', 'lambdas', 'client', 'scripts', 'test'];
const SELF = path.relative(root, fileURLToPath(import.meta.url)).split(path.sep).join('/');

function codeFiles(dir: string): string[] {
  if (!existsSync(path.join(root, dir))) return [];
  return readdirSync(path.join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) return codeFiles(rel);
    return /\.(ts|mts|js|mjs)$/.test(e.name) && rel !== SELF ? [rel] : [];
  });
}

/** Every `§n` in the code, with where it is. */
function sectionCitations(): Array<{ file: string; line: number; section: string }> {
  const out: Array<{ file: string; line: number; section: string }> = [];
  for (const file of CODE_DIRS.flatMap(codeFiles)) {
    readFileSync(path.join(root, file), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(/§\s?(\d+(?:\.\d+)*)/g)) out.push({ file, line: i + 1, section: m[1] });
      });
  }
  return out;
}

describe('docs links', () => {
  it('every relative link in README.md and docs/*.md resolves inside the repository', () => {
    const links = docFiles().flatMap((f) => linksIn(f, readFileSync(path.join(root, f), 'utf8')));
    expect(links.length).toBeGreaterThan(10); // the extraction itself works
    const broken = links.flatMap((l) => {
      const problem = linkProblem(l);
      return problem ? [`${describeLink(l)} ${problem}`] : [];
    });
    expect(broken).toEqual([]);
  });

  it('no doc points at the design notes outside the repository', () => {
    const offenders = docFiles().flatMap((f) =>
      readFileSync(path.join(root, f), 'utf8')
        .split('\n')
        .flatMap((line, i) => (/\.\.\/shared|\/work\/|spec\/apigw-websocket\.md|ARCHITECTURE\.md/.test(line) ? [`${f}:${i + 1}: ${line.trim()}`] : [])),
    );
    expect(offenders).toEqual([]);
  });

  it('every section cited in the code exists in docs/api-gateway-websocket.md', () => {
    const sections = sectionNumbers(readFileSync(path.join(root, AWS_DOC), 'utf8'));
    const citations = sectionCitations();
    expect(citations.length).toBeGreaterThan(20);
    const missing = citations.filter((c) => !sections.has(c.section)).map((c) => `${c.file}:${c.line} §${c.section}`);
    expect(missing).toEqual([]);
  });

  it('code cites the AWS behaviour by this repository\'s doc, named in every file that cites it', () => {
    const outside = /spec\/apigw-websocket\.md|\bspec\s§|spec "still open"/;
    const problems = CODE_DIRS.flatMap(codeFiles).flatMap((file) => {
      const text = readFileSync(path.join(root, file), 'utf8');
      const stale = text.split('\n').flatMap((line, i) => (outside.test(line) ? [`${file}:${i + 1} cites the design note: ${line.trim()}`] : []));
      const unnamed = /§\s?\d/.test(text) && !text.includes(AWS_DOC) ? [`${file} cites §n but never names ${AWS_DOC}`] : [];
      return [...stale, ...unnamed];
    });
    expect(problems).toEqual([]);
  });

  // The checker itself, on links that must fail: a test that cannot fail proves nothing.
  it('reports missing files, missing headings and links leaving the repository', () => {
    const problem = (target: string, file = 'docs/architecture.md') => linkProblem({ file, line: 1, target });
    expect(problem('api-gateway-websocket.md')).toBeUndefined();
    expect(problem('api-gateway-websocket.md#43-semantics')).toBeUndefined();
    expect(problem('#data-model')).toBeUndefined();
    expect(problem('https://docs.aws.amazon.com/')).toBeUndefined();
    expect(problem('../src/core')).toBeUndefined();
    expect(problem('no-such-page.md')).toMatch(/does not exist/);
    expect(problem('api-gateway-websocket.md#no-such-heading')).toMatch(/not a heading/);
    expect(problem('../../shared/ARCHITECTURE.md')).toMatch(/outside the repository/);
    expect(problem('../shared/ARCHITECTURE.md', 'README.md')).toMatch(/outside the repository/);
    expect(problem('/docs/architecture.md')).toMatch(/absolute/);
  });

  it('finds links the way a markdown renderer does, ignoring code', () => {
    const text = [
      'See [the doc](a.md "title") and ![img](b.png), [ref]: c.md',
      '[ref]: <d e.md>',
      '`[not](a-link.md)` <a href="f.md">f</a>',
      '```',
      '[inside](a-fence.md)',
      '```',
    ].join('\n');
    expect(linksIn('x.md', text).map((l) => l.target)).toEqual(['a.md', 'b.png', 'd e.md', 'f.md']);
    expect([...headingAnchors('# A `$b` (c)\n## 4.3 Semantics\n### Client → server\n# A $b c\n```\n# not\n```')]).toEqual([
      'a-b-c',
      '43-semantics',
      'client--server',
      'a-b-c-1',
    ]);
  });
});
