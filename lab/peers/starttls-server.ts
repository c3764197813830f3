/**
 * The servers of the STARTTLS captures (server namespace): one small server per protocol that
 * speaks the clear dialogue a real client expects (openssl s_client -starttls, curl), then either
 * upgrades the same socket to TLS with node:tls (mode 'accept'), refuses and goes on in clear
 * ('refuse'), or answers with a malformed reply and closes ('malformed'). argv: JSON options;
 * prints "ready" once listening.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';

export interface StarttlsServerOptions {
  proto: 'smtp' | 'lmtp' | 'imap' | 'pop3' | 'ftp' | 'nntp' | 'sieve' | 'xmpp' | 'ldap' | 'mysql' | 'rdp';
  host: string;
  port: number;
  mode: 'accept' | 'refuse' | 'malformed';
  key: string;
  cert: string;
}

const o = JSON.parse(process.argv[2] ?? '{}') as StarttlsServerOptions;
const key = readFileSync(o.key);
const cert = readFileSync(o.cert);
const OVERLONG = `${'x'.repeat(9000)}`;

/** TLS on the very socket the clear dialogue ran on; lines inside TLS get short answers. */
function upgrade(sock: net.Socket, inside: (t: tls.TLSSocket, line: string) => void): void {
  sock.removeAllListeners('data');
  const t = new tls.TLSSocket(sock, { isServer: true, key, cert });
  t.on('error', () => sock.destroy());
  let buf = '';
  t.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      inside(t, buf.slice(0, i).replace(/\r$/, ''));
      buf = buf.slice(i + 1);
    }
  });
  t.on('end', () => t.end());
}

type Reply = (line: string) => void;

/** A line-based server: `greet` on connect, `onLine` for each client line (until the switch). */
function lineServer(greet: string, onLine: (sock: net.Socket, line: string, say: (s: string) => void, state: { body: boolean }) => void): net.Server {
  return net.createServer((sock) => {
    sock.on('error', () => {});
    const say = (s: string) => { sock.write(s); };
    say(greet);
    let buf = '';
    const state = { body: false };
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let i = buf.indexOf('\n'); i >= 0 && !sock.destroyed; i = buf.indexOf('\n')) {
        const line = buf.slice(0, i).replace(/\r$/, '');
        buf = buf.slice(i + 1);
        onLine(sock, line, say, state);
        if (sock.listenerCount('data') === 0) return; // upgraded: the rest belongs to TLS
      }
    });
  });
}

const malformed = (sock: net.Socket, say: (s: string) => void) => { say(OVERLONG); sock.end(); };

function smtpLike(lmtp: boolean): net.Server {
  const host = lmtp ? 'lmtp.lab.test' : 'mail.lab.test';
  let first = true;
  let sasl = false;
  return lineServer(`220 ${host} ${lmtp ? 'LMTP' : 'ESMTP'} ndr-lab\r\n`, (sock, line, say, st) => {
    if (st.body) { if (line === '.') { st.body = false; say('250 2.0.0 queued\r\n'); } return; }
    if (sasl) { sasl = false; return say('235 2.7.0 Authentication successful\r\n'); } // the SASL answer line
    if (first && o.mode === 'malformed') return malformed(sock, say);
    first = false;
    const verb = line.split(' ')[0]!.toUpperCase();
    const inTls: Reply = () => {};
    switch (verb) {
      case 'EHLO': case 'LHLO': return say(`250-${host}\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250-STARTTLS\r\n250 8BITMIME\r\n`);
      case 'HELO': return say(`250 ${host}\r\n`);
      case 'STARTTLS':
        if (o.mode === 'refuse') return say('454 4.7.0 TLS not available due to local problem\r\n');
        say('220 2.0.0 Ready to start TLS\r\n');
        return upgrade(sock, (t, l) => { inTls(l); t.write(/^QUIT/i.test(l) ? '221 2.0.0 Bye\r\n' : '250 OK\r\n'); });
      case 'AUTH':
        if (line.trim().split(/\s+/).length > 2) return say('235 2.7.0 Authentication successful\r\n');
        sasl = true;
        return say('334 \r\n');
      case 'DATA': st.body = true; return say('354 End data with <CR><LF>.<CR><LF>\r\n');
      case 'QUIT': say('221 2.0.0 Bye\r\n'); return void sock.end();
      default: return say('250 2.1.0 OK\r\n');
    }
  });
}

