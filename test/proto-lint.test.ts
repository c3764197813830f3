// The gRPC API and every protocol's section message (dissectors/<name>/*.proto) pass `buf lint`
// (STANDARD rules, a comment on every service and RPC, and for the protocol folders only the two
// package-directory rules off: see buf.yaml), run with the @bufbuild/buf package's own binary.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';

const root = join(new URL('.', import.meta.url).pathname, '..');
const buf = join(root, 'node_modules', '@bufbuild', 'buf', 'bin', 'buf');

function lint(cwd: string): { status: number | null; out: string } {
  const r = spawnSync(buf, ['lint', '--error-format', 'text'], { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('proto', () => {
  test('buf lint passes on proto/ and the protocol folders with STANDARD rules and comments on services and RPCs', () => {
    const r = lint(root);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  });

  test('the lint would catch a breach (an RPC without a comment, a service without the suffix; in a protocol folder, a field or enum off the style)', () => {
    const d = mkdtempSync(join(tmpdir(), 'ndr-buf-'));
    try {
      mkdirSync(join(d, 'proto', 'ndr', 'v1'), { recursive: true });
      mkdirSync(join(d, 'dissectors', 'proto9'), { recursive: true });
      writeFileSync(
        join(d, 'dissectors', 'proto9', 'proto9.proto'),
        'syntax = "proto3";\npackage ndr.v1;\nmessage Proto9 {\n  string bannerText = 1;\n  Mode mode = 2;\n}\nenum Mode {\n  FAST = 0;\n}\n',
      );
      copyFileSync(join(root, 'buf.yaml'), join(d, 'buf.yaml'));
      const edr = readFileSync(join(root, 'proto', 'ndr', 'v1', 'common.proto'), 'utf8');
      writeFileSync(join(d, 'proto', 'ndr', 'v1', 'common.proto'), edr);
      writeFileSync(
        join(d, 'proto', 'ndr', 'v1', 'x.proto'),
        'syntax = "proto3";\npackage ndr.v1;\n// A service.\nservice Thing {\n  rpc Do(DoRequest) returns (DoResponse);\n}\nmessage DoRequest {}\nmessage DoResponse {}\n',
      );
      const r = lint(d);
      expect(r.status).not.toBe(0);
      expect(r.out).toMatch(/Service name "Thing" should be suffixed with "Service"/);
      expect(r.out).toMatch(/RPC "Do" should have a non-empty comment/);
      expect(r.out).toMatch(/proto9\.proto.*Field name "bannerText" should be lower_snake_case/);
      expect(r.out).toMatch(/proto9\.proto.*Enum zero value name "FAST" should be suffixed with "_UNSPECIFIED"/);
      // The package ndr.v1 outside ndr/v1 is the one allowed exception, and only in the protocol folders.
      expect(r.out).not.toMatch(/proto9\.proto.*(must be within a directory|Multiple directories)/);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
