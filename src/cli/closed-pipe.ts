/**
 * A reader that goes away (`virtguard manifests | head -1`) ends the output, not the process:
 * once stdout or stderr reports EPIPE, later writes to it are dropped, nothing is printed about it,
 * and the command's own exit code stands (a check that found denials still exits 1 under
 * `set -o pipefail`). Any other stream error is still thrown.
 */
export function endOutputOnClosedPipe(stream: NodeJS.WriteStream): void {
  let closed = false;
  stream.on("error", (err: NodeJS.ErrnoException) => {
    // A write queued before the EPIPE arrived fails as "destroyed" once the stream is torn down.
    if (err.code === "EPIPE" || (closed && err.code === "ERR_STREAM_DESTROYED")) {
      closed = true;
      return;
    }
    throw err;
  });
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((...args: unknown[]) => {
    if (!closed) return write(...args);
    // The data is dropped; a callback, when given, still runs so that nothing waits for it.
    const callback = args.find((a) => typeof a === "function") as (() => void) | undefined;
    if (callback) process.nextTick(callback);
    return true;
  }) as typeof stream.write;
}
