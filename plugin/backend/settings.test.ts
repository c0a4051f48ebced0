import { parseIngestUrl, parseSettings, SettingsError } from './settings';

const json = (o: unknown) => Buffer.from(JSON.stringify(o));

describe('data source settings', () => {
  it('reads url and timeout from jsonData, the token from decryptedSecureJsonData, keyed by uid', () => {
    expect(
      parseSettings({ id: 3, uid: 'nw1', name: 'Netwatch', jsonData: json({ url: 'http://127.0.0.1:7070/', timeoutSeconds: 5 }), decryptedSecureJsonData: { token: 's3cret' }, lastUpdatedMS: 1700000000000 }),
    ).toEqual({ key: 'nw1', name: 'Netwatch', lastUpdatedMS: 1700000000000, baseUrl: 'http://127.0.0.1:7070', token: 's3cret', timeoutMs: 5000 });
  });

  it("falls back to the data source's own URL and the numeric id, with the default timeout", () => {
    expect(parseSettings({ id: 7, url: 'https://netwatch.example:8443/prefix', jsonData: json({}) })).toEqual({
      key: '7',
      name: '',
      lastUpdatedMS: 0,
      baseUrl: 'https://netwatch.example:8443/prefix',
      token: '',
      timeoutMs: 30000,
    });
  });

  it.each([
    ['', /no ingest service URL/],
    ['127.0.0.1:7070', /bad URL "127.0.0.1:7070": missing http:\/\/ or https:\/\/ \(for example http:\/\/127.0.0.1:7070\)/],
    ['not a url', /bad URL "not a url": missing http:\/\//],
    ['http://[::1', /bad URL "http:\/\/\[::1": expected http:\/\/HOST:PORT/],
    ['ftp://host', /the scheme must be http or https, not ftp/],
    ['http://user:pw@host:7070', /put the token in the token field/],
    ['http://host:7070/?x=1', /query string or fragment is not allowed/],
  ])('refuses the URL %j: %s', (url, message) => {
    expect(() => parseIngestUrl(url)).toThrow(SettingsError);
    expect(() => parseIngestUrl(url)).toThrow(message);
  });

  it.each([
    [Buffer.from('{not json'), /jsonData is not valid JSON/],
    [json([1]), /jsonData is not a JSON object/],
    [json({ url: 'http://h:1', timeoutSeconds: 0 }), /timeoutSeconds 0: expected a number of seconds above 0 and at most 300/],
    [json({ url: 'http://h:1', timeoutSeconds: 'soon' }), /timeoutSeconds "soon"/],
  ])('refuses jsonData %s', (jsonData, message) => {
    expect(() => parseSettings({ uid: 'x', jsonData })).toThrow(message);
  });

  it('refuses a request without settings', () => {
    expect(() => parseSettings(null)).toThrow(/carries no data source settings/);
  });
});
