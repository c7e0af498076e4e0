/**
 * Opening a file only if its real path (symlinks resolved) stays under the root and it is a
 * regular file: the last traversal rule, which the URL path alone cannot settle.
 *
 * @example
 * ```ts
 * import { openInRoot } from "./_open_in_root.ts";
 *
 * const root = Deno.realPathSync("static");
 * const opened = await openInRoot(root, `${root}/index.html`, "/index.html", undefined);
 * if ("refused" in opened) console.log(opened.refused);
 * else opened.file.close();
 * ```
 * @module
 */

import type { Logger } from "../log.ts";
import { type FileVersion, versionOf } from "./_file_version.ts";
import { SEP, shown } from "./_util.ts";

/** A file whose real path leaves the root, or that is no regular file: answered 404. */
export type Refused = { refused: string };

/** A regular file under the root, open. */
export interface Opened {
  /** The open file; the caller closes it. */
  file: Deno.FsFile;
  /** Its metadata, from the open handle. */
  info: Deno.FileInfo;
  /** Its validators and type. */
  version: FileVersion;
}

/**
 * Opens `path` if its real path stays under `realRoot` and it is a regular file. `pathname` is
 * the request's, for the log line and the refusal.
 */
export async function openInRoot(
  realRoot: string,
  path: string,
  pathname: string,
  logger: Logger | undefined,
): Promise<Opened | Refused> {
  const realPath = await Deno.realPath(path);
  if (!realPath.startsWith(realRoot + SEP)) {
    logger?.warn("static.outside_root", { path: pathname });
    return { refused: `not found: ${shown(pathname)}` };
  }
  const file = await Deno.open(realPath);
  const info = await file.stat();
  if (!info.isFile) {
    file.close();
    return { refused: `not found: ${shown(pathname)}` };
  }
  return { file, info, version: versionOf(realPath, info) };
}
