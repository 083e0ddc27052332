/**
 * One ACTIONS_RESULTS_URL for both stand-ins, as the real results service serves the cache
 * and the artifacts: Twirp calls of the artifact service go to the artifact server with the
 * job's runtime token (a JWT naming the run, which @actions/artifact reads), everything else
 * to the cache server with its own token. Blob URLs are absolute, so they go direct.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { ArtifactServer, CacheServer } from "@miyabi/testkit";

export interface ResultsService {
  /** The job's environment: the cache's (RUNNER_TEMP included) and the artifacts' token. */
  env(): Record<string, string>;
  close(): Promise<void>;
}

export async function startResultsService(
  cache: () => CacheServer,
  artifacts: ArtifactServer,
): Promise<ResultsService> {
  const server = http.createServer((req, res) => {
    const toArtifacts = (req.url ?? "").includes(".ArtifactService/");
    const target = new URL(req.url ?? "/", toArtifacts ? artifacts.url : cache().url);
    const headers = { ...req.headers, host: target.host };
    if (!toArtifacts) headers.authorization = `Bearer ${cache().env().ACTIONS_RUNTIME_TOKEN}`;
    const forward = http.request(target, { method: req.method, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    forward.on("error", (error) => {
      res.writeHead(502);
      res.end(String(error));
    });
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    env: () => ({
      ...cache().env(),
      ...artifacts.env(),
      ACTIONS_RESULTS_URL: `http://127.0.0.1:${port}/`,
    }),
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
