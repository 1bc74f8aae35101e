// Soak: 100,000 requests rejected by a real Bulwark plugin (bulwark-transport, 426 exits) through the Kong emulator
// on bulwark-pluginserver. Kong never steps an exited event again; the stock server keeps each one forever
// (scripts/bench/soak-rejects.ts prints both side by side), bulwark-pluginserver must end them.
import { soak } from '../../scripts/bench/soak-rejects';

test('100,000 rejected requests leave no event behind and the heap back at its baseline', async () => {
  const r = await soak('bulwark', 100_000, 32);
  expect(r.rejected).toBe(100_000);
  expect(r.eventsAfter).toBe(0);
  // After a full GC the live heap is where it started (a leak of one event per reject would be tens of MiB).
  expect(r.heapAfterMiB! - r.heapBeforeMiB!).toBeLessThan(3);
}, 240_000);
