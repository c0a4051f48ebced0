/** Settings of a Netwatch data source instance as Grafana hands them to the frontend, for tests and the harness. */
import type { DataSourceInstanceSettings, DataSourcePluginMeta } from '@grafana/data';
import pluginJson from '../plugin.json';
import type { NetwatchDataSourceOptions } from '../types';

/** The instance settings Grafana hands a Netwatch data source (uid `netwatch` by default, as provisioned). */
export function instanceSettings(uid = 'netwatch'): DataSourceInstanceSettings<NetwatchDataSourceOptions> {
  return {
    id: 1,
    uid,
    type: pluginJson.id,
    name: 'Netwatch',
    meta: { id: pluginJson.id, name: pluginJson.name, type: 'datasource', info: {} } as unknown as DataSourcePluginMeta,
    readOnly: false,
    access: 'proxy',
    jsonData: { url: 'http://127.0.0.1:7070' },
  };
}
