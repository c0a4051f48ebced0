/** The plugin's entry point, loaded by Grafana's SystemJS loader from dist/module.js. */
import { DataSourcePlugin } from '@grafana/data';
import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { DataSource } from './datasource';
import type { NetwatchDataSourceOptions, NetwatchQuery, NetwatchSecureJsonData } from './types';

export const plugin = new DataSourcePlugin<DataSource, NetwatchQuery, NetwatchDataSourceOptions, NetwatchSecureJsonData>(DataSource)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
