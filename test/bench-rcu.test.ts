/**
 * The read-capacity arithmetic of the fan-out benchmark (scripts/bench/rcu.ts): the figures it
 * prints for the room index against a Scan are only as good as these rules.
 */
import { describe, it, expect } from 'vitest';
import { itemSize, readUnits } from '../scripts/bench/rcu.js';

describe('bench read capacity', () => {
  it('sizes items and read units by the DynamoDB rules', () => {
    // "room_id" (7) + "r1" (2) + "n" (1) + 12345 (3 digits pairs -> 3 + 1).
    expect(itemSize({ room_id: 'r1', n: 12345 })).toBe(7 + 2 + 1 + 4);
    expect(readUnits(1)).toBe(0.5);
    expect(readUnits(4096)).toBe(0.5);
    expect(readUnits(4097)).toBe(1);
  });
});
