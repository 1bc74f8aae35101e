// Runs the offline `deck validate -s <file>` (Debian decK 1.4.0). It is only a structural lint of Kong
// 2.x-era fields (../../docs/kong-protocol.md §5): it refuses 3.x-only fields such as plugin `instance_name`, so a
// kong.yml that passes it avoids them; it does not check plugin configs or the format version.
import { spawnSync } from 'child_process';

export function deckBinary(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v deck'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() || null : null;
}

export function deckValidate(file: string): { code: number; output: string } {
  const bin = deckBinary();
  if (!bin) throw new Error('deck is not installed (Debian package "deck")');
  // deck 1.4 looks for ~/.deck.yaml and may try to reach a Kong for `validate --online`; plain validate
  // is offline. The timeout keeps a misbehaving binary from hanging the suite.
  const r = spawnSync(bin, ['validate', '-s', file], { encoding: 'utf8', timeout: 60000 });
  return { code: r.status ?? -1, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}
