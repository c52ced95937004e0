// The peer of the fast-world hello: a Workers fetch handler answering plain text.
export default {
  fetch(request) {
    return new Response(`Hello from workerd! You asked for ${new URL(request.url).pathname}\n`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
