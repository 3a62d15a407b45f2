// The console's entry point (bundled into app.js by scripts/console.sh).

import { start } from "./app";

const root = document.getElementById("app");
if (root) start(root);
