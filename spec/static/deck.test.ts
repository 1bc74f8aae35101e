import { join } from 'path';
import { deckBinary, deckValidate } from './deck';

const fixture = (name: string) => join(__dirname, '../fixtures/declarative', name);
const maybe = deckBinary() ? test : test.skip;

maybe('deck validate accepts a file using only 2.x-era fields', () => {
  const r = deckValidate(fixture('valid.yml'));
  expect(r.output).toBe('');
  expect(r.code).toBe(0);
});

maybe('deck validate refuses 3.x-only fields (plugin instance_name)', () => {
  const r = deckValidate(fixture('deck-rejects-instance-name.yml'));
  expect(r.code).not.toBe(0);
  expect(r.output).toMatch(/instance_name is not allowed/);
});
