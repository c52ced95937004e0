// Custom sections at the top level of a component, read from its bytes at deploy time. The walk
// skips every other section by its length, so it costs little even for a 14 MB component.

/** The content of the first top-level custom section named `name`, or undefined. */
export function customSection(bytes: Uint8Array, name: string): Uint8Array | undefined {
  const decoder = new TextDecoder();
  let pos = 8;
  const u32 = (): number | undefined => {
    let result = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      const b = bytes[pos++];
      if (b === undefined) return undefined;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    return undefined;
  };
  while (pos < bytes.byteLength) {
    const id = bytes[pos++];
    const size = u32();
    if (size === undefined || pos + size > bytes.byteLength) return undefined;
    const end = pos + size;
    if (id === 0) {
      const length = u32();
      if (length !== undefined && pos + length <= end) {
        const found = decoder.decode(bytes.subarray(pos, pos + length));
        if (found === name) return bytes.subarray(pos + length, end);
      }
    }
    pos = end;
  }
  return undefined;
}
