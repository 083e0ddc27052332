import { getOctokit } from "@actions/github";
import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import Bottleneck from "bottleneck";
import { z } from "zod";
import type { Logger } from "./ports.js";

const OctokitOptionsSchema = z.object({
  token: z.string().min(1),
  /** The API root; @actions/github reads GITHUB_API_URL when absent. */
  baseUrl: z.string().optional(),
  /** Retries of a request that failed on the server's side (5xx) or the network's. */
  retries: z.number().int().min(0).default(3),
  /** Retries of a request refused by a primary or secondary rate limit. */
  rateLimitRetries: z.number().int().min(0).default(2),
  /**
   * The longest wait a rate limit may ask for. Longer (a primary limit resets hourly) and the
   * request fails now, as a job that sat idle until its timeout would report nothing.
   */
  maxWaitSeconds: z.number().min(0).default(300),
});

export type OctokitOptions = z.input<typeof OctokitOptionsSchema> & {
  log: Pick<Logger, "warning">;
};

/**
 * Octokit as the action uses it: GitHub's API answers a busy moment with a 502 or a rate
 * limit, and a job that failed on one would leave the issue half-labelled. The official plugins
 * retry server errors with backoff and wait out rate limits for as long as the response says.
 */
export function createOctokit(options: OctokitOptions): ReturnType<typeof getOctokit> {
  const { token, baseUrl, retries, rateLimitRetries, maxWaitSeconds } =
    OctokitOptionsSchema.parse(options);
  const { log } = options;
  const onLimit =
    (kind: string) =>
    (retryAfter: number, request: { method: string; url: string }, _: unknown, count: number) => {
      const retrying = count < rateLimitRetries && retryAfter <= maxWaitSeconds;
      log.warning(
        `GitHub's ${kind} rate limit refused ${request.method} ${request.url}: ${
          retrying ? `retrying in ${retryAfter} s` : "giving up"
        }`,
      );
      return retrying;
    };
  return getOctokit(
    token,
    {
      ...(baseUrl === undefined ? {} : { baseUrl }),
      // Not `request.retries`: the retry plugin would then retry every error, rate limits
      // included, at once; and `request` would replace @actions/github's proxy-aware fetch.
      retry: { retries },
      throttle: {
        onRateLimit: onLimit("primary"),
        onSecondaryRateLimit: onLimit("secondary"),
        // The plugin's own groups put 1 s between writes and 3 s between those that notify,
        // the pace GitHub asks of clients making many; a job makes a handful, and those gaps
        // added ~3 s to every job. Writes stay one at a time, and a limit is still waited out.
        write: new Bottleneck.Group({ maxConcurrent: 1 }),
        notifications: new Bottleneck.Group({ maxConcurrent: 1 }),
      },
    },
    retry,
    throttling,
  );
}
