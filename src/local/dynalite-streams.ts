/**
 * A fix for dynalite 4's read streams, applied when dynalite's database module is loaded.
 *
 * dynalite 4.0.0 (db/index.js) turns LevelDB iterators into streams whose destroy() ends the
 * iterator with `iterator.return()`. abstract-level 3 iterators have no `return`; they end with
 * `close()`, and until then the database keeps them in its set of open resources. So every Query,
 * Scan and GetItem-by-stream left one iterator open for good: memory grew by about one iterator
 * per delivered message (issue 16: 6,003 open `MemoryValueIterator` after 6,000 sends).
 *
 * Why here and not a patch of node_modules: `npm ci` runs this package's `prepare`, but a project
 * that installs hermes as a dependency does not, so a patch file would fix the checkout and leave
 * every user leaking. Replacing the two stream factories on the store's database when dynalite
 * creates it works however hermes was installed, and the rest of dynalite is untouched.
 * test/dynalite-streams.test.ts fails if iterators stay open again (e.g. after a dynalite update).
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';

const require = createRequire(import.meta.url);

interface LevelIterator<T> {
  next(): Promise<T | undefined>;
  close(): Promise<void>;
}
interface LevelDb {
  keys(options?: object): LevelIterator<string>;
  values(options?: object): LevelIterator<unknown>;
  createKeyStream?: (options?: object) => Readable;
  createValueStream?: (options?: object) => Readable;
}
interface Store {
  db: LevelDb;
  recreate(this: Store): void;
}
interface DynaliteDbModule {
  create(options: object): Store;
  __hermesStreamsFixed?: boolean;
}

/** A stream over a LevelDB iterator that closes it when the stream ends or is destroyed. */
export function iteratorStream<T>(iterator: LevelIterator<T>): Readable {
  return new Readable({
    objectMode: true,
    read() {
      iterator.next().then(
        (value) => this.push(value === undefined ? null : value),
        (err: Error) => this.destroy(err),
      );
    },
    // Also runs at the natural end (autoDestroy). close() waits for a next() in flight.
    destroy(err, callback) {
      iterator.close().then(
        () => callback(err),
        () => callback(err),
      );
    },
  });
}

/** An iterator that cannot be opened (the database is closing) errors its stream instead of throwing. */
function opened<T>(open: () => LevelIterator<T>): Readable {
  try {
    return iteratorStream(open());
  } catch (err) {
    return new Readable({ objectMode: true, read() { this.destroy(err as Error); } });
  }
}

function fixStreams(db: LevelDb): void {
  db.createKeyStream = (options) => opened(() => db.keys(options));
  db.createValueStream = (options) => opened(() => db.values(options));
}

/** Idempotent; call before creating a dynalite server. */
export function fixDynaliteStreams(): void {
  const mod = require('dynalite/db/index.js') as DynaliteDbModule;
  if (mod.__hermesStreamsFixed) return;
  const create = mod.create;
  mod.create = function createFixed(options) {
    const store = create(options);
    fixStreams(store.db);
    // recreate() (dynalite's listen after close) copies a fresh store's fields over this one.
    const wrap = (s: Store) => {
      const recreate = s.recreate;
      s.recreate = function recreateFixed(this: Store) {
        recreate.call(this);
        fixStreams(this.db);
        wrap(this);
      };
    };
    wrap(store);
    return store;
  };
  mod.__hermesStreamsFixed = true;
}
