/**
 * tshark as the independent decoder the tshark tests compare against: its arguments, its output
 * as non-empty lines. tshark exits 2 on a capture cut short, and its output is still complete then,
 * so the exit status is not read.
 */
import { spawn } from 'node:child_process';

export function tsharkLines(args: string[]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn('tshark', args, { stdio: ['ignore', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    p.stdout.on('data', (c: Buffer) => chunks.push(c));
    p.on('error', reject);
    p.on('close', () => resolve(Buffer.concat(chunks).toString('utf8').split('\n').filter((l) => l.length > 0)));
  });
}
