/**
 * Data source settings: the ingest service's URL (jsonData, read by the backend) and its API token
 * (secureJsonData: written once, never sent back to the browser; Grafana only says whether it is set).
 * "Save & test" is Grafana's own button: it runs the backend's CheckHealth and shows its message.
 */
import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { FieldSet, InlineField, Input, SecretInput } from '@grafana/ui';
import { useId, type ChangeEvent } from 'react';
import type { NetwatchDataSourceOptions, NetwatchSecureJsonData } from '../types';

export type Props = DataSourcePluginOptionsEditorProps<NetwatchDataSourceOptions, NetwatchSecureJsonData>;

export const DEFAULT_INGEST_URL = 'http://127.0.0.1:7070';

const LABEL_WIDTH = 20;

/** Why the URL cannot be used, or null; empty means the default (the backend falls back to it). */
export function urlProblem(url: string | undefined): string | null {
  const u = (url ?? '').trim();
  if (u === '') return null;
  const expected = `${JSON.stringify(u)}: expected an http:// or https:// URL such as ${DEFAULT_INGEST_URL}`;
  let parsed: URL;
  try {
    parsed = new URL(u);
  } catch {
    return expected;
  }
  // `ingest:7070` parses as a URL of scheme "ingest:", which is what users forgetting http:// type.
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return expected;
  if (parsed.search || parsed.hash) return 'the URL must not carry a query string or fragment';
  return null;
}

export function ConfigEditor({ options, onOptionsChange }: Props) {
  const urlId = useId();
  const tokenId = useId();
  const { jsonData, secureJsonFields } = options;
  const problem = urlProblem(jsonData.url);
  const secureJsonData = (options.secureJsonData ?? {}) as NetwatchSecureJsonData;

  const onUrlChange = (e: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, jsonData: { ...jsonData, url: e.currentTarget.value } });
  };
  const onTokenChange = (e: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, secureJsonData: { ...secureJsonData, token: e.currentTarget.value } });
  };
  // Reset forgets the stored token: Grafana deletes a secure field that is sent as unset and empty.
  const onTokenReset = () => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...secureJsonFields, token: false },
      secureJsonData: { ...secureJsonData, token: '' },
    });
  };

  return (
    <FieldSet label="Netwatch ingest service">
      <InlineField
        label="URL"
        labelWidth={LABEL_WIDTH}
        htmlFor={urlId}
        tooltip="Base URL of the ingest service as the Grafana server reaches it (the backend calls it, not the browser)"
        invalid={problem !== null}
        error={problem}
        grow
      >
        <Input id={urlId} value={jsonData.url ?? ''} placeholder={DEFAULT_INGEST_URL} width={48} invalid={problem !== null} onChange={onUrlChange} />
      </InlineField>
      <InlineField label="API token" labelWidth={LABEL_WIDTH} htmlFor={tokenId} tooltip="The ingest service's --token; empty when it runs without one" grow>
        <SecretInput
          id={tokenId}
          isConfigured={Boolean(secureJsonFields?.token)}
          value={secureJsonData.token ?? ''}
          placeholder="Bearer token of the ingest service"
          width={48}
          revealable
          onReset={onTokenReset}
          onChange={onTokenChange}
        />
      </InlineField>
    </FieldSet>
  );
}
