import { IngestClients } from './clients';
import { createPluginMetrics } from './metrics';
import type { DataSourceInstanceSettings } from './settings';

const ds = (uid: string, lastUpdatedMS = 1, url = 'http://127.0.0.1:7070'): DataSourceInstanceSettings => ({ uid, lastUpdatedMS, jsonData: Buffer.from(JSON.stringify({ url })), decryptedSecureJsonData: { token: 't' } });

describe('IngestClients', () => {
  it('keeps one client per data source, rebuilt only when lastUpdatedMS changes', () => {
    const metrics = createPluginMetrics();
    const clients = new IngestClients(metrics);
    const a1 = clients.get(ds('a'));
    expect(clients.get(ds('a'))).toBe(a1);
    const a2 = clients.get(ds('a', 2, 'http://127.0.0.1:7071'));
    expect(a2).not.toBe(a1);
    expect(a2.settings.baseUrl).toBe('http://127.0.0.1:7071');
    expect(clients.get(ds('b'))).not.toBe(a2);
    expect({ size: clients.size, built: metrics.clientsBuilt.get(), evicted: metrics.clientsEvicted.get() }).toEqual({ size: 2, built: 3, evicted: 0 });
    clients.close();
  });

  it('evicts the least recently used client beyond its limit, and counts it', () => {
    const metrics = createPluginMetrics();
    const clients = new IngestClients(metrics, 2);
    const a = clients.get(ds('a'));
    clients.get(ds('b'));
    expect(clients.get(ds('a'))).toBe(a); // a is now the most recently used
    clients.get(ds('c')); // evicts b
    expect(clients.size).toBe(2);
    expect(clients.get(ds('a'))).toBe(a);
    expect(metrics.clientsEvicted.get()).toBe(1);
    clients.get(ds('b')); // b comes back as a new client and evicts c
    expect({ built: metrics.clientsBuilt.get(), evicted: metrics.clientsEvicted.get() }).toEqual({ built: 4, evicted: 2 });
    expect(metrics.registry.render()).toMatch(/^netwatch_plugin_ingest_clients 2$/m);
    clients.close();
  });

  it('throws the settings error for unusable settings and caches nothing', () => {
    const clients = new IngestClients();
    expect(() => clients.get({ uid: 'x', jsonData: Buffer.from('{"url":"ftp://h"}') })).toThrow(/the scheme must be http or https, not ftp/);
    expect(clients.size).toBe(0);
  });
});
