// A clone holds everything it needs: no tracked file may point outside the repository (a development machine's
// `../shared` folder, an absolute path of someone's machine), every citation of the Kong protocol notes names the
// in-repo file by a path that resolves and a section that exists, and every relative link in the Markdown files
// leads to a file of the repository.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');
const SELF = path.relative(root, __filename).split(path.sep).join('/');
const PROTOCOL_DOC = 'docs/kong-protocol.md';

/** The tracked files (git), or every file outside node_modules/dist/.git when this is not a git checkout. */
function trackedFiles(): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    return out.split('\0').filter(Boolean);
  } catch {
    const out: string[] = [];
    const walk = (dir: string): void => {
      for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = dir ? `${dir}/${entry.name}` : entry.name;
        if (entry.isDirectory()) {
          if (!['node_modules', 'dist', '.git', 'coverage'].includes(entry.name)) walk(rel);
        } else if (entry.isFile()) out.push(rel);
      }
    };
    walk('');
    return out;
  }
}

/** Text files with their lines (binary files, e.g. the gzipped OpenAPI fixture, are skipped). */
const texts: { file: string; lines: string[] }[] = trackedFiles()
  .filter((file) => file !== SELF && fs.existsSync(path.join(root, file)))
  .flatMap((file) => {
    const bytes = fs.readFileSync(path.join(root, file));
    return bytes.includes(0) ? [] : [{ file, lines: bytes.toString('utf8').split('\n') }];
  });

/** `file:line: text` for every line matching `re`. */
function offending(re: RegExp): string[] {
  return texts.flatMap(({ file, lines }) =>
    lines.flatMap((line, i) => (re.test(line) ? [`${file}:${i + 1}: ${line.trim().slice(0, 160)}`] : [])),
  );
}

test('the file list is the repository (the checks below read real files)', () => {
  const names = texts.map((t) => t.file);
  expect(names).toEqual(expect.arrayContaining(['README.md', 'plugins/lib/plugin.ts', PROTOCOL_DOC]));
});

test('no tracked file refers to ../shared, which exists only on the development machines', () => {
  // `../shared`, `../../../../shared/…`, or path.join(…, '..', 'shared').
  expect(offending(/(^|[^\w.-])(\.\.[/\\])+shared\b|['"]\.\.['"],\s*['"]shared['"]/)).toEqual([]);
});

test('no tracked file names an absolute path of a machine (home, work or temp folders)', () => {
  // A path segment that starts a path (not part of a URL or of a longer path): /work/…, /home/<user>, /root/…,
  // /Users/<user>, /tmp/… (use os.tmpdir()), /var/folders/… (macOS temp), C:\Users\….
  const machinePath = /(^|[\s'"`(=,:[])(\/(work|home|root|Users|tmp|private\/tmp|var\/folders)\/|[A-Z]:\\Users\\)/;
  // Third-party attack data (attack lists, CRS, libinjection's sets), kept unmodified: payloads such as
  // `ls -l /home/*` and CRS comments about /tmp/sess_* are what they detect, not paths of this machine.
  const thirdPartyData = /^spec\/fixtures\/(attacks|crs4|libinjection)\//;
  expect(offending(machinePath).filter((hit) => !thirdPartyData.test(hit))).toEqual([]);
});

describe('citations of the Kong protocol notes', () => {
  const doc = fs.readFileSync(path.join(root, PROTOCOL_DOC), 'utf8');
  const sections = new Set([...doc.matchAll(/^#{2,4} (\d+(?:\.\d+)*)[. ]/gm)].map((m) => m[1]));
  const slug = (heading: string): string =>
    heading
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
  const anchors = new Set([...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1])));

  test('the notes have the numbered sections the code cites', () => {
    expect([...sections]).toEqual(expect.arrayContaining(['1.2', '1.5', '1.7', '1.8', '1.10', '1.11', '1.12', '3.2']));
  });

  test('each citation is a relative path to docs/kong-protocol.md, and its section or anchor exists', () => {
    const problems: string[] = [];
    for (const { file, lines } of texts) {
      if (file === PROTOCOL_DOC) continue;
      const dir = path.dirname(path.join(root, file));
      lines.forEach((line, i) => {
        const where = `${file}:${i + 1}`;
        for (const m of line.matchAll(/([\w./-]*)kong-protocol\.md(#[\w-]+)?/g)) {
          const target = path.resolve(dir, `${m[1]}kong-protocol.md`);
          if (target !== path.join(root, PROTOCOL_DOC)) {
            problems.push(`${where}: "${m[0]}" does not lead to ${PROTOCOL_DOC} from ${path.dirname(file)}`);
          }
          if (m[2] && !anchors.has(m[2].slice(1))) problems.push(`${where}: no heading for the anchor ${m[2]}`);
          // The sections named right after the path (`… kong-protocol.md §1.5`, `… §1.4–1.11`, `§3.1, item 5`).
          const after = line.slice((m.index ?? 0) + m[0].length).match(/^\)?\s*(§\s*[\d.]+(?:\s*[–-]\s*[\d.]+)?)/);
          for (const n of after ? (after[1].match(/\d+(?:\.\d+)*/g) ?? []) : []) {
            if (!sections.has(n)) problems.push(`${where}: ${PROTOCOL_DOC} has no section ${n}`);
          }
        }
        // A section cited before the path, in the same line (`§1.8 of ../../docs/kong-protocol.md`).
        for (const m of line.matchAll(/§\s*(\d+(?:\.\d+)*) of [\w./-]*kong-protocol\.md/g)) {
          if (!sections.has(m[1])) problems.push(`${where}: ${PROTOCOL_DOC} has no section ${m[1]}`);
        }
      });
    }
    expect(problems).toEqual([]);
  });
});

/** GitHub's heading anchors of a Markdown text: lower case, punctuation dropped, spaces to '-', repeats numbered. */
function markdownAnchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && line.match(/^#{1,6} (.+?)\s*#*\s*$/);
    if (!m) continue;
    const base = m[1]
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

test('every relative link in the Markdown files leads to a file of the repository, and to a heading there', () => {
  const problems: string[] = [];
  for (const { file, lines } of texts.filter((t) => t.file.endsWith('.md'))) {
    let fenced = false;
    lines.forEach((line, i) => {
      if (/^\s*```/.test(line)) fenced = !fenced;
      if (fenced) return;
      for (const m of line.replace(/`[^`]*`/g, '').matchAll(/\]\(([^)\s]+)\)/g)) {
        const [href, anchor] = m[1].split('#');
        if (/^[a-z][a-z0-9+.-]*:/i.test(href)) continue; // http(s):, mailto:
        const target = href
          ? path.resolve(path.dirname(path.join(root, file)), decodeURIComponent(href))
          : path.join(root, file);
        if (!fs.existsSync(target)) {
          problems.push(`${file}:${i + 1}: ${m[1]} (no such file)`);
        } else if (anchor && target.endsWith('.md') && !markdownAnchors(fs.readFileSync(target, 'utf8')).has(anchor)) {
          problems.push(`${file}:${i + 1}: ${m[1]} (no such heading)`);
        }
      }
    });
  }
  expect(problems).toEqual([]);
});
