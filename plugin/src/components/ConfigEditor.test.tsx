/** @jest-environment jsdom */
import type { DataSourceSettings } from '@grafana/data';
import { render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { useState } from 'react';
import type { NetwatchDataSourceOptions, NetwatchSecureJsonData } from '../types';
import { ConfigEditor } from './ConfigEditor';

type Options = DataSourceSettings<NetwatchDataSourceOptions, NetwatchSecureJsonData>;

function settings(fields: Partial<Options> = {}): Options {
  return {
    id: 1,
    uid: 'netwatch',
    orgId: 1,
    name: 'Netwatch',
    type: 'netwatch-ingest-datasource',
    typeName: 'Netwatch',
    typeLogoUrl: '',
    access: 'proxy',
    url: '',
    user: '',
    database: '',
    basicAuth: false,
    basicAuthUser: '',
    isDefault: false,
    jsonData: {},
    secureJsonFields: {},
    readOnly: false,
    withCredentials: false,
    ...fields,
  } as Options;
}

/** Renders the editor in a parent keeping the settings, as Grafana's data source page does. */
function renderConfig(initial: Options) {
  const onOptionsChange = jest.fn<void, [Options]>();
  function Host() {
    const [options, setOptions] = useState(initial);
    return (
      <ConfigEditor
        options={options}
        onOptionsChange={(o) => {
          onOptionsChange(o as Options);
          setOptions(o as Options);
        }}
      />
    );
  }
  render(<Host />);
  return { onOptionsChange, user: userEvent.setup({ delay: null }) };
}

describe('ConfigEditor', () => {
  it('stores the URL in jsonData', async () => {
    const { user, onOptionsChange } = renderConfig(settings());
    await user.type(screen.getByLabelText('URL'), 'http://ingest:7070');
    expect(onOptionsChange.mock.lastCall![0]).toEqual(settings({ jsonData: { url: 'http://ingest:7070' } }));
  });

  it.each([
    ['ingest:7070', '"ingest:7070": expected an http:// or https:// URL such as http://127.0.0.1:7070'],
    ['ftp://ingest:7070', '"ftp://ingest:7070": expected an http:// or https:// URL such as http://127.0.0.1:7070'],
    ['http//ingest', '"http//ingest": expected an http:// or https:// URL such as http://127.0.0.1:7070'],
    ['http://ingest:7070/?x=1', 'the URL must not carry a query string or fragment'],
  ])('flags the URL %s inline', async (url, message) => {
    const { user } = renderConfig(settings());
    await user.type(screen.getByLabelText('URL'), url);
    expect(screen.getByText(message)).toBeInTheDocument();
    expect(screen.getByLabelText('URL')).toHaveAttribute('aria-invalid', 'true');
  });

  it('accepts http and https URLs, and an empty one (the default)', async () => {
    const { user } = renderConfig(settings());
    const input = screen.getByLabelText('URL');
    for (const url of ['', 'http://127.0.0.1:7070', 'https://netwatch.example.org/ingest']) {
      await user.clear(input);
      if (url) await user.type(input, url);
      expect(input).not.toHaveAttribute('aria-invalid', 'true');
    }
  });

  it('stores the token in secureJsonData only', async () => {
    const { user, onOptionsChange } = renderConfig(settings({ jsonData: { url: 'http://ingest:7070' } }));
    const token = screen.getByLabelText('API token');
    expect(token).toHaveAttribute('type', 'password');
    await user.type(token, 's3cret');
    expect(onOptionsChange.mock.lastCall![0]).toEqual(settings({ jsonData: { url: 'http://ingest:7070' }, secureJsonData: { token: 's3cret' } }));
  });

  it('shows a stored token as configured, and Reset clears it for a new one', async () => {
    const { user, onOptionsChange } = renderConfig(settings({ jsonData: { url: 'http://ingest:7070' }, secureJsonFields: { token: true } }));
    const configured = screen.getByLabelText('API token');
    expect(configured).toHaveValue('configured');
    expect(configured).toBeDisabled();

    await user.click(screen.getByRole('button', { name: 'Reset' }));
    expect(onOptionsChange.mock.lastCall![0]).toEqual(
      settings({ jsonData: { url: 'http://ingest:7070' }, secureJsonFields: { token: false }, secureJsonData: { token: '' } }),
    );
    const fresh = screen.getByLabelText('API token');
    expect(fresh).toBeEnabled();
    expect(fresh).toHaveValue('');
    expect(screen.queryByRole('button', { name: 'Reset' })).not.toBeInTheDocument();

    await user.type(fresh, 'new-token');
    expect(onOptionsChange.mock.lastCall![0].secureJsonData).toEqual({ token: 'new-token' });
    expect(onOptionsChange.mock.lastCall![0].jsonData).toEqual({ url: 'http://ingest:7070' });
  });
});
