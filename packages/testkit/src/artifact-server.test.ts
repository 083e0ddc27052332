/**
 * The artifact service stand-in spoken to directly, as @actions/artifact does (the real
 * client's round trip is in packages/github-action/test/store-artifact.test.ts, where the
 * library is a dependency), and its REST side through the GitHub stub.
 */
import { expect, it } from "vitest";
import { type ArtifactServer, startArtifactServer } from "./artifact-server.js";
import { startGitHubStub } from "./github-stub.js";

const SERVICE = "twirp/github.actions.results.api.v1.ArtifactService/";

function backendIds(token: string): { run: string; job: string } {
  const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString());
  const [, run = "", job = ""] = /Actions\.Results:([^:]+):(\S+)/.exec(payload.scp) ?? [];
  return { run, job };
}

async function rpc(server: ArtifactServer, method: string, body: Record<string, unknown>) {
  const env = server.env();
  const token = env.ACTIONS_RUNTIME_TOKEN ?? "";
  const ids = backendIds(token);
  const res = await fetch(`${server.url}${SERVICE}${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
    body: JSON.stringify({
      workflow_run_backend_id: ids.run,
      workflow_job_run_backend_id: ids.job,
      ...body,
    }),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function upload(server: ArtifactServer, name: string, data: string): Promise<string> {
  const created = await rpc(server, "CreateArtifact", { name, version: 7 });
  expect(created.status).toBe(200);
  const put = await fetch(String(created.body.signed_upload_url), {
    method: "PUT",
    headers: { "x-ms-blob-type": "BlockBlob" },
    body: data,
  });
  expect(put.status).toBe(201);
  const finalized = await rpc(server, "FinalizeArtifact", { name, size: String(data.length) });
  expect(finalized.status).toBe(200);
  return String(finalized.body.artifact_id);
}

it("creates, finalizes, lists and serves an artifact of the token's run", async (t) => {
  const server = await startArtifactServer();
  t.onTestFinished(() => server.close());
  const id = await upload(server, "store.bin", "hello");
  expect(await rpc(server, "CreateArtifact", { name: "store.bin", version: 7 })).toMatchObject({
    status: 409,
    body: { code: "already_exists" },
  });
  const listed = await rpc(server, "ListArtifacts", { id_filter: id });
  expect(listed.body.artifacts).toMatchObject([{ database_id: id, name: "store.bin", size: "5" }]);
  const signed = await rpc(server, "GetSignedArtifactURL", { name: "store.bin" });
  const got = await fetch(String(signed.body.signed_url));
  expect(await got.text()).toBe("hello");
  expect(got.headers.get("content-disposition")).toContain('filename="store.bin"');

  // Another run sees none of it through the twirp API, and cannot act for the first run.
  const firstToken = server.env().ACTIONS_RUNTIME_TOKEN ?? "";
  server.startRun();
  expect((await rpc(server, "ListArtifacts", {})).body.artifacts).toEqual([]);
  const forged = await fetch(`${server.url}${SERVICE}ListArtifacts`, {
    method: "POST",
    headers: { Authorization: `Bearer ${server.env().ACTIONS_RUNTIME_TOKEN}` },
    body: JSON.stringify({
      workflow_run_backend_id: backendIds(firstToken).run,
      workflow_job_run_backend_id: backendIds(firstToken).job,
    }),
  });
  expect(forged.status).toBe(403);
});

it("lists a repository's artifacts newest first through the REST stub and redirects downloads", async (t) => {
  const server = await startArtifactServer({ run: { repositoryId: 9 } });
  const stub = await startGitHubStub({ owner: "octo", repo: "widgets", artifacts: server.rest });
  t.onTestFinished(async () => {
    await stub.close();
    await server.close();
  });
  const older = await upload(server, "a", "first");
  server.startRun({ headRepositoryId: 77 });
  await upload(server, "b", "second");
  const get = (p: string) =>
    fetch(`${stub.url}/repos/octo/widgets${p}`, {
      headers: { Authorization: "token x" },
      redirect: "manual",
    });
  const list = (await (await get("/actions/artifacts")).json()) as {
    total_count: number;
    artifacts: {
      name: string;
      workflow_run: { repository_id: number; head_repository_id: number };
    }[];
  };
  expect(list.total_count).toBe(2);
  expect(list.artifacts.map((a) => a.name)).toEqual(["b", "a"]);
  expect(list.artifacts[0]?.workflow_run).toMatchObject({
    repository_id: 9,
    head_repository_id: 77,
  });
  const filtered = (await (await get("/actions/artifacts?name=a")).json()) as {
    total_count: number;
  };
  expect(filtered.total_count).toBe(1);

  const redirect = await get(`/actions/artifacts/${older}/zip`);
  expect(redirect.status).toBe(302);
  expect(await (await fetch(redirect.headers.get("location") ?? "")).text()).toBe("first");
  server.expire(Number(older));
  expect((await get(`/actions/artifacts/${older}/zip`)).status).toBe(410);
  expect((await get("/actions/artifacts/999/zip")).status).toBe(404);
});
