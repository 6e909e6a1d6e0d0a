import { watch, type FSWatcher } from "node:fs";

export interface WatchOptions {
  /** Directories to watch (not recursive). Watch a file's directory, not the file: see below. */
  dirs: readonly string[];
  /** Quiet time after the last event before onChange runs: a rotation writes several files. */
  debounceMs: number;
  /** Also call onChange every pollMs (0: never), in case events are missed (some network and overlay filesystems). */
  pollMs: number;
  /** Re-reads what it needs and compares; called after events settle and on every poll. */
  onChange(): void;
  onError?(err: Error, dir: string): void;
}

/**
 * Watches directories the way Kubernetes volumes change. A ConfigMap or Secret mount is
 * `dir/name -> ..data/name` with `..data -> ..2024_01_01_00_00_00.123`; an update writes a new
 * timestamped directory and renames a `..data_tmp` symlink over `..data`. The files' own inodes never
 * change, so watching a file sees nothing: watching the directory sees the rename. cert-manager,
 * editors and `cp` replace or rewrite files in place, which the directory watch sees as well.
 */
export class DirectoryWatcher {
  private readonly watchers = new Map<string, FSWatcher>();
  private debounce: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly opts: WatchOptions) {
    for (const dir of new Set(opts.dirs)) this.watchDir(dir);
    if (opts.pollMs > 0) {
      this.poll = setInterval(() => {
        // A directory that was removed and re-created needs a new watch.
        for (const dir of new Set(opts.dirs)) if (!this.watchers.has(dir)) this.watchDir(dir);
        this.fire();
      }, opts.pollMs);
      this.poll.unref();
    }
  }

  private watchDir(dir: string): void {
    try {
      const w = watch(dir, { persistent: false }, () => this.schedule());
      w.on("error", (err) => {
        w.close();
        this.watchers.delete(dir);
        this.opts.onError?.(err, dir);
        this.schedule();
      });
      this.watchers.set(dir, w);
    } catch (err) {
      this.opts.onError?.(err as Error, dir);
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      this.fire();
    }, this.opts.debounceMs);
    this.debounce.unref();
  }

  private fire(): void {
    if (this.closed) return;
    try {
      this.opts.onChange();
    } catch (err) {
      this.opts.onError?.(err as Error, "");
    }
  }

  close(): void {
    this.closed = true;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.poll) clearInterval(this.poll);
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
  }
}
