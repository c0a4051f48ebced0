/**
 * The two ends the frontend talks to in Grafana, for tests: an HTTP server on 127.0.0.1 answering Grafana's
 * data source routes the way Grafana's API does, and a BackendSrv doing real HTTP requests to it (what
 * `getBackendSrv()` is inside Grafana). Routes served:
 *  - `GET /api/datasources/uid/:uid/health`: the backend's CheckHealth result, `{status, message, details?}`,
 *    200 when OK and 400 otherwise (pkg/api/plugins.go in grafana/grafana);
 *  - `GET /api/datasources/uid/:uid/resources/*`: the backend's CallResource answer, status and JSON body as
 *    the backend gave them;
 *  - `POST /api/ds/query`: records the body (the queries as the frontend sends them to the backend) and
 *    answers every refId with no frames.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BackendSrv, BackendSrvRequest, FetchResponse } from '@grafana/runtime';

export { instanceSettings } from './instance-settings';
import { Observable } from 'rxjs';

export interface HealthResult {
  status: 'OK' | 'ERROR' | 'UNKNOWN';
  message: string;
  details?: unknown;
}

export interface ResourceAnswer {
  status: number;
  body: unknown;
}

export interface FakeGrafana {
  url: string;
  /** Requests received, as `METHOD path?query` with the plugin headers the frontend sent. */
  requests: Array<{ method: string; url: string; headers: http.IncomingHttpHeaders }>;
  /** Bodies of `POST /api/ds/query`. */
  queries: Array<{ from: string; to: string; queries: Array<Record<string, unknown>> }>;
  setHealth(uid: string, result: HealthResult): void;
  setResource(uid: string, path: string, answer: ResourceAnswer): void;
  close(): Promise<void>;
}

export async function startFakeGrafana(): Promise<FakeGrafana> {
  const health = new Map<string, HealthResult>();
  const resources = new Map<string, ResourceAnswer>();
  const requests: FakeGrafana['requests'] = [];
  const queries: FakeGrafana['queries'] = [];
  const server = http.createServer(async (req, res) => {
    requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const send = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (path === '/api/ds/query' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      queries.push(body);
      const results: Record<string, unknown> = {};
      for (const q of body.queries) results[q.refId] = { status: 200, frames: [] };
      return send(200, { results });
    }
    let m = /^\/api\/datasources\/uid\/([^/]+)\/health$/.exec(path);
    if (m && req.method === 'GET') {
      const h = health.get(m[1]);
      if (!h) return send(404, { message: 'Data source not found' });
      return send(h.status === 'OK' ? 200 : 400, h);
    }
    m = /^\/api\/datasources\/uid\/([^/]+)\/resources\/(.+)$/.exec(path);
    if (m) {
      const r = resources.get(`${m[1]} ${m[2]}`);
      if (!r) return send(404, { message: 'Not found' });
      return send(r.status, r.body);
    }
    send(404, { message: 'Not found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    queries,
    setHealth: (uid, result) => health.set(uid, result),
    setResource: (uid, path, answer) => resources.set(`${uid} ${path}`, answer),
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

/**
 * A BackendSrv whose `fetch` performs the request over HTTP (node:http: jsdom has no fetch), rejecting
 * non-2xx answers as Grafana's FetchError `{status, statusText, data}`.
 */
export function httpBackendSrv(baseUrl: string): BackendSrv {
  const fetchObservable = <T>(options: BackendSrvRequest): Observable<FetchResponse<T>> =>
    new Observable<FetchResponse<T>>((subscriber) => {
      const url = new URL(options.url, baseUrl);
      for (const [k, v] of Object.entries(options.params ?? {})) url.searchParams.set(k, String(v));
      const body = options.data !== undefined ? JSON.stringify(options.data) : undefined;
      const headers: Record<string, string> = { ...(options.headers as Record<string, string>) };
      if (body !== undefined) headers['content-type'] = 'application/json';
      const req = http.request(url, { method: options.method ?? 'GET', headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const data = text === '' ? undefined : JSON.parse(text);
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const statusText = res.statusMessage ?? '';
          if (ok) {
            subscriber.next({ data, status, statusText, ok, headers: res.headers, redirected: false, type: 'basic', url: url.href, config: options } as unknown as FetchResponse<T>);
            subscriber.complete();
          } else {
            subscriber.error({ status, statusText, data, config: options });
          }
        });
      });
      req.on('error', (e) => subscriber.error(e));
      req.end(body);
    });
  const unsupported = () => {
    throw new Error('not used by the Netwatch frontend');
  };
  return {
    fetch: fetchObservable,
    get: unsupported,
    post: unsupported,
    put: unsupported,
    patch: unsupported,
    delete: unsupported,
    request: unsupported,
    datasourceRequest: unsupported,
    resolveCancelerIfExists: unsupported,
    chunked: unsupported,
  } as unknown as BackendSrv;
}

