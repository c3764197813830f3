/**
 * Names, paths and ports the misc captures use, shared by the generator (gen-misc.ts), its test
 * and the peers that run in the namespaces: fixed so the committed captures are reproducible in shape.
 */

/** High-entropy request paths and Host of the HTTP capture. */
export const HTTP_PATHS = ['/Zk3q9XvB7mWcT1pLr8sYdN2fHg4jQ6uA0eKx5oVbIw', '/p4R7tY1uE9wQ3zX6cV8bN2mL5kJ0hG'];
export const HTTP_HOST = 'x7kq2vz9wb4tm.lab.test';
export const DNS_NAMES = { a: 'c2.lab.test', cname: 'www.lab.test', cnameTarget: 'edge.lab.test', nx: 'nx.lab.test', tcp: 'big.lab.test' } as const;
export const PORTS = { aes: 4444, http: 8080, gzip: 9000 } as const;
