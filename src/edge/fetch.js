// The runtime side of a proxied request, in JS: reading the request once and sending it to the
// origin. Rust decides everything (what to drop, set and add, where to send it); this file only
// carries the decision out, so that headers and bodies stay inside the runtime instead of
// crossing the wasm boundary one by one, and so that a request decided without I/O (a leased
// key) needs no Rust future at all.

/// The method, the URL and every header of `request`, in one string: `method \n url (\n name
/// \n value)*`. The runtime never lets a line break into any of them.
export function read(request) {
  let text = request.method + "\n" + request.url;
  for (const [name, value] of request.headers) text += "\n" + name + "\n" + value;
  return text;
}

/// A timeout for the origin's answer, as `send` rejects with it.
function timeout() {
  return new DOMException("the origin did not answer in time", "TimeoutError");
}

/// Sends `request` to the origin as `plan` (`proxy::Plan`, JSON) says, with `body` (or none).
/// Rejects with a `TimeoutError` when the origin has not answered (its status and headers)
/// within the plan's timeout; a response that arrived streams on however long it takes.
function send(request, plan, body) {
  const headers = new Headers(request.headers);
  for (const name of plan.drop) headers.delete(name);
  for (const [name, value] of plan.set) headers.set(name, value);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(timeout()), plan.timeout_ms);
  const init = { method: plan.method, headers, redirect: "manual", signal: controller.signal };
  if (body != null) init.body = body;
  return fetch(plan.url, init).finally(() => clearTimeout(timer));
}

/// `send` for a plan as JSON text (the awaited path, which then reads the response itself).
export function sendPlanned(request, plan, body) {
  return send(request, JSON.parse(plan), body);
}

/// Whether `error` is `send`'s timeout.
export function isTimeout(error) {
  return error instanceof DOMException && error.name === "TimeoutError";
}

/// `response` with `extra` headers set (`vary` added to, never replaced).
function decorate(response, extra) {
  if (extra.length === 0) return response;
  const out = new Response(response.body, response);
  for (const [name, value] of extra) {
    if (name === "vary") out.headers.append(name, value);
    else out.headers.set(name, value);
  }
  return out;
}

/// The whole answer to a request decided at once (`gateway::Answer`, JSON): sent, its response
/// given the extra headers, or, when the origin fails, `fail(timeout, detail, problem_json)`'s
/// refusal with the CORS headers; then the request's log line, completed with status and time.
export function answer(request, plan, body, fail) {
  const a = JSON.parse(plan);
  return send(request, a.send, body)
    .then(
      (response) => decorate(response, a.extra),
      (error) => decorate(fail(isTimeout(error), String(error), a.problem_json), a.cors),
    )
    .then((response) => {
      console.log(`{"status":${response.status},"ms":${Date.now() - a.started},${a.log.slice(1)}`);
      return response;
    });
}
