import { describe, expect, it } from 'vitest';
import { mergeRange } from './ranges.js';

describe('mergeRange', () => {
  it('keeps disjoint ranges sorted, joins overlapping and touching ones', () => {
    expect(mergeRange([], 5, 8)).toEqual([5, 8]);
    expect(mergeRange([10, 20], 0, 4)).toEqual([0, 4, 10, 20]);
    expect(mergeRange([0, 4, 10, 20], 30, 35)).toEqual([0, 4, 10, 20, 30, 35]);
    expect(mergeRange([0, 4, 10, 20], 4, 10)).toEqual([0, 20]); // touches both sides
    expect(mergeRange([0, 4, 10, 20, 30, 35], 2, 32)).toEqual([0, 35]);
    expect(mergeRange([0, 4, 10, 20], 12, 15)).toEqual([0, 4, 10, 20]); // already held
  });
});
