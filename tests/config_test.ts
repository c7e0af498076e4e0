import assert from "node:assert/strict";
import { join } from "node:path";
import { HelpRequested, parseBytes, parseConfig, parseDurationMs } from "../src/config/cli.ts";
import { ConfigError } from "../src/config/settings.ts";
import { isServerLine, mainCommand } from "./_helpers.ts";

const REPO = new URL("..", import.meta.url).pathname;

function configError(args: string[], env: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(args, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error(`no error for ${args.join(" ")}`);
}

Deno.test("defaults serve port 8181 on all interfaces with the peers' limits", () => {
  const config = parseConfig([], {});
  assert.equal(config.port, 8181);
  assert.equal(config.hostname, "0.0.0.0");
  assert.equal(config.maxMessageBytes, 16 * 1024 * 1024);
  assert.equal(config.maxSendBufferBytes, 16 * 1024 * 1024);
  assert.equal(config.maxReadQueueBytes, 32 * 1024 * 1024);
  assert.equal(config.idleTimeoutSeconds, 120);
  assert.equal(config.maxConnectionsPerAddress, 0);
  assert.equal(config.readTimeoutMs, 0);
  assert.equal(config.tls, null);
  assert.equal(config.staticDir, null, "the app's");
  assert.match(config.app, /\/apps\/app\.ts$/);
});

Deno.test("the default connection limit follows the open-files limit", () => {
  // A child shell inherits this process's open-files limit (which Deno raised at start).
  const { stdout } = new Deno.Command("sh", { args: ["-c", "ulimit -n"], stdout: "piped" })
    .outputSync();
  const limit = Number(new TextDecoder().decode(stdout).trim());
  assert.ok(limit > 64);
  assert.equal(parseConfig([], {}).maxConnections, limit - 64);
});

Deno.test("flags win over environment variables, which win over defaults", () => {
  const env = { WS_PORT: "9000", WS_LOG_FORMAT: "json", WS_MAX_MESSAGE_SIZE: "1MiB" };
  const config = parseConfig(["--port=9100", "--read-timeout", "30s"], env);
  assert.equal(config.port, 9100);
  assert.equal(config.logFormat, "json");
  assert.equal(config.maxMessageBytes, 1024 * 1024);
  assert.equal(config.maxReadQueueBytes, 2 * 1024 * 1024, "follows the message limit");
  assert.equal(config.readTimeoutMs, 30_000);
});

Deno.test("every setting has a flag and an environment variable", () => {
  const config = parseConfig([
    "--hostname=127.0.0.1",
    `--static-dir=${join(REPO, "tests")}`,
    "--max-message-size=4MiB",
    "--allowed-origins=https://a.example, https://b.example:8443",
    "--idle-timeout=30s",
    "--max-send-buffer=64KiB",
    "--max-read-queue=8MiB",
    "--max-connections=100",
    "--max-connections-per-address=10",
    "--shutdown-deadline=2500ms",
    "--log-level=debug",
  ], {});
  assert.equal(config.hostname, "127.0.0.1");
  assert.deepEqual(config.allowedOrigins, ["https://a.example", "https://b.example:8443"]);
  assert.equal(config.idleTimeoutSeconds, 30);
  assert.equal(config.maxSendBufferBytes, 65536);
  assert.equal(config.maxReadQueueBytes, 8 * 1024 * 1024);
  assert.equal(config.maxConnections, 100);
  assert.equal(config.maxConnectionsPerAddress, 10);
  assert.equal(config.shutdownDeadlineMs, 2500);
  assert.equal(config.logLevel, "debug");
  const fromEnv = parseConfig([], { WS_ALLOWED_ORIGINS: "*", WS_HOSTNAME: "::1" });
  assert.deepEqual(fromEnv.allowedOrigins, ["*"]);
  assert.equal(fromEnv.hostname, "::1");
});

Deno.test("bad values name the setting and the problem", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--port=70000"], {}, /^--port: must be between 0 and 65535, got 70000$/],
    [["--port=http"], {}, /^--port: expected a whole number, got "http"$/],
    [[], { WS_PORT: "-1" }, /^WS_PORT: expected a whole number/],
    [["--idle-timeout=abc"], {}, /^--idle-timeout: expected a duration like 30s/],
    [["--idle-timeout=1500ms"], {}, /^--idle-timeout: must be whole seconds$/],
    [["--max-message-size=lots"], {}, /^--max-message-size: expected a size like 16MiB/],
    [["--max-message-size=0"], {}, /^--max-message-size: must be at least 1 byte$/],
    [["--max-read-queue=1KiB"], {}, /^--max-read-queue: must be at least --max-message-size$/],
    [["--log-format=xml"], {}, /^--log-format: expected one of text, json, got "xml"$/],
    [["--log-level=loud"], {}, /^--log-level: expected one of debug, info, warn, error/],
    [["--allowed-origins=example.com"], {}, /^--allowed-origins: "example.com" is not an origin/],
    [
      ["--static-dir=/no/such/dir"],
      {},
      /^--static-dir: cannot read "\/no\/such\/dir": no such directory$/,
    ],
    [
      [`--static-dir=${join(REPO, "deno.json")}`],
      {},
      /^--static-dir: ".*deno.json" is not a directory$/,
    ],
    [["--tls-cert=/no/cert.pem"], {}, /^--tls-key: TLS needs both --tls-cert and --tls-key$/],
    [
      ["--tls-cert=/no/cert.pem", "--tls-key=/no/key.pem"],
      {},
      /^--tls-cert: cannot read "\/no\/cert.pem": no such file$/,
    ],
    [["--verbose"], {}, /^--verbose: unknown option \(see --help\)$/],
    [["--port"], {}, /^--port: missing value$/],
  ];
  for (const [args, env, message] of cases) {
    const error = configError(args, env);
    assert.match(error.message, message, args.join(" ") || JSON.stringify(env));
  }
});

