// The floor of a refusal here: a Worker that reads the credential and answers 401 locally, the
// way keygate refuses a malformed key, with no origin, no storage and no wasm. `make bench` runs
// it beside keygate's refusal lines, whose tail it shares: it is the runtime's under saturation.
const BODY = JSON.stringify({ error: "malformed_api_key", message: "Malformed API key" });

export default {
  async fetch(request) {
    const credential = request.headers.get("authorization") ?? "";
    return new Response(BODY, {
      status: 401,
      headers: {
        "content-type": "application/json",
        "www-authenticate": `Bearer realm="keygate", error="invalid_token", length="${credential.length}"`,
      },
    });
  },
};
