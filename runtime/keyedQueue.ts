/**
 * Tasks queued by key: a task runs once every earlier task of its key has settled; keys do not
 * wait for each other. A key with nothing queued costs nothing, and is free again by the time
 * its last task's caller resumes.
 */
export class KeyedQueue {
  private readonly keys = new Map<string, { tail: Promise<unknown>; pending: number }>();

  /** Whether a task of `key` is queued or running. */
  busy(key: string): boolean {
    return this.keys.has(key);
  }

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    let entry = this.keys.get(key);
    if (!entry) this.keys.set(key, (entry = { tail: Promise.resolve(), pending: 0 }));
    const state = entry;
    state.pending += 1;
    const run = state.tail.then(task, task).finally(() => {
      state.pending -= 1;
      if (state.pending === 0 && this.keys.get(key) === state) this.keys.delete(key);
    });
    state.tail = run.catch(() => undefined);
    return run;
  }
}
