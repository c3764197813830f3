/**
 * Secrets in URLs, taken out before a record leaves the sensor (JSON lines, the SIEM feed). A
 * request target can carry credentials two ways: userinfo in an absolute URL
 * (`http://user:password@host/…`, the form proxies see) and query parameters (`?api_key=…`,
 * `&password=…`, signed URLs' `sig=`). Userinfo is dropped whole (the user name alone is an
 * account to target); a secret-looking parameter keeps its name and loses its value, so the
 * record still says a credential travelled in the clear.
 */

/**
 * Parameter names treated as secrets (compared lower-cased, after percent-decoding). A name also
 * matches when it ends in one of these after a '_', '-' or '.' separator (client_secret,
 * x-api-key, oauth_token, X-Amz-Signature). Replaced by `output.redactQueryNames` in sensor.yaml.
 */
export const DEFAULT_SECRET_QUERY_NAMES: readonly string[] = [
  'password', 'passwd', 'pwd', 'pass', 'passphrase', 'secret', 'token', 'api_key', 'apikey', 'api-key',
  'access_token', 'refresh_token', 'id_token', 'auth', 'authorization', 'key', 'private_key',
  'signature', 'sig', 'session', 'sessionid', 'session_id', 'sid', 'jwt', 'credential', 'credentials',
  'code', 'otp',
];

export const REDACTED = 'REDACTED';

export class UrlRedactor {
  private readonly names: ReadonlySet<string>;

  constructor(names: readonly string[] = DEFAULT_SECRET_QUERY_NAMES) {
    this.names = new Set(names.map((n) => n.toLowerCase()));
  }

  /** Whether a query parameter of this (raw, possibly percent-encoded) name holds a secret. */
  isSecretName(raw: string): boolean {
    let name: string;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      name = raw; // a broken escape: judge the name as written
    }
    name = name.trim().toLowerCase();
    if (this.names.has(name)) return true;
    for (let i = name.length - 1; i > 0; i--) {
      const c = name.charCodeAt(i);
      if ((c === 0x5f || c === 0x2d || c === 0x2e) && this.names.has(name.slice(i + 1))) return true;
    }
    return false;
  }

  /** The URL (absolute, origin-form or anything else a request line held) without its secrets. */
  redact(url: string): string {
    let out = url;
    // Userinfo: between "scheme://" and the last '@' of the authority.
    const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(out);
    if (scheme) {
      const start = scheme[0].length;
      let end = out.length;
      for (let i = start; i < out.length; i++) {
        const c = out[i];
        if (c === '/' || c === '?' || c === '#') { end = i; break; }
      }
      const at = out.lastIndexOf('@', end - 1);
      if (at >= start) out = out.slice(0, start) + out.slice(at + 1);
    }
    const q = out.indexOf('?');
    const h = out.indexOf('#');
    if (q === -1 && h === -1) return out;
    // The query and (rarely sent, but OAuth puts tokens there) the fragment, each a list of
    // name=value pairs separated by '&' or ';'.
    const cut = q !== -1 ? q : h;
    let result = out.slice(0, cut);
    let rest = out.slice(cut);
    while (rest.length > 0) {
      const sep = rest[0] as string; // '?' or '#'
      const next = sep === '?' ? rest.indexOf('#') : -1;
      const part = next === -1 ? rest.slice(1) : rest.slice(1, next);
      result += sep + this.redactPairs(part);
      rest = next === -1 ? '' : rest.slice(next);
    }
    return result;
  }

  /**
   * Sec-WebSocket-Protocol: browsers cannot set an Authorization header on a WebSocket, so some
   * APIs carry the bearer token as a subprotocol (Kubernetes: base64url.bearer.authorization.k8s.io.TOKEN).
   */
  redactWebSocketProtocols(v: string): string {
    return v.split(',').map((p) => (/bearer|token|authori[sz]ation|secret|passw/i.test(p) ? ` ${REDACTED}` : p)).join(',').trim();
  }

  private redactPairs(s: string): string {
    let changed = false;
    const pairs = s.split(/([&;])/);
    for (let i = 0; i < pairs.length; i += 2) {
      const p = pairs[i] as string;
      const eq = p.indexOf('=');
      if (eq <= 0) continue;
      if (this.isSecretName(p.slice(0, eq)) && p.slice(eq + 1) !== '') {
        pairs[i] = `${p.slice(0, eq)}=${REDACTED}`;
        changed = true;
      }
    }
    return changed ? pairs.join('') : s;
  }
}

/** A Host header is never "user:password@host", but a crafted one can be: keep the host only. */
export function withoutUserinfo(host: string): string {
  const at = host.lastIndexOf('@');
  return at === -1 ? host : host.slice(at + 1);
}
