// A loaded catalogue: the projection (x, y, id) and every property column, fetched as
// column payloads, binned for brushing; kept while the page lives so the galaxy view
// can find a galaxy's neighbours without another download.

import { getBinary, getJSON } from "./api";
import { decodeColumns } from "./columns";
import { binProperty, type Property } from "./selection";

export interface Catalogue {
  name: string;
  method: string;
  modelVersion: string;
  n: number;
  x: Float32Array;
  y: Float32Array;
  ids: Uint32Array;
  rowOfId: Map<number, number> | null;
  props: Property[];
  units: Record<string, string>;
  embeddingColumns: string[];
  payloadBytes: number;
  loadMs: number;
}

export interface CatalogueList {
  catalogues: string[];
  simulated: string;
  methods: string[];
  model_version: string;
}

let current: Catalogue | null = null;

export function loadedCatalogue(): Catalogue | null {
  return current;
}

export function listCatalogues(): Promise<CatalogueList> {
  return getJSON<CatalogueList>("/v1/explorer/catalogues");
}

export async function loadCatalogue(name: string, method: string): Promise<Catalogue> {
  if (current && current.name === name && (method === "auto" || current.method === method)) return current;
  const t0 = performance.now();
  const q = encodeURIComponent(name);
  const [projBuf, propBuf] = await Promise.all([
    getBinary(`/v1/explorer/projection?catalogue=${q}&method=${encodeURIComponent(method)}`),
    getBinary(`/v1/explorer/properties?catalogue=${q}`),
  ]);
  const proj = decodeColumns(projBuf);
  const props = decodeColumns(propBuf);
  const ids = proj.columns.get("id") as Uint32Array;
  const propIds = props.columns.get("id") as Uint32Array;
  if (props.n !== proj.n) {
    throw new Error(`the projection has ${proj.n} points but the properties ${props.n} rows`);
  }
  for (let i = 0; i < ids.length; i += Math.max(1, Math.floor(ids.length / 1000))) {
    if (ids[i] !== propIds[i]) throw new Error("the projection and the properties are in different orders");
  }
  const binned: Property[] = [];
  for (const [k, col] of props.columns) {
    if (k !== "id") binned.push(binProperty(k, col as Float32Array));
  }
  current = {
    name,
    method: String(proj.meta.method ?? method),
    modelVersion: String(proj.meta.model_version ?? ""),
    n: proj.n,
    x: proj.columns.get("x") as Float32Array,
    y: proj.columns.get("y") as Float32Array,
    ids,
    rowOfId: null,
    props: binned,
    units: (props.meta.units as Record<string, string>) ?? {},
    embeddingColumns: (proj.meta.embedding_columns as string[]) ?? [],
    payloadBytes: projBuf.byteLength,
    loadMs: performance.now() - t0,
  };
  return current;
}

/** The row of a galaxy id in the loaded catalogue, or -1. */
export function rowOf(cat: Catalogue, id: number): number {
  if (cat.ids[id] === id) return id; // ids are rows for the simulated catalogues
  if (!cat.rowOfId) {
    cat.rowOfId = new Map();
    for (let i = 0; i < cat.n; i++) cat.rowOfId.set(cat.ids[i], i);
  }
  return cat.rowOfId.get(id) ?? -1;
}

/** The k nearest galaxies to row i in the standardised property space (the embedding). */
export function neighbours(cat: Catalogue, i: number, k: number, names: string[]): number[] {
  const cols = cat.props.filter((p) => names.includes(p.name));
  const scale = cols.map((p) => {
    let s = 0;
    let m = 0;
    const v = p.values;
    for (let j = 0; j < v.length; j++) m += v[j];
    m /= v.length;
    for (let j = 0; j < v.length; j++) s += (v[j] - m) ** 2;
    return 1 / (Math.sqrt(s / v.length) || 1);
  });
  const best: Array<[number, number]> = [];
  for (let j = 0; j < cat.n; j++) {
    if (j === i) continue;
    let d = 0;
    for (let c = 0; c < cols.length; c++) {
      const dv = (cols[c].values[j] - cols[c].values[i]) * scale[c];
      d += dv * dv;
    }
    if (best.length < k || d < best[best.length - 1][0]) {
      best.push([d, j]);
      best.sort((a, b) => a[0] - b[0]);
      if (best.length > k) best.pop();
    }
  }
  return best.map((b) => b[1]);
}
