/** @jest-environment jsdom */
import { render, screen, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import { setBackendSrv } from '@grafana/runtime';
import { DataSource } from '../datasource';
import { httpBackendSrv, instanceSettings, startFakeGrafana, type FakeGrafana } from '../testing/grafana-api';
import { TestTemplateSrv } from '../testing/template-srv';
import { DEFAULT_QUERIES, KINDS, KIND_INFO, type NetwatchQuery, type QueryKind } from '../types';
import { QueryEditor } from './QueryEditor';

/** Renders the editor inside a parent that keeps the query, as Grafana's query row does. */
function renderEditor(initial: NetwatchQuery, kinds?: readonly QueryKind[], datasource = {} as DataSource) {
  const onChange = jest.fn<void, [NetwatchQuery]>();
  const onRunQuery = jest.fn<void, []>();
  function Host() {
    const [query, setQuery] = useState(initial);
    return (
      <QueryEditor
        query={query}
        kinds={kinds}
        datasource={datasource}
        onChange={(q) => {
          onChange(q);
          setQuery(q);
        }}
        onRunQuery={onRunQuery}
      />
    );
  }
  render(<Host />);
  return { onChange, onRunQuery, user: userEvent.setup({ delay: null }) };
}

const query = (kind: QueryKind, fields: Partial<NetwatchQuery> = {}): NetwatchQuery => ({ refId: 'A', ...DEFAULT_QUERIES[kind], ...fields });

/** The labels of the fields shown, in order. */
function fieldLabels(): string[] {
  return Array.from(screen.getByTestId('netwatch-query-editor').querySelectorAll('label')).map((l) => l.textContent!.trim());
}

/** Types literal text: user-event reads `{` and `[` as key names, which template variables are full of. */
async function typeText(user: ReturnType<typeof userEvent.setup>, el: HTMLElement, text: string, enter = false) {
  await user.type(el, text.replace(/[{[]/g, '$&$&') + (enter ? '{Enter}' : ''));
}

async function pick(user: ReturnType<typeof userEvent.setup>, label: string, option: string) {
  const input = screen.getByLabelText(label);
  await user.click(input);
  await user.keyboard('{ArrowDown}');
  const menu = await screen.findByRole('listbox');
  await user.click(within(menu).getByText(option, { exact: true }));
}

describe('QueryEditor fields per kind', () => {
  const want: Record<QueryKind, string[]> = {
    flows: ['Kind', 'CIDR', 'Source CIDR', 'Destination CIDR', 'Port', 'Source port', 'Destination port', 'Protocol', 'Order by', 'Limit'],
    flow_series: ['Kind', 'CIDR', 'Source CIDR', 'Destination CIDR', 'Port', 'Source port', 'Destination port', 'Protocol', 'Metric', 'Group by', 'Interval', 'Limit'],
    top_talkers: ['Kind', 'CIDR', 'Source CIDR', 'Destination CIDR', 'Port', 'Source port', 'Destination port', 'Protocol', 'Group by', 'Order by', 'Limit'],
    pings: ['Kind', 'Target', 'Metric', 'Aggregate', 'Interval'],
    ping_summary: ['Kind', 'Target'],
    system_metrics: ['Kind', 'Mount', 'Metric', 'Aggregate', 'Interval'],
    network_metrics: ['Kind', 'Interface', 'Metric', 'Aggregate', 'Interval'],
    logs: ['Kind', 'CIDR', 'Source', 'Level', 'Text', 'Limit'],
    traces: ['Kind', 'CIDR', 'Min severity', 'Source', 'Limit'],
    threats: ['Kind', 'CIDR', 'Min score', 'Order by', 'Limit'],
    threat_scores: ['Kind', 'CIDR', 'Min score', 'Metric', 'Interval', 'Limit'],
    annotations: ['Kind', 'CIDR', 'Source', 'Limit'],
    stats: ['Kind', 'Source'],
  };

  it.each(KINDS.map((k) => [k]))('%s shows exactly its fields and its description', (kind) => {
    renderEditor(query(kind));
    expect(fieldLabels()).toEqual(want[kind]);
    expect(screen.getByTestId('netwatch-kind-description')).toHaveTextContent(KIND_INFO[kind].description);
  });

  it('shows the subnet prefix only when grouping by subnet', () => {
    renderEditor(query('flow_series', { groupBy: 'subnet', subnetPrefix: 24 }));
    expect(fieldLabels()).toContain('Subnet prefix');
    expect(screen.getByLabelText('Subnet prefix')).toHaveValue(24);
  });

  it('offers every kind with its one-line description in the selector', async () => {
    const { user } = renderEditor(query('flows'));
    await user.click(screen.getByLabelText('Kind'));
    await user.keyboard('{ArrowDown}');
    const menu = await screen.findByRole('listbox');
    const options = within(menu).getAllByRole('option');
    expect(options.map((o) => o.textContent)).toEqual(KINDS.map((k) => `${k}${KIND_INFO[k].description}`));
  });

  it('switches fields and model when another kind is picked, and runs the query', async () => {
    const { user, onChange, onRunQuery } = renderEditor(query('flow_series', { cidr: ['10.0.0.0/8'], metric: ['bytes'] }));
    await pick(user, 'Kind', 'pings');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', kind: 'pings', cidr: ['10.0.0.0/8'], metric: ['latency_ms'], limit: 10 });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
    expect(fieldLabels()).toEqual(['Kind', 'Target', 'Metric', 'Aggregate', 'Interval']);
    expect(screen.getByTestId('netwatch-kind-description')).toHaveTextContent(KIND_INFO.pings.description);
  });

  it('offers only the given kinds (the annotation editor)', async () => {
    const { user } = renderEditor(query('annotations'), ['annotations']);
    await user.click(screen.getByLabelText('Kind'));
    await user.keyboard('{ArrowDown}');
    const menu = await screen.findByRole('listbox');
    expect(within(menu).getAllByRole('option').map((o) => o.textContent)).toEqual([`annotations${KIND_INFO.annotations.description}`]);
  });
});

describe('QueryEditor text fields (a data source without value lists)', () => {
  // [kind, label, typed, field, value in the model]
  it.each<[QueryKind, string, string, keyof NetwatchQuery, unknown]>([
    ['flows', 'CIDR', '10.0.0.0/8, 2001:db8::/32', 'cidr', ['10.0.0.0/8', '2001:db8::/32']],
    ['flows', 'Source CIDR', '192.168.1.7', 'srcCidr', ['192.168.1.7']],
    ['flows', 'Destination CIDR', '$subnet, 203.0.113.0/24', 'dstCidr', ['$subnet', '203.0.113.0/24']],
    ['flows', 'Port', '22, 8000-8100', 'port', ['22', '8000-8100']],
    ['top_talkers', 'Source port', '${port:csv}', 'srcPort', ['${port:csv}']],
    ['flow_series', 'Destination port', '443', 'dstPort', ['443']],
    ['pings', 'Target', '1.1.1.1, https://example.org', 'target', ['1.1.1.1', 'https://example.org']],
    ['logs', 'Source', 'auth, fail2ban', 'source', ['auth', 'fail2ban']],
    ['logs', 'Text', 'Failed password', 'text', 'Failed password'],
    ['network_metrics', 'Interface', 'eth0', 'interface', ['eth0']],
    ['system_metrics', 'Mount', '/, /var', 'mount', ['/', '/var']],
    ['threats', 'Min score', '80', 'minScore', 80],
    ['flows', 'Limit', '50', 'limit', 50],
    ['flow_series', 'Interval', '5m', 'intervalMs', 300000],
    ['threat_scores', 'Interval', '90s', 'intervalMs', 90000],
  ])('%s: typing "%s" into %s and leaving it sets %s', async (kind, label, typed, field, value) => {
    const { user, onChange, onRunQuery } = renderEditor(query(kind));
    const input = screen.getByLabelText(label);
    await user.clear(input);
    await typeText(user, input, typed);
    expect(onChange).not.toHaveBeenCalled();
    await user.tab();
    expect(onChange).toHaveBeenCalledTimes(1);
    expect(onChange).toHaveBeenLastCalledWith({ ...query(kind), [field]: value });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('commits on Enter too', async () => {
    const { user, onChange, onRunQuery } = renderEditor(query('flows'));
    await user.type(screen.getByLabelText('CIDR'), '10.0.0.0/8{Enter}');
    expect(onChange).toHaveBeenLastCalledWith({ ...query('flows'), cidr: ['10.0.0.0/8'] });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('removes a field that is cleared', async () => {
    const { user, onChange } = renderEditor(query('flows', { cidr: ['10.0.0.0/8'], limit: 100 }));
    await user.clear(screen.getByLabelText('CIDR'));
    await user.tab();
    expect(onChange).toHaveBeenLastCalledWith(query('flows', { limit: 100 }));
  });

  it('shows an invalid CIDR inline, keeps it in the model, and does not run the query', async () => {
    const { user, onChange, onRunQuery } = renderEditor(query('flows'));
    const input = screen.getByLabelText('CIDR');
    await user.type(input, '10.0.0.0/8, 10.0.0.0/33{Enter}');
    expect(onChange).toHaveBeenLastCalledWith({ ...query('flows'), cidr: ['10.0.0.0/8', '10.0.0.0/33'] });
    expect(onRunQuery).not.toHaveBeenCalled();
    expect(screen.getByText('"10.0.0.0/33": prefix length 33 out of range 0-32')).toBeInTheDocument();
    expect(input).toHaveAttribute('aria-invalid', 'true');

    await user.clear(input);
    await user.type(input, '10.0.0.0/8, 10.0.0.0/16{Enter}');
    expect(screen.queryByText(/prefix length 33/)).not.toBeInTheDocument();
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it.each<[QueryKind, string, string, string]>([
    ['flows', 'Destination port', '80, 70000', '"70000": port 70000 out of range 0-65535'],
    ['flows', 'Source CIDR', 'fe80::1%eth0', '"fe80::1%eth0": zone identifiers (%...) are not allowed in a CIDR'],
    ['threats', 'Min score', '150', 'Expected number to be less or equal to 100'],
    ['flows', 'Limit', '0', 'Expected integer to be greater or equal to 1'],
  ])('%s: %s "%s" shows "%s" and does not run', async (kind, label, typed, message) => {
    const { user, onRunQuery } = renderEditor(query(kind));
    const input = screen.getByLabelText(label);
    await user.clear(input);
    await user.type(input, `${typed}{Enter}`);
    expect(screen.getByText(message)).toBeInTheDocument();
    expect(onRunQuery).not.toHaveBeenCalled();
  });

  it('does not flag template variables', async () => {
    const { user, onRunQuery } = renderEditor(query('flows'));
    await typeText(user, screen.getByLabelText('CIDR'), '$subnet, ${net:csv}, [[extra]]', true);
    await typeText(user, screen.getByLabelText('Port'), '${port:csv}', true);
    expect(screen.getByTestId('netwatch-query-editor').querySelectorAll('[aria-invalid="true"]')).toHaveLength(0);
    expect(onRunQuery).toHaveBeenCalledTimes(2);
  });

  it('refuses an unreadable interval without changing the model', async () => {
    const { user, onChange, onRunQuery } = renderEditor(query('pings', { intervalMs: 60000 }));
    const input = screen.getByLabelText('Interval');
    expect(input).toHaveValue('1m');
    await user.clear(input);
    await user.type(input, 'soon{Enter}');
    expect(onChange).not.toHaveBeenCalled();
    expect(onRunQuery).not.toHaveBeenCalled();
    expect(screen.getByText(/Invalid interval string/)).toBeInTheDocument();
  });
});

describe('QueryEditor selections', () => {
  it.each<[QueryKind, string, string, keyof NetwatchQuery, unknown]>([
    ['flows', 'Protocol', 'udp', 'protocol', ['udp']],
    ['flow_series', 'Metric', 'packets', 'metric', ['bytes', 'packets']],
    ['threat_scores', 'Metric', 'ssh_brute_force', 'metric', ['ssh_brute_force']],
    ['logs', 'Level', 'warning', 'level', ['warning']],
    ['traces', 'Min severity', 'error', 'minSeverity', 'error'],
    ['flow_series', 'Group by', 'dst_port', 'groupBy', 'dst_port'],
    ['top_talkers', 'Order by', 'packets', 'orderBy', 'packets'],
    ['pings', 'Aggregate', 'max', 'aggregate', 'max'],
  ])('%s: picking %s "%s" sets %s and runs', async (kind, label, option, field, value) => {
    const { user, onChange, onRunQuery } = renderEditor(query(kind));
    await pick(user, label, option);
    expect(onChange).toHaveBeenLastCalledWith({ ...query(kind), [field]: value });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('adds a second protocol to the multi-select', async () => {
    const { user, onChange } = renderEditor(query('flows', { protocol: ['tcp'] }));
    await pick(user, 'Protocol', 'icmp');
    expect(onChange).toHaveBeenLastCalledWith(query('flows', { protocol: ['tcp', 'icmp'] }));
  });
});

describe('QueryEditor value pickers (suggestions from the backend values resources)', () => {
  let grafana: FakeGrafana;
  let datasource: DataSource;
  beforeAll(async () => {
    grafana = await startFakeGrafana();
    setBackendSrv(httpBackendSrv(grafana.url));
    datasource = new DataSource(instanceSettings('netwatch'), new TestTemplateSrv([]));
    grafana.setResource('netwatch', 'values/targets', { status: 200, body: { name: 'targets', values: ['1.1.1.1', '::1', 'https://example.org'] } });
    grafana.setResource('netwatch', 'values/log_sources', { status: 200, body: { name: 'log_sources', values: ['auth', 'fail2ban', 'syslog'] } });
    grafana.setResource('netwatch', 'values/sources', { status: 200, body: { name: 'sources', values: ['flows', 'pings', 'store'] } });
    grafana.setResource('netwatch', 'values/net_interfaces', { status: 200, body: { name: 'net_interfaces', values: ['eth0', 'lo'] } });
    grafana.setResource('netwatch', 'values/mounts', {
      status: 501,
      body: { error: { code: 'NETWATCH_ERR_NOT_IMPLEMENTED', message: 'no running component provides the value list "mounts"' }, status: 501 },
    });
  });
  afterAll(() => grafana.close());

  async function openMenu(user: ReturnType<typeof userEvent.setup>, label: string) {
    await user.click(screen.getByLabelText(label));
    return screen.findByRole('listbox');
  }

  it.each<[QueryKind, string, string, string[], keyof NetwatchQuery, string]>([
    ['pings', 'Target', 'targets', ['1.1.1.1', '::1', 'https://example.org'], 'target', '::1'],
    ['logs', 'Source', 'log_sources', ['auth', 'fail2ban', 'syslog'], 'source', 'fail2ban'],
    ['stats', 'Source', 'sources', ['flows', 'pings', 'store'], 'source', 'store'],
    ['network_metrics', 'Interface', 'net_interfaces', ['eth0', 'lo'], 'interface', 'eth0'],
  ])('%s: %s suggests the %s list and picking one sets the model', async (kind, label, list, values, field, picked) => {
    const { user, onChange, onRunQuery } = renderEditor(query(kind), undefined, datasource);
    const menu = await openMenu(user, label);
    await within(menu).findByText(values[0]);
    expect(within(menu).getAllByRole('option').map((o) => o.textContent)).toEqual(values);
    expect(grafana.requests.at(-1)!.url).toBe(`/api/datasources/uid/netwatch/resources/values/${list}`);
    await user.click(within(menu).getByText(picked, { exact: true }));
    expect(onChange).toHaveBeenLastCalledWith({ ...query(kind), [field]: [picked] });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('accepts a typed value or template variable beside the suggestions', async () => {
    const { user, onChange } = renderEditor(query('pings', { target: ['1.1.1.1'] }), undefined, datasource);
    const menu = await openMenu(user, 'Target');
    // Typed once the suggestions are in, so Enter meets the settled menu and its "create" entry.
    await within(menu).findByText('https://example.org');
    await typeText(user, screen.getByLabelText('Target'), '${target:csv}', true);
    expect(onChange).toHaveBeenLastCalledWith(query('pings', { target: ['1.1.1.1', '${target:csv}'] }));
  });

  it('says why suggestions are missing and still takes typed values', async () => {
    const { user, onChange } = renderEditor(query('system_metrics'), undefined, datasource);
    const menu = await openMenu(user, 'Mount');
    await within(menu).findByText('suggestions unavailable: no running component provides the value list "mounts"');
    await typeText(user, screen.getByLabelText('Mount'), '/var', true);
    expect(onChange).toHaveBeenLastCalledWith({ ...query('system_metrics'), mount: ['/var'] });
  });

  it('asks for a list once per field, not on every opening', async () => {
    const { user } = renderEditor(query('pings'), undefined, datasource);
    const before = grafana.requests.length;
    await openMenu(user, 'Target');
    await user.keyboard('{Escape}');
    await openMenu(user, 'Target');
    expect(grafana.requests.length - before).toBe(1);
  });
});
