/**
 * The prices a bench turns measured usage into dollars with (src/bench/cost.ts): on-demand,
 * US East (N. Virginia), without free tiers, each with where it was read and when. Prices
 * change: `hermes bench --prices FILE` (and the bench script's --prices) take a JSON object
 * of the same keys with other values, e.g. {"apigwMessage": 0.0000009}.
 */
import { InvalidInputError } from '../core/errors.js';

export interface Price {
  /** Dollars per one unit. */
  usd: number;
  unit: string;
  source: string;
}

export const PRICE_KEYS = [
  'lambdaRequest',
  'lambdaGbSecondArm64',
  'lambdaGbSecondX86',
  'dynamodbReadUnit',
  'dynamodbWriteUnit',
  'sqsRequest',
  'apigwMessage',
  'apigwConnectionMinute',
  'appsyncEventsOperation',
  'appsyncEventsConnectionMinute',
] as const;
export type PriceKey = (typeof PRICE_KEYS)[number];

export interface PriceTable {
  region: string;
  /** When the prices were read. */
  date: string;
  prices: Record<PriceKey, Price>;
  /** Set when some prices came from an override file. */
  overridden?: PriceKey[];
}

const LAMBDA = 'https://aws.amazon.com/lambda/pricing/';
const DYNAMODB = 'https://aws.amazon.com/dynamodb/pricing/on-demand/';
const SQS = 'https://aws.amazon.com/sqs/pricing/';
const APIGW = 'https://aws.amazon.com/api-gateway/pricing/';
const APPSYNC = 'https://aws.amazon.com/appsync/pricing/';

export const PRICES: PriceTable = {
  region: 'us-east-1',
  date: '2026-12-01',
  prices: {
    lambdaRequest: { usd: 0.2 / 1e6, unit: 'request', source: `${LAMBDA} ($0.20 per 1M requests, both architectures)` },
    lambdaGbSecondArm64: { usd: 0.0000133334, unit: 'GB-second', source: `${LAMBDA} (Arm, first 7.5 billion GB-s a month)` },
    lambdaGbSecondX86: { usd: 0.0000166667, unit: 'GB-second', source: `${LAMBDA} (x86, first 6 billion GB-s a month)` },
    dynamodbReadUnit: { usd: 0.125 / 1e6, unit: 'read request unit', source: `${DYNAMODB} ($0.125 per 1M RRU, on-demand since the November 2024 price cut)` },
    dynamodbWriteUnit: { usd: 0.625 / 1e6, unit: 'write request unit', source: `${DYNAMODB} ($0.625 per 1M WRU)` },
    sqsRequest: { usd: 0.4 / 1e6, unit: 'request (64 KB chunk)', source: `${SQS} (standard queue, $0.40 per 1M requests, first 100 billion a month)` },
    apigwMessage: { usd: 1.0 / 1e6, unit: 'message (32 KB unit)', source: `${APIGW} (WebSocket, $1.00 per 1M messages, first 1 billion a month)` },
    apigwConnectionMinute: { usd: 0.25 / 1e6, unit: 'connection minute', source: `${APIGW} (WebSocket, $0.25 per 1M connection minutes)` },
    appsyncEventsOperation: { usd: 1.0 / 1e6, unit: 'Event API operation', source: `${APPSYNC} (AppSync Events, $1.00 per 1M Event API operations)` },
    appsyncEventsConnectionMinute: { usd: 0.08 / 1e6, unit: 'connection minute', source: `${APPSYNC} (real-time connections, $0.08 per 1M connection minutes)` },
  },
};

/** The price table with some prices replaced, from a parsed override file. */
export function withOverrides(table: PriceTable, overrides: unknown): PriceTable {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    throw new InvalidInputError('prices', 'The price file must be a JSON object of price name to dollars per unit, e.g. {"apigwMessage": 0.000001}.');
  }
  const prices = { ...table.prices };
  const overridden: PriceKey[] = [];
  for (const [key, value] of Object.entries(overrides)) {
    if (!(PRICE_KEYS as readonly string[]).includes(key)) {
      throw new InvalidInputError('prices', `Unknown price "${key}" in the price file. Known prices: ${PRICE_KEYS.join(', ')}.`);
    }
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new InvalidInputError('prices', `Price "${key}" must be a number of dollars per unit (>= 0), got ${JSON.stringify(value)}.`);
    }
    prices[key as PriceKey] = { ...prices[key as PriceKey], usd: value, source: 'override file' };
    overridden.push(key as PriceKey);
  }
  return { ...table, prices, overridden };
}