Deno.test("--help lists every flag with its environment variable", () => {
  assert.throws(() => parseConfig(["--help"], {}), HelpRequested);
  try {
    parseConfig(["--help"], {});
  } catch (error) {
    const text = (error as Error).message;
    for (const flag of ["--port", "--tls-key", "--max-connections-per-address", "--log-format"]) {
      assert.match(text, new RegExp(flag));
    }
    assert.match(text, /WS_MAX_SEND_BUFFER/);
  }
});

Deno.test("durations and sizes take units", () => {
  assert.equal(parseDurationMs("--x", "250ms"), 250);
  assert.equal(parseDurationMs("--x", "2m"), 120_000);
  assert.equal(parseDurationMs("--x", "7"), 7000);
  assert.equal(parseBytes("--x", "64KiB"), 65536);
  assert.equal(parseBytes("--x", "1.5MiB"), 1572864);
  assert.equal(parseBytes("--x", "1000"), 1000);
});

/** Runs main.ts with `args` and returns its exit code, stdout and stderr. */
async function runMain(args: string[]) {
  const output = await mainCommand(args).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  const stderr = decode(output.stderr).split("\n").filter(isServerLine).join("\n");
  return { code: output.code, stdout: decode(output.stdout), stderr };
}

Deno.test("a bad setting stops the process with status 2 and one line, before binding", async () => {
  for (
    const [args, line] of [
      [["--port=70000"], "error: --port: must be between 0 and 65535, got 70000"],
      [
        ["--idle-timeout=abc"],
        'error: --idle-timeout: expected a duration like 30s or 500ms, got "abc"',
      ],
      [
        ["--tls-cert=/nope.pem", "--tls-key=/nope.pem"],
        'error: --tls-cert: cannot read "/nope.pem": no such file',
      ],
      [
        ["--static-dir=/nonexistent"],
        'error: --static-dir: cannot read "/nonexistent": no such directory',
      ],
    ] as const
  ) {
    const { code, stdout, stderr } = await runMain([...args]);
    assert.equal(code, 2, args.join(" "));
    assert.equal(stderr, line);
    assert.doesNotMatch(stdout, /server\.listening/);
  }
});

Deno.test("--help prints the settings and exits 0", async () => {
  const { code, stdout } = await runMain(["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /--max-message-size=SIZE\s+WS_MAX_MESSAGE_SIZE/);
});

Deno.test("a bad value from the environment names the environment variable, not the flag", () => {
  const error = configError([], { WS_PORT: "abc" });
  assert.equal(error.message, 'WS_PORT: expected a whole number, got "abc"');
  assert.equal(error.setting, "WS_PORT");
  assert.equal(configError(["--port=abc"], { WS_PORT: "1" }).setting, "--port");
  assert.match(configError([], { WS_MAX_MESSAGE_SIZE: "lots" }).message, /^WS_MAX_MESSAGE_SIZE: /);
});
