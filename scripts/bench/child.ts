/** The bench script's handle on its server child process (scripts/bench/server.ts), over IPC. */
import { fork, type ChildProcess } from 'node:child_process';

export class ServerChild {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly proc: ChildProcess) {
    proc.on('message', (m: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.ok) p?.resolve(m.result);
      else p?.reject(new Error(`server: ${m.error}`));
    });
    proc.on('exit', (code) => {
      for (const p of this.pending.values()) p.reject(new Error(`the bench server exited (${code})`));
      this.pending.clear();
    });
  }

  static start(file: string, execArgv: string[] = []): Promise<ServerChild> {
    const proc = fork(file, [], {
      execArgv,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the bench server did not start within 30 s')), 30_000);
      proc.once('message', () => {
        clearTimeout(timer);
        resolve(new ServerChild(proc));
      });
      proc.once('exit', (code) => reject(new Error(`the bench server exited at start (${code})`)));
    });
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 300_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`server op ${op} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => (clearTimeout(timer), resolve(v as T)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.proc.send({ id, op, ...args });
    });
  }

  async stop(): Promise<void> {
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    await this.call('exit', {}, 5000).catch(() => undefined);
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  }
}
