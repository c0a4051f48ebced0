/**
 * The browser harness page: QueryEditor and ConfigEditor rendered with @grafana/ui's dark theme and global
 * styles, each inside a parent keeping its model as Grafana's query row and data source page do. The models
 * are shown on the page and exposed as `window.netwatchHarness` for the browser test to assert on.
 */
import { createTheme, ThemeContext, type DataSourceSettings } from '@grafana/data';
import { setBackendSrv, type BackendSrv, type BackendSrvRequest, type FetchResponse } from '@grafana/runtime';
import { GlobalStyles, PortalContainer } from '@grafana/ui';
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { Observable } from 'rxjs';
import { ConfigEditor } from '../../components/ConfigEditor';
import { QueryEditor } from '../../components/QueryEditor';
import { DataSource } from '../../datasource';
import { instanceSettings } from '../instance-settings';
import { TestTemplateSrv } from '../template-srv';
import { DEFAULT_QUERIES, type NetwatchDataSourceOptions, type NetwatchQuery, type NetwatchSecureJsonData } from '../../types';

type Options = DataSourceSettings<NetwatchDataSourceOptions, NetwatchSecureJsonData>;

interface HarnessState {
  query: NetwatchQuery;
  runs: NetwatchQuery[];
  options: Options;
}

declare global {
  interface Window {
    netwatchHarness: HarnessState;
  }
}

const theme = createTheme({ colors: { mode: 'dark' } });

/** What getBackendSrv() is in Grafana, reduced to the fetch the data source uses: requests to this page's server. */
const backendSrv = {
  fetch: <T,>(options: BackendSrvRequest) =>
    new Observable<FetchResponse<T>>((subscriber) => {
      fetch(options.url, { method: options.method ?? 'GET', headers: options.headers as Record<string, string> })
        .then(async (r) => {
          const data = await r.json();
          if (r.ok) {
            subscriber.next({ data, status: r.status, statusText: r.statusText, ok: true, headers: r.headers, redirected: r.redirected, type: r.type, url: r.url, config: options });
            subscriber.complete();
          } else {
            subscriber.error({ status: r.status, statusText: r.statusText, data, config: options });
          }
        })
        .catch((e) => subscriber.error(e));
    }),
} as unknown as BackendSrv;
setBackendSrv(backendSrv);

const datasource = new DataSource(instanceSettings('netwatch'), new TestTemplateSrv([]));

const initialOptions = {
  id: 1,
  uid: 'netwatch',
  orgId: 1,
  name: 'Netwatch',
  type: 'netwatch-ingest-datasource',
  access: 'proxy',
  jsonData: { url: 'http://127.0.0.1:7070' },
  secureJsonFields: { token: true },
  readOnly: false,
} as unknown as Options;

window.netwatchHarness = { query: { refId: 'A', ...DEFAULT_QUERIES.flows }, runs: [], options: initialOptions };

function Section({ id, title, model, children }: { id: string; title: string; model: unknown; children: React.ReactNode }) {
  return (
    <section id={id} style={{ padding: theme.spacing(2), marginBottom: theme.spacing(2), background: theme.colors.background.primary, border: `1px solid ${theme.colors.border.weak}`, borderRadius: theme.shape.radius.default }}>
      <h4 style={{ marginBottom: theme.spacing(2) }}>{title}</h4>
      {children}
      <pre data-testid={`${id}-model`} style={{ marginTop: theme.spacing(2), marginBottom: 0, fontSize: 12 }}>
        {JSON.stringify(model)}
      </pre>
    </section>
  );
}

function Harness() {
  const [query, setQuery] = useState(window.netwatchHarness.query);
  const [runs, setRuns] = useState(0);
  const [options, setOptions] = useState(window.netwatchHarness.options);
  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <div style={{ padding: theme.spacing(2), width: 1180 }}>
        <Section id="query-editor" title="Netwatch query" model={query}>
          <QueryEditor
            query={query}
            datasource={datasource}
            onChange={(q) => {
              window.netwatchHarness.query = q;
              setQuery(q);
            }}
            onRunQuery={() => {
              window.netwatchHarness.runs.push(window.netwatchHarness.query);
              setRuns((n) => n + 1);
            }}
          />
          <div data-testid="query-runs" style={{ marginTop: theme.spacing(1), color: theme.colors.text.secondary }}>
            runs: {runs}
          </div>
        </Section>
        <Section id="config-editor" title="Netwatch data source settings" model={{ jsonData: options.jsonData, secureJsonFields: options.secureJsonFields, secureJsonData: options.secureJsonData }}>
          <ConfigEditor
            options={options}
            onOptionsChange={(o) => {
              window.netwatchHarness.options = o as Options;
              setOptions(o as Options);
            }}
          />
        </Section>
      </div>
      <PortalContainer />
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<Harness />);