function imap(): net.Server {
  let first = true;
  return lineServer('* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ndr-lab IMAP ready\r\n', (sock, line, say) => {
    if (first && o.mode === 'malformed') return malformed(sock, say);
    first = false;
    const [tag, cmd] = line.split(' ');
    const verb = (cmd ?? '').toUpperCase();
    if (verb === 'CAPABILITY') return say(`* CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\r\n${tag} OK CAPABILITY completed\r\n`);
    if (verb === 'STARTTLS') {
      if (o.mode === 'refuse') return say(`${tag} NO STARTTLS not available\r\n`);
      say(`${tag} OK Begin TLS negotiation now\r\n`);
      return upgrade(sock, (t, l) => { const [tg] = l.split(' '); t.write(`${tg} OK done\r\n`); });
    }
    if (verb === 'AUTHENTICATE') return say('+ \r\n');
    if (verb === 'LOGOUT') { say(`* BYE logging out\r\n${tag} OK LOGOUT completed\r\n`); return void sock.end(); }
    if (verb === 'SELECT' || verb === 'EXAMINE') return say(`* 1 EXISTS\r\n* FLAGS (\\Seen)\r\n* OK [UIDVALIDITY 1] ok\r\n${tag} OK [READ-WRITE] done\r\n`);
    if (tag !== undefined && cmd === undefined) return say('A003 OK authenticated\r\n'); // the SASL answer line
    return say(`${tag} OK done\r\n`);
  });
}

function pop3(): net.Server {
  let first = true;
  return lineServer('+OK ndr-lab POP3 ready\r\n', (sock, line, say) => {
    if (first && o.mode === 'malformed') return malformed(sock, say);
    first = false;
    const verb = line.split(' ')[0]!.toUpperCase();
    if (verb === 'CAPA') return say('+OK Capability list follows\r\nUSER\r\nSTLS\r\nUIDL\r\n.\r\n');
    if (verb === 'STLS') {
      if (o.mode === 'refuse') return say('-ERR TLS not available\r\n');
      say('+OK Begin TLS negotiation\r\n');
      return upgrade(sock, (t) => { t.write('+OK\r\n'); });
    }
    if (verb === 'LIST') return say('+OK 1 messages\r\n1 120\r\n.\r\n');
    if (verb === 'QUIT') { say('+OK bye\r\n'); return void sock.end(); }
    return say('+OK\r\n');
  });
}

function ftp(): net.Server {
  let first = true;
  return lineServer('220 ndr-lab FTP server ready\r\n', (sock, line, say) => {
    if (first && o.mode === 'malformed') return malformed(sock, say);
    first = false;
    const [v, arg] = line.split(' ');
    const verb = (v ?? '').toUpperCase();
    switch (verb) {
      case 'FEAT': return say('211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n SIZE\r\n MDTM\r\n211 End\r\n');
      case 'AUTH':
        if (o.mode === 'refuse') return say('504 Security mechanism not implemented\r\n');
        if ((arg ?? '').toUpperCase() !== 'TLS') return say('504 Only AUTH TLS\r\n');
        say('234 Proceed with negotiation.\r\n');
        return upgrade(sock, (t, l) => { t.write(/^QUIT/i.test(l) ? '221 Goodbye\r\n' : '200 OK\r\n'); });
      case 'USER': return say('331 Please specify the password.\r\n');
      case 'PASS': return say('230 Login successful.\r\n');
      case 'PWD': return say('257 "/" is the current directory\r\n');
      case 'MDTM': return say('213 20261207101500\r\n');
      case 'SIZE': return say('213 120\r\n');
      case 'REST': return say('350 Restart position accepted (0).\r\n');
      case 'TYPE': return say('200 Switching to Binary mode.\r\n');
      case 'QUIT': say('221 Goodbye.\r\n'); return void sock.end();
      default: return say('200 OK\r\n');
    }
  });
}

function nntp(): net.Server {
  let first = true;
  return lineServer('200 news.lab.test ndr-lab NNTP server ready (posting ok)\r\n', (sock, line, say) => {
    if (first && o.mode === 'malformed') return malformed(sock, say);
    first = false;
    const verb = line.split(' ')[0]!.toUpperCase();
    if (verb === 'CAPABILITIES') return say('101 Capability list:\r\nVERSION 2\r\nREADER\r\nSTARTTLS\r\n.\r\n');
    if (verb === 'STARTTLS') {
      if (o.mode === 'refuse') return say('580 Can not initiate TLS negotiation\r\n');
      say('382 Continue with TLS negotiation\r\n');
      return upgrade(sock, (t) => { t.write('205 bye\r\n'); });
    }
    if (verb === 'QUIT') { say('205 bye\r\n'); return void sock.end(); }
    return say('500 What?\r\n');
  });
}

