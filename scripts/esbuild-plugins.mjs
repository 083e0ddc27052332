// esbuild plugins shared by the bundles of the CLI (packages/cli/scripts/bundle.mjs) and the
// action (packages/github-action/scripts/bundle.mjs).
import { createRequire } from "node:module";
import path from "node:path";

/**
 * zod's classic API re-exports every locale as `z.locales`, which keeps ~370 KB of messages in
 * the bundle although only English is ever used. Point that re-export at English alone.
 */
export const englishOnlyZod = {
  name: "english-only-zod",
  setup(b) {
    // Paths relative to the build's root: a module's path goes into the hash in a chunk's
    // name, which must not change with the folder the repository was cloned into.
    const root = b.initialOptions.absWorkingDir ?? process.cwd();
    b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => {
      if (!args.importer.includes(`${path.sep}zod${path.sep}`)) return undefined;
      const file = path.resolve(args.resolveDir, args.path);
      return { path: path.relative(root, file), namespace: "zod-locales" };
    });
    b.onLoad({ filter: /.*/, namespace: "zod-locales" }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: path.dirname(path.resolve(root, args.path)),
    }));
  },
};

/**
 * The runner imports `yaml` on demand. Its Node entry is CommonJS, and esbuild hands a chunk
 * split off from a CommonJS module only a default export, so `const { parse } = await
 * import("yaml")` would find no `parse`. Its ESM build (the same code) keeps the named exports.
 */
export const yamlAsEsm = {
  name: "yaml-as-esm",
  setup(b) {
    b.onResolve({ filter: /^yaml$/ }, (args) => {
      const pkg = createRequire(path.join(args.resolveDir, "x.js")).resolve("yaml/package.json");
      return { path: path.join(path.dirname(pkg), "browser", "index.js") };
    });
  },
};
