import { describe, expect, it } from 'vitest';
import { DEFAULT_SECRET_QUERY_NAMES, UrlRedactor, withoutUserinfo } from './redact.js';

const r = new UrlRedactor();

describe('URL redaction', () => {
  it('drops userinfo from absolute URLs, whatever it holds', () => {
    expect(r.redact('http://user:password@host.example/a?b=1')).toBe('http://host.example/a?b=1');
    expect(r.redact('https://alice@host.example:8443/')).toBe('https://host.example:8443/');
    expect(r.redact('ftp://u:p%40ss@[2001:db8::1]:21/x')).toBe('ftp://[2001:db8::1]:21/x');
    // An '@' after the authority is part of the path or query, not userinfo.
    expect(r.redact('http://host.example/users/@me?to=a@b.example')).toBe('http://host.example/users/@me?to=a@b.example');
    expect(r.redact('/plain/path@x')).toBe('/plain/path@x');
  });

  it('replaces the values of secret-looking query parameters and keeps the rest', () => {
    expect(r.redact('/api?api_key=K&q=cats&password=hunter2&page=2')).toBe('/api?api_key=REDACTED&q=cats&password=REDACTED&page=2');
    expect(r.redact('/x?Token=abc;lang=en;SIG=zz')).toBe('/x?Token=REDACTED;lang=en;SIG=REDACTED');
    expect(r.redact('/x?client_secret=1&x-api-key=2&oauth.token=3&X-Amz-Signature=4&monkey=5')).toBe('/x?client_secret=REDACTED&x-api-key=REDACTED&oauth.token=REDACTED&X-Amz-Signature=REDACTED&monkey=5');
    // Percent-encoded names are judged decoded; an empty value has nothing to hide.
    expect(r.redact('/x?pass%77ord=1&%61pi_key=2&token=&%zz=3')).toBe('/x?pass%77ord=REDACTED&%61pi_key=REDACTED&token=&%zz=3');
    expect(r.redact('http://u:p@h/cb?code=abc#access_token=T&state=s')).toBe('http://h/cb?code=REDACTED#access_token=REDACTED&state=s');
    expect(r.redact('/search?q=password')).toBe('/search?q=password');
  });

  it('the list is configurable', () => {
    const custom = new UrlRedactor(['Ticket']);
    expect(custom.redact('/x?ticket=1&password=2&my_ticket=3')).toBe('/x?ticket=REDACTED&password=2&my_ticket=REDACTED');
    expect(DEFAULT_SECRET_QUERY_NAMES).toEqual(expect.arrayContaining(['password', 'passwd', 'pwd', 'secret', 'token', 'api_key', 'apikey', 'access_token', 'auth', 'key', 'signature', 'sig', 'session']));
  });

  it('WebSocket subprotocols carrying a bearer token, and Host headers with userinfo', () => {
    expect(r.redactWebSocketProtocols('base64url.bearer.authorization.k8s.io.ZXlK, v4.channel.k8s.io')).toBe('REDACTED, v4.channel.k8s.io');
    expect(r.redactWebSocketProtocols('mqtt')).toBe('mqtt');
    expect(withoutUserinfo('admin:pw@host.example:8080')).toBe('host.example:8080');
  });
});
