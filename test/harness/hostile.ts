// Drives the hostile fixtures (test/fixtures/hostile-edge, hostile-http): the response head a
// request asks them for travels in its `x-spec` header.

export interface HostileSpec {
  status: number;
  /** Names and values as the guest sets them; a character U+00XX stands for the byte 0xXX. */
  headers: [string, string][];
  body: string;
  /** Dots after the body, for large bodies that would not fit in a header. */
  fill?: number;
  /** The standard-world guest writes its body this many bytes at a time. */
  chunk?: number;
}

/** The `x-spec` header value: base64 of JSON with every character past ASCII escaped. */
export function specHeader(spec: HostileSpec): string {
  const json = JSON.stringify(spec).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return Buffer.from(json, "latin1").toString("base64");
}

/** A standard-world head promising `declared` bytes, then a body of `size` dots written in 64 KiB steps. */
export function streamedSpec(declared: number, size: number): HostileSpec {
  return {
    status: 200,
    headers: [["content-length", String(declared)]],
    body: "",
    fill: size,
    chunk: 64 * 1024,
  };
}
