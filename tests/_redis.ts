/**
 * A real `redis-server` for the backplane tests, on a port of its own, stopped by process id.
 * Missing Redis skips the tests with a visible reason, except under `CI=true` (CI installs
 * Debian's `redis-server`).
 *
 * @module
 */

/** Whether `redis-server` can be run here. */
export const haveRedis: boolean = (() => {
  try {
    return new Deno.Command("redis-server", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** The reason printed when the tests are skipped. */
export const NO_REDIS =
  "redis-server is not installed (apt-get install redis-server): backplane tests skipped";

if (!haveRedis && Deno.env.get("CI") !== "true") console.warn(NO_REDIS);

/** A running `redis-server`; dispose it to stop it. */
export class RedisServer implements AsyncDisposable {
  #child: Deno.ChildProcess;
  readonly port: number;
  readonly ready: Promise<void>;

  /**
   * Starts Redis on `port`, without persistence, with `args` added; `ready` resolves once it
   * accepts clients.
   */
  constructor(port: number, args: string[] = []) {
    this.port = port;
    this.#child = new Deno.Command("redis-server", {
      args: [
        ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        ...args,
      ],
      stdout: "piped",
      stderr: "null",
    }).spawn();
    // Its output is read to the end (so it never blocks on a full pipe); `ready` settles on
    // the line that says it accepts clients.
    this.ready = new Promise((resolve, reject) => {
      this.#drained = (async () => {
        let seen = "";
        const decoder = new TextDecoder();
        for await (const chunk of this.#child.stdout) {
          seen += decoder.decode(chunk, { stream: true });
          if (seen.includes("Ready to accept connections")) resolve();
        }
        reject(new Error(`redis-server on ${port} ended before it was ready:\n${seen}`));
      })();
    });
    this.ready.catch(() => {});
  }

  #drained: Promise<void> = Promise.resolve();

  /** Sends it `signal` (`SIGSTOP` freezes it, as a hung host would; `SIGCONT` thaws it). */
  signal(signal: Deno.Signal): void {
    this.#child.kill(signal);
  }

  /** Kills it at once (SIGKILL), as a crash would. */
  async kill(): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await this.#child.status;
    await this.#drained;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.kill();
  }
}
