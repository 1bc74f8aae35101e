// A bench-only plugin (scripts/bench/threat-pluginserver.ts loads it from a temporary plugins root): the PDK reads
// bulwark-threat-protection's access handler makes, and nothing else. Method, the request line (path with query and
// HTTP version), headers (1000), the raw body under the same condition (a Content-Length that is not 0, or none on a
// request that may have a body: not HTTP/1.x without Transfer-Encoding), then the allow record the
// definePlugin wrapper writes: the same RPCs for a request the threat plugin passes, so that the bench can show what
// the RPCs alone cost the plugin server.
import { readRequestHeaders } from '../../plugins/lib/bounded-reads';
import { configFields, kongSchema } from '../../plugins/lib/fields';
import { headerValues } from '../../plugins/lib/pdk';
import { definePlugin, type PhaseContext } from '../../plugins/lib/plugin';
import { certainlyNoBody, readRequestLine } from '../../plugins/lib/request-line';

const Fields = configFields({});

export const { Name, Version, Priority, Schema, Plugin } = definePlugin<Record<string, never>, unknown>({
  name: 'bulwark-bench-rpc-twin',
  priority: 880,
  schema: kongSchema(Fields),
  parseConfig: () => ({}),
  phases: {
    async access(ctx: PhaseContext<Record<string, never>>): Promise<void> {
      const { kong } = ctx;
      await kong.request.getMethod();
      const line = await readRequestLine(kong);
      const headers = await readRequestHeaders(ctx);
      if (headers === undefined) return;
      const length = headerValues(headers, 'content-length')[0];
      if ((length === undefined || length.trim() !== '0') && !certainlyNoBody(line, headers)) {
        await kong.request.getRawBody(1024 * 1024 + 1);
      }
    },
  },
});
