/** Every verb's registration, in help order. Each module is light: heavy imports are in actions. */
import type { Register } from '../runner.js';
import { register as dev } from './dev.js';
import { register as config } from './config.js';
import { register as deploy } from './deploy.js';
import { register as destroy } from './destroy.js';
import { register as token } from './token.js';
import { register as publish } from './publish.js';
import { register as listen } from './listen.js';
import { register as history } from './history.js';
import { register as completion } from './completion.js';
import { register as connections } from './connections.js';
import { register as pruneStale } from './prune-stale.js';
import { register as disconnect } from './disconnect.js';
import { register as dlq } from './dlq.js';
import { register as status } from './status.js';
import { register as bench } from './bench.js';

export const COMMANDS: Register[] = [dev, deploy, destroy, config, token, publish, listen, history, completion, status, connections, disconnect, pruneStale, dlq, bench];
