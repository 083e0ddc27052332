import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { type BlobFaults, type BlobGrant, serveBlob } from "./azure-blob.js";
import { closeServer, listen, readBody } from "./http.js";
import { fail, parseJson, sendTwirp, type TwirpResult } from "./twirp.js";

/* The HTTP front both results-service stand-ins (cache and artifacts) share. */

/**
 * One request a stand-in received. Twirp calls carry their method name and parsed JSON body
 * (the raw text when it is not JSON); blob traffic is `BlobUpload` / `BlobDownload`, anything
 * else `Unrouted`, so a test can see the whole conversation.
 */
export interface ServiceCall {
  method: string;
  body: unknown;
}

export interface ResultsRoutes {
  /** The Twirp service's path prefix, ending in "/". */
  servicePath: string;
  /** The blob container's path prefix, ending in "/". */
  blobPath: string;
  calls: ServiceCall[];
  rpc(req: IncomingMessage, method: string, body: ReturnType<typeof parseJson>): TwirpResult;
  /** The grant of the blob named `name` inside the container, when there is one. */
  blob(name: string): BlobGrant | undefined;
  faults(): BlobFaults;
}

export interface ResultsServer {
  /** Base URL ending in "/", for ACTIONS_RESULTS_URL. */
  url: string;
  close(): Promise<void>;
}

/** Serves a results service's Twirp methods and its blob storage on one loopback port. */
export async function startResultsServer(routes: ResultsRoutes): Promise<ResultsServer> {
  const server: Server = createServer((req, res) => {
    route(routes, req, res).catch((error: unknown) => {
      if (!res.headersSent) sendTwirp(res, fail("internal", String(error)));
      else res.destroy();
    });
  });
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}/`, close: () => closeServer(server) };
}

async function route(routes: ResultsRoutes, req: IncomingMessage, res: ServerResponse) {
  const url = new URL(req.url ?? "/", "http://127.0.0.1/");
  const body = await readBody(req);
  if (url.pathname.startsWith(routes.servicePath)) {
    const method = url.pathname.slice(routes.servicePath.length);
    const parsed = parseJson(body);
    routes.calls.push({ method, body: parsed.ok ? parsed.value : body.toString("utf8") });
    sendTwirp(res, routes.rpc(req, method, parsed));
  } else if (url.pathname.startsWith(routes.blobPath)) {
    const grant = routes.blob(url.pathname.slice(routes.blobPath.length));
    routes.calls.push(serveBlob(req, res, url, body, grant, routes.faults()));
  } else {
    routes.calls.push({ method: "Unrouted", body: { httpMethod: req.method, path: url.pathname } });
    sendTwirp(res, fail("bad_route", `no handler for path ${url.pathname}`));
  }
}
