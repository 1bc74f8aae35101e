// Syslog sink: RFC 5424 messages over UDP (RFC 5426, one message per datagram), TCP or TLS (RFC 6587 octet
// counting / RFC 5425: `<length> <message>`). The MSG part is the SecurityEvent as JSON; STRUCTURED-DATA is nil.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as os from 'node:os';
import * as tls from 'node:tls';
import type { SecurityEvent } from '../../lib/security-event';
import type { Transport } from './queue';
import { formatEvent, type EventFormat } from '../mappings';

export type SyslogProtocol = 'udp' | 'tcp' | 'tls';

export interface SyslogConfig {
  host: string;
  port: number;
  protocol: SyslogProtocol;
  /** RFC 5424 facility number (default 13: log audit). */
  facility: number;
  appName: string;
  /** PEM trust anchors for TLS (otherwise the system store). */
  caCertificate?: string;
  tlsVerify: boolean;
  /** MSG: the event as documented, or its ECS / OCSF form. */
  format: EventFormat;
}

/** RFC 5424 severity per decision: 6 informational, 4 warning, 3 error. */
const SEVERITY = { allow: 6, 'monitor-deny': 4, deny: 4, error: 3 } as const;

const HOSTNAME =
  os
    .hostname()
    .replace(/[^\x21-\x7e]/g, '')
    .slice(0, 255) || '-';

/** One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID - MSG`. */
export function syslogMessage(
  e: SecurityEvent,
  facility: number,
  appName: string,
  hostname = HOSTNAME,
  format: EventFormat = 'bulwark',
): string {
  const pri = facility * 8 + SEVERITY[e.decision];
  const app = appName.replace(/[^\x21-\x7e]/g, '').slice(0, 48) || '-';
  return `<${pri}>1 ${e.timestamp} ${hostname} ${app} ${process.pid} ${e.decision} - ${JSON.stringify(formatEvent(e, format))}`;
}

/** RFC 6587 §3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`. */
export function octetFrame(message: string): string {
  return `${Buffer.byteLength(message)} ${message}`;
}

export function syslogTransport(conf: SyslogConfig): Transport<SecurityEvent> {
  if (conf.protocol === 'udp') {
    const socket = dgram.createSocket(net.isIPv6(conf.host) ? 'udp6' : 'udp4');
    socket.unref();
    return {
      async send(batch) {
        for (const e of batch) {
          const msg = Buffer.from(syslogMessage(e, conf.facility, conf.appName, undefined, conf.format));
          await new Promise<void>((resolve, reject) =>
            socket.send(msg, conf.port, conf.host, (err) => (err ? reject(err) : resolve())),
          );
        }
      },
      async close() {
        socket.close();
      },
    };
  }
  // A stream connection kept open between batches; re-opened after an error.
  let socket: net.Socket | undefined;
  const connect = (): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      const s =
        conf.protocol === 'tls'
          ? tls.connect({
              host: conf.host,
              port: conf.port,
              servername: net.isIP(conf.host) ? undefined : conf.host,
              ca: conf.caCertificate,
              rejectUnauthorized: conf.tlsVerify,
            })
          : net.connect({ host: conf.host, port: conf.port });
      s.setTimeout(10_000, () => s.destroy(new Error('syslog: timeout')));
      s.once('error', onError);
      s.once(conf.protocol === 'tls' ? 'secureConnect' : 'connect', () => {
        s.off('error', onError);
        s.on('error', () => {
          if (socket === s) socket = undefined;
        });
        s.on('close', () => {
          if (socket === s) socket = undefined;
        });
        s.setTimeout(0);
        s.unref();
        resolve(s);
      });
    });
  return {
    async send(batch) {
      socket ??= await connect();
      const s = socket;
      let text = '';
      for (const e of batch) text += octetFrame(syslogMessage(e, conf.facility, conf.appName, undefined, conf.format));
      await new Promise<void>((resolve, reject) => {
        s.write(text, (err) => {
          if (err) {
            s.destroy();
            reject(err);
          } else resolve();
        });
      });
    },
    async close() {
      socket?.end();
      socket = undefined;
    },
  };
}
