// The column payload of acie.wire.typed_arrays (application/vnd.acie.columns): "ACOL",
// a uint32 header length, a JSON header {n, columns: [{name, dtype, offset}], meta},
// then each column's little-endian values at its offset. Columns are views, not copies.

export type Column = Float32Array | Uint32Array | Int32Array | Uint8Array;

export interface Columns {
  n: number;
  columns: Map<string, Column>;
  meta: Record<string, unknown>;
}

const CONSTRUCTORS: Record<string, (b: ArrayBuffer, o: number, n: number) => Column> = {
  float32: (b, o, n) => new Float32Array(b, o, n),
  uint32: (b, o, n) => new Uint32Array(b, o, n),
  int32: (b, o, n) => new Int32Array(b, o, n),
  uint8: (b, o, n) => new Uint8Array(b, o, n),
};

export function decodeColumns(buf: ArrayBuffer): Columns {
  const bytes = new Uint8Array(buf);
  const magic = new TextDecoder().decode(bytes.subarray(0, 4));
  if (magic !== "ACOL") {
    throw new Error(`expected a column payload starting with ACOL; got ${JSON.stringify(magic)}`);
  }
  const headerLength = new DataView(buf).getUint32(4, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  const n = Number(header.n);
  const columns = new Map<string, Column>();
  for (const c of header.columns as Array<{ name: string; dtype: string; offset: number }>) {
    const make = CONSTRUCTORS[c.dtype];
    if (!make) throw new Error(`column ${c.name}: unsupported dtype ${c.dtype}`);
    columns.set(c.name, make(buf, c.offset, n));
  }
  return { n, columns, meta: header.meta ?? {} };
}

/** A float32 array from base64 of little-endian bytes (the API's TensorJSON). */
export function float32FromBase64(data: string): Float32Array {
  const bin = atob(data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return new Float32Array(bytes.buffer, 0, bytes.length >> 2);
}
