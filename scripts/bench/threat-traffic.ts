// (Used by spec/plugins/bulwark-threat-protection/detection.test.ts and scripts/bench/threat-protection.ts.)
// Generated realistic API traffic for false-positive measurement: JSON bodies with names, addresses, prose with
// quotes and semicolons, SQL-ish words, emails, URLs, base64, JWTs, UUIDs, and search queries, from a seeded
// generator (the same requests every run).
import type { RequestSnapshot } from '../../plugins/bulwark-threat-protection/request-model';

export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const FIRST = [
  'Jane',
  'John',
  'Siobhán',
  'Zoë',
  'Renée',
  'Mohammed',
  'Li',
  'Ana-María',
  'José',
  'Chloé',
  'Björn',
  'Priya',
  'Kwame',
];
const LAST = [
  "O'Brien",
  "D'Angelo",
  'Smith-Jones',
  'van der Berg',
  'Müller',
  'Nguyen',
  'García',
  "O'Neill",
  'Select',
  'Union',
  'Drop',
];
const STREETS = [
  '12 Baker St., Apt 4; London',
  '1600 Amphitheatre Pkwy, Mountain View, CA 94043',
  "Rue de l'Église 5, 1000 Bruxelles",
  'P.O. Box 77 — Station A',
];
const PROSE = [
  'Please select the best option; we will update you when the order ships.',
  "Drop me a line if you'd like to change the delivery date.",
  'Meet at Union Station at 5pm — bring the "blue" folder.',
  'Sort the results by date, then by name (ascending); exclude cancelled ones.',
  "It's 50% off until Friday: order now & save!",
  'The table is reserved for 4 people; please confirm by email.',
  'Insert the card, then press OK. If it fails, try again in 5 minutes.',
  'Where do I update my billing address?',
  'Customer said: "the package was left at the door; nobody signed".',
  'Can you delete my old account and merge the orders into this one?',
  'Use the code SPRING-2024 at checkout (one per customer).',
  'Shipping to the U.K. takes 3-5 days; to the U.S., 7-10.',
];
const QUERIES = [
  'red shoes size 10',
  'union square hotels',
  'how to drop a column',
  'select committee report 2023',
  "women's jackets",
  'c++ tutorial',
  'price < 50',
  'tom & jerry',
  'rock and roll',
  'or best offer',
];
const TAGS = ['new', 'sale', 'gift', 'b2b', 'priority', 'select', 'update'];

function pick<T>(rnd: () => number, list: readonly T[]): T {
  return list[Math.floor(rnd() * list.length)]!;
}

function uuid(rnd: () => number): string {
  const h = () => Math.floor(rnd() * 16).toString(16);
  const part = (n: number) => Array.from({ length: n }, h).join('');
  return `${part(8)}-${part(4)}-4${part(3)}-a${part(3)}-${part(12)}`;
}

function base64(rnd: () => number, bytes: number): string {
  return Buffer.from(Array.from({ length: bytes }, () => Math.floor(rnd() * 256))).toString('base64');
}

function jwt(rnd: () => number): string {
  const b64u = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64u({ alg: 'RS256', typ: 'JWT' })}.${b64u({ sub: uuid(rnd), scope: 'orders:read', iat: 1700000000 })}.${base64(rnd, 64).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')}`;
}

const UA = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1',
  'okhttp/4.12.0',
  'python-requests/2.31.0',
];

/** One request: a search GET or a JSON POST (about half each). */
export function realisticRequest(rnd: () => number): RequestSnapshot {
  const name = `${pick(rnd, FIRST)} ${pick(rnd, LAST)}`;
  const email = `${pick(rnd, FIRST)
    .toLowerCase()
    .replace(/[^a-z]/g, '')}.${Math.floor(rnd() * 1000)}@example.com`;
  const headers: Record<string, string[]> = {
    'user-agent': [pick(rnd, UA)],
    referer: [`https://shop.example.com/products/${uuid(rnd)}?ref=mail&utm_source=newsletter`],
    cookie: [`session=${base64(rnd, 24)}; theme=dark; consent=analytics%2Cads`],
    authorization: [`Bearer ${jwt(rnd)}`],
  };
  if (rnd() < 0.5) {
    const q = encodeURIComponent(pick(rnd, QUERIES));
    return {
      method: 'GET',
      pathWithQuery: `/v1/search?q=${q}&page=${1 + Math.floor(rnd() * 9)}&sort=-created_at&tag=${pick(rnd, TAGS)}`,
      headers,
    };
  }
  const body = {
    customer: {
      id: uuid(rnd),
      name,
      email,
      phone: `+1 (555) ${100 + Math.floor(rnd() * 900)}-${1000 + Math.floor(rnd() * 9000)}`,
    },
    shipping: { address: pick(rnd, STREETS), notes: pick(rnd, PROSE) },
    items: Array.from({ length: 1 + Math.floor(rnd() * 4) }, () => ({
      sku: `SKU-${Math.floor(rnd() * 1e5)}`,
      qty: 1 + Math.floor(rnd() * 3),
      price: Math.round(rnd() * 10000) / 100,
      tags: [pick(rnd, TAGS)],
    })),
    comment: pick(rnd, PROSE),
    website: `https://www.example.org/${pick(rnd, ['about', 'blog/2024/01/hello-world', 'a/b?c=d&e=f'])}`,
    avatar: base64(rnd, 48),
    token: jwt(rnd),
    created_at: new Date(1700000000000 + Math.floor(rnd() * 1e10)).toISOString(),
  };
  return {
    method: 'POST',
    pathWithQuery: `/v1/orders/${uuid(rnd)}`,
    headers: { ...headers, 'content-type': ['application/json'] },
    body: Buffer.from(JSON.stringify(body)),
  };
}

/** A JSON body of about `bytes` bytes of realistic records. */
export function jsonBodyOfSize(rnd: () => number, bytes: number): RequestSnapshot {
  const records: unknown[] = [];
  let size = 2;
  while (size < bytes) {
    const r = {
      name: `${pick(rnd, FIRST)} ${pick(rnd, LAST)}`,
      address: pick(rnd, STREETS),
      note: pick(rnd, PROSE),
      id: uuid(rnd),
    };
    size += JSON.stringify(r).length + 1;
    records.push(r);
  }
  return {
    method: 'POST',
    pathWithQuery: '/v1/import',
    headers: { 'content-type': ['application/json'], 'user-agent': [UA[0]!] },
    body: Buffer.from(JSON.stringify({ records })),
  };
}
