// Runs a worker on workerd through Miniflare's API: the same runtime as `wrangler dev`, with
// local KV and SQLite Durable Objects, but without wrangler's reload proxy in front of it.
// Used by `make bench` to measure keygate beside a pass-through worker.
//
//   node benches/miniflare.mjs <keygate|passthrough> <port> <state-dir> [NAME=VALUE ...]
//
// Prints "ready <url>" once it serves, and stops on SIGTERM or when its parent goes away.
import { Miniflare } from "miniflare";

const [kind, port, stateDir, ...vars] = process.argv.slice(2);
const bindings = Object.fromEntries(
  vars.map((v) => [v.slice(0, v.indexOf("=")), v.slice(v.indexOf("=") + 1)]),
);
const common = {
  host: "127.0.0.1",
  port: Number(port),
  compatibilityDate: "2026-04-01",
  modules: true,
  bindings,
  cf: false,
  defaultPersistRoot: stateDir,
};
const workers = {
  // Mirrors wrangler.toml: one KV namespace and the two SQLite-backed object classes.
  keygate: {
    scriptPath: "build/index.js",
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"], fallthrough: true }],
    kvNamespaces: ["KEYS"],
    durableObjects: {
      CATALOGS: { className: "OrgCatalog", useSQLite: true },
      GUARDS: { className: "KeyGuard", useSQLite: true },
    },
    kvPersist: true,
    durableObjectsPersist: true,
  },
  passthrough: { scriptPath: "benches/passthrough.js" },
};
if (!workers[kind]) {
  console.error(`unknown worker ${kind}: keygate or passthrough`);
  process.exit(2);
}
const mf = new Miniflare({ ...common, ...workers[kind] });
console.log(`ready ${await mf.ready}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop); // the parent closed our stdin: it is gone
process.stdin.resume();
