/** Minimal typings for the two rhea codec modules the AMQP 1.0 parser uses (rhea ships none for them). */
declare module 'rhea/lib/frames.js' {
  interface RheaFrame { type: number; channel: number; performative?: Record<string, unknown>; payload?: Uint8Array }
  const frames: { read_frame(buf: Buffer): RheaFrame | null };
  export default frames;
}
declare module 'rhea/lib/types.js' {
  const types: { unwrap(o: unknown): unknown };
  export default types;
}
