// JSON-lines file sink: one SecurityEvent per line, appended (one write per batch, O_APPEND so that rotation by
// rename + copytruncate tools behaves). Asynchronous file I/O: nothing blocks the event loop.
import { promises as fs } from 'node:fs';
import type { SecurityEvent } from '../../lib/security-event';
import type { Transport } from './queue';

export function fileTransport(path: string): Transport<SecurityEvent> {
  return {
    async send(batch) {
      let text = '';
      for (const event of batch) text += `${JSON.stringify(event)}\n`;
      await fs.appendFile(path, text, { mode: 0o640 });
    },
  };
}
