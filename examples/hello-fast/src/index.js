// The fast world: a request record in, a response record out. Built with jco's QuickJS backend
// (about 1.6 MB, under a second to build), it costs a fraction of a wasi:http call per request.

export const handler = {
  handle(request) {
    return {
      status: 200,
      headers: [["content-type", "text/plain; charset=utf-8"]],
      body: utf8(`Hello from wasmgate (fast world)! You asked for ${request.pathWithQuery}\n`),
    };
  },
};

// QuickJS has no TextEncoder. Most text is ASCII, one byte per UTF-16 unit: fill a buffer of the
// right size directly (in QuickJS's interpreter that is several times cheaper than building an
// array of code points), and encode code points only when the text has others.
function utf8(text) {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0x80) return utf8CodePoints(text);
    out[i] = c;
  }
  return out;
}

function utf8CodePoints(text) {
  const out = [];
  for (const ch of text) {
    const c = ch.codePointAt(0);
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
  }
  return new Uint8Array(out);
}
