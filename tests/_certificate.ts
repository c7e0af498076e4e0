/**
 * A throwaway TLS certificate for the tests that need one (the server's own TLS, Redis over
 * TLS), made with openssl at test time.
 *
 * @module
 */

/** A certificate and its key, PEM. */
export interface Pems {
  cert: string;
  key: string;
}

/**
 * Makes a one-day self-signed P-256 server certificate for `localhost` and `127.0.0.1` with
 * openssl, or returns why it could not.
 */
export async function selfSignedCertificate(): Promise<Pems | string> {
  const dir = await Deno.makeTempDir({ prefix: "tls_test_" });
  try {
    const { success, stderr } = await new Deno.Command("openssl", {
      args: [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
        // A leaf, not a CA: rustls refuses a CA certificate as the server's own.
        "-addext",
        "basicConstraints=critical,CA:FALSE",
        "-addext",
        "extendedKeyUsage=serverAuth",
        "-keyout",
        `${dir}/key.pem`,
        "-out",
        `${dir}/cert.pem`,
      ],
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!success) return `openssl req failed: ${new TextDecoder().decode(stderr).trim()}`;
    return {
      cert: await Deno.readTextFile(`${dir}/cert.pem`),
      key: await Deno.readTextFile(`${dir}/key.pem`),
    };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "openssl is not installed";
    throw error;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
