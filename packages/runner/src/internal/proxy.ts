import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type http from "node:http";
import type { AddressInfo, Socket } from "node:net";

export type CredentialName = "ANTHROPIC_API_KEY" | "CLAUDE_CODE_OAUTH_TOKEN";

export interface Credential {
  name: CredentialName;
  value: string;
}

export interface CredentialProxy {
  /** `http://127.0.0.1:PORT`: the agent's ANTHROPIC_BASE_URL. */
  url: string;
  /** The per-run stand-in the agent holds instead of the credential. */
  dummy: string;
  close(): Promise<void>;
}

// Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection, never forwarded.
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "host",
]);

function digest(text: string): Buffer {
  return createHash("sha256").update(text).digest();
}

/** Constant-time: a mismatch takes as long as a match, whatever the lengths. */
function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

function presented(req: http.IncomingMessage, name: CredentialName): string {
  if (name === "ANTHROPIC_API_KEY") {
    const key = req.headers["x-api-key"];
    return typeof key === "string" ? key : "";
  }
  const auth = req.headers.authorization ?? "";
  return auth.startsWith("Bearer ") ? auth.slice("Bearer ".length) : "";
}

function refuse(res: http.ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({
    type: "error",
    error: { type: status === 401 ? "authentication_error" : "invalid_request_error", message },
  });
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * A loopback reverse proxy that holds the credential for one run. The agent gets `url` and
 * `dummy`; a request carrying the dummy goes to `upstream` with the real credential in its
 * place, anything else is refused. Bodies stream both ways (SSE) without buffering.
 */
export async function startCredentialProxy(options: {
  upstream: string;
  credential: Credential;
}): Promise<CredentialProxy> {
  const upstream = new URL(options.upstream);
  const base = upstream.pathname.replace(/\/+$/, "");
  const { name, value } = options.credential;
  const dummy =
    name === "ANTHROPIC_API_KEY"
      ? `sk-ant-api03-miyabi-proxy-${randomBytes(24).toString("hex")}`
      : `sk-ant-oat01-miyabi-proxy-${randomBytes(24).toString("hex")}`;
  const expected = digest(dummy);
  // Loaded here, not at import: importing node:http loads Node's own undici with it, a sizeable
  // part of the start-up of every process that imports the runner and never starts a proxy.
  const { createServer, request: httpRequest } = await import("node:http");
  const send = upstream.protocol === "https:" ? (await import("node:https")).request : httpRequest;
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => {
    res.on("error", () => {});
    const target = req.url ?? "/";
    // Origin-form only: an absolute URL would make this an open proxy.
    if (!target.startsWith("/")) return refuse(res, 400, "only origin-form request targets");
    if (!sameSecret(presented(req, name), expected))
      return refuse(res, 401, "this proxy only serves the run it was started for");
    const headers: http.OutgoingHttpHeaders = {};
    for (const [key, val] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(key) && key !== "x-api-key" && key !== "authorization")
        headers[key] = val;
    }
    if (name === "ANTHROPIC_API_KEY") headers["x-api-key"] = value;
    else headers.authorization = `Bearer ${value}`;
    const outgoing = send(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port || undefined,
        method: req.method,
        path: `${base}${target}`,
        headers,
      },
      (answer) => {
        const back: http.OutgoingHttpHeaders = {};
        for (const [key, val] of Object.entries(answer.headers)) {
          if (!HOP_BY_HOP.has(key) && val !== undefined) back[key] = val;
        }
        res.writeHead(answer.statusCode ?? 502, back);
        // Every chunk goes out as it arrives (server-sent events stay live).
        res.flushHeaders();
        answer.pipe(res);
        answer.on("error", () => res.destroy());
      },
    );
    outgoing.on("error", (error) => {
      if (!res.headersSent) refuse(res, 502, `upstream ${upstream.origin}: ${error.message}`);
      else res.destroy();
    });
    req.pipe(outgoing);
    res.on("close", () => {
      if (!res.writableFinished) outgoing.destroy();
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    dummy,
    close: () => {
      closed ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        for (const socket of sockets) socket.destroy();
      });
      return closed;
    },
  };
}
