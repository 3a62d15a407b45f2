// Runs a worker on workerd through Miniflare's API: the same runtime as `wrangler dev`, with
// local KV and SQLite Durable Objects, but without wrangler's reload proxy in front of it.
// Used by `make bench` to measure keygate beside a pass-through worker.
//
//   node benches/miniflare.mjs <keygate|passthrough|refuse> <port>[,<port>…] <state-dir>
//   then, on stdin, one line: the variables as a JSON object ({"ADMIN_TOKEN": "…", …})
//
// With several ports, keygate runs as that many copies of the worker in one workerd, each its
// own isolate listening on its own port: copy 0 defines the Durable Object classes, the others
// bind the same namespaces by its script name, and all share one KV namespace.
//
// Variables come on stdin, not as arguments: a command line is visible to every user (`ps`),
// and some of them are secrets. Prints "ready <url>" once it serves, and stops on SIGTERM or
// when its parent goes away (stdin closes).
import { Miniflare } from "miniflare";

const [kind, portList, stateDir] = process.argv.slice(2);
const ports = portList.split(",").map(Number);
const port = ports[0];
const bindings = await new Promise((resolve, reject) => {
  let text = "";
  const onData = (chunk) => {
    text += chunk;
    const end = text.indexOf("\n");
    if (end >= 0) {
      process.stdin.off("data", onData);
      try {
        resolve(JSON.parse(text.slice(0, end)));
      } catch (e) {
        reject(new Error(`the variables line on stdin is not JSON: ${e.message}`));
      }
    }
  };
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", onData);
  process.stdin.once("end", () => reject(new Error("stdin closed before the variables line")));
});
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
      DIRECTORY: { className: "OrgDirectory", useSQLite: true },
    },
    kvPersist: true,
    durableObjectsPersist: true,
  },
  passthrough: { scriptPath: "benches/passthrough.js" },
  refuse: { scriptPath: "benches/refuse.js" },
};
if (!workers[kind]) {
  console.error(`unknown worker ${kind}: keygate or passthrough`);
  process.exit(2);
}
let mf;
if (ports.length === 1) {
  mf = new Miniflare({ ...common, ...workers[kind] });
} else if (kind === "keygate") {
  const { host, port: _entry, defaultPersistRoot, cf, ...perWorker } = common;
  const { kvPersist, durableObjectsPersist, kvNamespaces: _kv, ...keygate } = workers.keygate;
  const copies = ports.map((p, i) => ({
    ...perWorker,
    ...keygate,
    name: `keygate-${i}`,
    kvNamespaces: { KEYS: "keys-shared" },
    durableObjects:
      i === 0
        ? keygate.durableObjects
        : {
            CATALOGS: { className: "OrgCatalog", scriptName: "keygate-0" },
            GUARDS: { className: "KeyGuard", scriptName: "keygate-0" },
            DIRECTORY: { className: "OrgDirectory", scriptName: "keygate-0" },
          },
    unsafeDirectSockets: i === 0 ? undefined : [{ host, port: p }],
  }));
  mf = new Miniflare({
    host,
    port,
    defaultPersistRoot,
    cf,
    kvPersist,
    durableObjectsPersist,
    workers: copies,
  });
} else {
  console.error(`only keygate runs as several copies`);
  process.exit(2);
}
console.log(`ready ${await mf.ready}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop); // the parent closed our stdin: it is gone
process.stdin.resume();
