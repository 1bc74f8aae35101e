// The entities of Kong's declarative configuration (format 3.0) as the emulator stores them:
// every entity has an id (a UUID, generated when the file gives none), references are resolved to ids.

export type Protocol = 'http' | 'https' | 'grpc' | 'grpcs' | 'tcp' | 'tls' | 'udp' | 'tls_passthrough' | 'ws' | 'wss';

export interface Service {
  id: string;
  name?: string;
  protocol: 'http' | 'https';
  host: string;
  port: number;
  path?: string;
  connect_timeout: number;
  read_timeout: number;
  write_timeout: number;
  retries: number;
  enabled: boolean;
  tags?: string[];
}

export interface Route {
  id: string;
  name?: string;
  service?: string; // service id
  protocols: Protocol[];
  methods?: string[];
  hosts?: string[];
  paths?: string[];
  headers?: Record<string, string[]>;
  strip_path: boolean;
  preserve_host: boolean;
  regex_priority: number;
  https_redirect_status_code: number;
  tags?: string[];
}

export interface Consumer {
  id: string;
  username?: string;
  custom_id?: string;
  tags?: string[];
}

export interface PluginEntity {
  id: string;
  name: string;
  instance_name?: string;
  enabled: boolean;
  /** The config as the operator wrote it; normalised (defaults, nulls dropped) by the schema layer. */
  config: Record<string, unknown>;
  route?: string; // route id
  service?: string; // service id
  consumer?: string; // consumer id
  protocols: Protocol[];
  tags?: string[];
}

export interface KongConfig {
  services: Service[];
  routes: Route[];
  consumers: Consumer[];
  plugins: PluginEntity[];
}