function sieve(): net.Server {
  let first = true;
  return lineServer('"IMPLEMENTATION" "ndr-lab ManageSieve"\r\n"SASL" "PLAIN"\r\n"SIEVE" "fileinto vacation"\r\n"STARTTLS"\r\n"VERSION" "1.0"\r\nOK "ready"\r\n', (sock, line, say) => {
    if (first && o.mode === 'malformed') return malformed(sock, say);
    first = false;
    const verb = line.split(' ')[0]!.toUpperCase();
    if (verb === 'STARTTLS') {
      if (o.mode === 'refuse') return say('NO "TLS not available"\r\n');
      say('OK "Begin TLS negotiation now"\r\n');
      return upgrade(sock, (t) => { t.write('OK\r\n'); });
    }
    if (verb === 'LOGOUT') { say('OK "bye"\r\n'); return void sock.end(); }
    return say('OK\r\n');
  });
}

/** XMPP: the stream header and features, then <proceed/> or <failure/> (RFC 6120 §5.4). */
function xmpp(): net.Server {
  return net.createServer((sock) => {
    sock.on('error', () => {});
    let buf = '';
    let headed = false;
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      if (!headed && buf.includes('<stream:stream')) {
        headed = true;
        if (o.mode === 'malformed') { sock.write(`<?xml version='1.0'?><stream:stream from='lab.test' id='${OVERLONG}`); return void sock.end(); }
        sock.write("<?xml version='1.0'?><stream:stream from='lab.test' id='ndr1' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"
          + "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism></mechanisms></stream:features>");
      }
      if (headed && /<starttls[^>]*\/>/.test(buf)) {
        if (o.mode === 'refuse') { sock.write("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:stream>"); return void sock.end(); }
        sock.write("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        upgrade(sock, () => {});
      }
    });
  });
}

/** LDAP: the StartTLS extended operation answered with success, unavailable (52), or junk. */
function ldap(): net.Server {
  return net.createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', (d: Buffer) => {
      const id = d[4] ?? 1; // messageID (one octet in the requests openssl sends)
      if (o.mode === 'malformed') { sock.write(Buffer.from('3084ffffffff0201017807', 'hex')); return void sock.end(); }
      const rc = o.mode === 'refuse' ? 52 : 0;
      const diag = o.mode === 'refuse' ? Buffer.from('StartTLS not available') : Buffer.alloc(0);
      const op = Buffer.concat([Buffer.from([0x0a, 0x01, rc, 0x04, 0x00, 0x04, diag.length]), diag]);
      const body = Buffer.concat([Buffer.from([0x02, 0x01, id, 0x78, op.length]), op]);
      sock.write(Buffer.concat([Buffer.from([0x30, body.length]), body]));
      if (o.mode === 'refuse') return void sock.end();
      upgrade(sock, () => {});
    });
  });
}

/** MySQL: HandshakeV10 with CLIENT_SSL (none when refusing); a short SSLRequest starts TLS. */
function mysql(): net.Server {
  return net.createServer((sock) => {
    sock.on('error', () => {});
    const capsLow = o.mode === 'refuse' ? 0xf7ff : 0xffff; // bit 11 (0x0800) is CLIENT_SSL
    const body = o.mode === 'malformed'
      ? Buffer.concat([Buffer.from([0x0a]), Buffer.from('8.0.36-ndr-lab\0'), Buffer.from([7, 0, 0, 0]), Buffer.from('abcd')]) // cut before the capabilities
      : Buffer.concat([
        Buffer.from([0x0a]), Buffer.from('8.0.36-ndr-lab\0'), Buffer.from([7, 0, 0, 0]), Buffer.from('abcdefgh'), Buffer.from([0]),
        Buffer.from([capsLow & 0xff, capsLow >> 8, 0xff, 0x02, 0x00, 0xff, 0xdf, 21]), Buffer.alloc(10), Buffer.from('ijklmnopqrstu'), Buffer.from('caching_sha2_password\0'),
      ]);
    sock.write(Buffer.concat([Buffer.from([body.length & 0xff, body.length >> 8, 0, 0]), body]));
    if (o.mode !== 'accept') { setTimeout(() => sock.end(), 300); return; }
    sock.once('data', () => { upgrade(sock, () => {}); });
  });
}

/** RDP: X.224 Connection Confirm selecting TLS (PROTOCOL_SSL), a negotiation failure, or a bad LI. */
function rdp(): net.Server {
  return net.createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', () => {
      const neg = o.mode === 'refuse' ? [0x03, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00] : [0x02, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00];
      const li = o.mode === 'malformed' ? 0x30 : 14;
      sock.write(Buffer.from([0x03, 0x00, 0x00, 19, li, 0xd0, 0x00, 0x00, 0x12, 0x34, 0x00, ...neg]));
      if (o.mode !== 'accept') return void sock.end();
      upgrade(sock, () => {});
    });
  });
}

const servers: Record<StarttlsServerOptions['proto'], () => net.Server> = {
  smtp: () => smtpLike(false), lmtp: () => smtpLike(true), imap, pop3, ftp, nntp, sieve, xmpp, ldap, mysql, rdp,
};
servers[o.proto]().listen(o.port, o.host, () => { process.stdout.write('ready\n'); });
