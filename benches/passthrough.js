// The floor a Worker reaches here: forward every request to ORIGIN unchanged, with no checks.
// `make bench` runs it beside keygate so keygate's numbers read as a ratio to it.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    return fetch(env.ORIGIN + url.pathname + url.search, request);
  },
};
