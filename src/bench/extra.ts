/** Benchmarks of the other stages (gRPC enrichment and SIEM delivery, analytics, pub/sub dissectors). */
export interface Bench {
  name: string;
  run(): Promise<string[]>;
}

export const extraBenches: Bench[] = [];
