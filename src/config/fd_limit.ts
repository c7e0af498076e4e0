/**
 * The open-files limit of this process, which the command line sizes `maxConnections` to.
 *
 * @example
 * ```ts
 * import { fileDescriptorLimit } from "./fd_limit.ts";
 *
 * console.log(fileDescriptorLimit()); // 1048576, or null where prlimit cannot be run
 * ```
 * @module
 */

/** The limit once learnt: it does not change while the process runs. */
let known: number | null | undefined;

/**
 * The open-files limit of this process, or `null` when it cannot be learnt. Deno raises its
 * soft limit to the hard one at start, and its sandbox hides `/proc/self/limits` unless run
 * with `-A`, so this asks util-linux's `prlimit` (needs `--allow-run=prlimit`).
 */
export function fileDescriptorLimit(): number | null {
  if (known === undefined) known = askPrlimit();
  return known;
}

function askPrlimit(): number | null {
  try {
    const { success, stdout } = new Deno.Command("prlimit", {
      args: ["--pid", String(Deno.pid), "--nofile", "--raw", "--noheadings", "--output=SOFT"],
      stdout: "piped",
      stderr: "null",
    }).outputSync();
    const text = new TextDecoder().decode(stdout).trim();
    return success && /^\d+$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}
