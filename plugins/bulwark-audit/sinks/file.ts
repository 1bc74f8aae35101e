// JSON-lines file sink: one event per line (as documented, or its ECS / OCSF form: `format`), appended (one write per batch, O_APPEND so that rotation by
// rename + copytruncate tools behaves). Asynchronous file I/O: nothing blocks the event loop.
import { promises as fs } from 'node:fs';
import type { SecurityEvent } from '../../lib/security-event';
import { formatEvent, type EventFormat } from '../mappings';
import type { Transport } from './queue';

export function fileTransport(path: string, format: EventFormat = 'bulwark'): Transport<SecurityEvent> {
  return {
    async send(batch) {
      let text = '';
      for (const event of batch) text += `${JSON.stringify(formatEvent(event, format))}\n`;
      await fs.appendFile(path, text, { mode: 0o640 });
    },
  };
}
