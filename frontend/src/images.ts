// Galaxy images on canvases: the asinh stretch of Lupton, Gunn & Szalay (1999) per band,
// the colour-preserving asinh composite of Lupton et al. (2004) (reddest band as red),
// and colour-mapped difference (diverging, symmetric about 0) and uncertainty maps.

import { colormapTable, type ColormapName } from "./colormaps";
import { float32FromBase64 } from "./columns";

export interface TensorJSON {
  shape: number[];
  dtype: string;
  data: string;
}

export interface Cube {
  c: number;
  h: number;
  w: number;
  data: Float32Array;
}

export function cubeOf(t: TensorJSON): Cube {
  const shape = t.shape.length === 4 ? t.shape.slice(1) : t.shape;
  const [c, h, w] = shape.length === 3 ? shape : [1, shape[0], shape[1]];
  const data = float32FromBase64(t.data);
  if (data.length !== c * h * w) {
    throw new Error(`image of shape ${JSON.stringify(t.shape)} has ${data.length} values`);
  }
  return { c, h, w, data };
}

function band(cube: Cube, b: number): Float32Array {
  const n = cube.h * cube.w;
  return cube.data.subarray(b * n, (b + 1) * n);
}

function quantile(values: Float32Array, q: number): number {
  const s = Float32Array.from(values).sort();
  return s[Math.min(s.length - 1, Math.max(0, Math.floor(q * (s.length - 1))))];
}

function put(canvas: HTMLCanvasElement, w: number, h: number, rgba: Uint8ClampedArray<ArrayBuffer>): void {
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext("2d")!;
  ctx.putImageData(new ImageData(rgba, w, h), 0, 0);
}

/** One band, asinh-stretched: asinh(x / beta) / asinh(x_99.5% / beta), clipped to [0, 1]. */
export function drawBand(canvas: HTMLCanvasElement, cube: Cube, b: number, beta: number, fixedTop?: number): void {
  const v = band(cube, b);
  const top = Math.max(fixedTop ?? quantile(v, 0.995), beta);
  const norm = Math.asinh(top / beta);
  const rgba = new Uint8ClampedArray(v.length * 4);
  for (let i = 0; i < v.length; i++) {
    const g = Math.round((255 * Math.asinh(Math.max(0, v[i]) / beta)) / norm);
    rgba[i * 4] = rgba[i * 4 + 1] = rgba[i * 4 + 2] = g;
    rgba[i * 4 + 3] = 255;
  }
  put(canvas, cube.w, cube.h, rgba);
}

/** The asinh colour composite: R, G, B = the reddest three bands scaled by asinh(I/β)/I. */
export function drawComposite(canvas: HTMLCanvasElement, cube: Cube, beta: number, fixedTop?: number): void {
  if (cube.c < 3) {
    drawBand(canvas, cube, 0, beta, fixedTop);
    return;
  }
  const [r, g, bl] = [band(cube, cube.c - 1), band(cube, cube.c - 2), band(cube, cube.c - 3)];
  const n = r.length;
  const intensity = new Float32Array(n);
  for (let i = 0; i < n; i++) intensity[i] = Math.max(0, (r[i] + g[i] + bl[i]) / 3);
  const top = Math.max(fixedTop ?? quantile(intensity, 0.995), beta);
  const norm = Math.asinh(top / beta);
  const rgba = new Uint8ClampedArray(n * 4);
  for (let i = 0; i < n; i++) {
    const I = intensity[i];
    const f = I > 0 ? Math.asinh(I / beta) / norm / I : 0;
    let R = Math.max(0, r[i]) * f;
    let G = Math.max(0, g[i]) * f;
    let B = Math.max(0, bl[i]) * f;
    const m = Math.max(R, G, B);
    if (m > 1) {
      R /= m;
      G /= m;
      B /= m;
    }
    rgba[i * 4] = R * 255;
    rgba[i * 4 + 1] = G * 255;
    rgba[i * 4 + 2] = B * 255;
    rgba[i * 4 + 3] = 255;
  }
  put(canvas, cube.w, cube.h, rgba);
}

/** A colour-mapped scalar image; symmetric about 0 for a diverging map. Returns the scale. */
export function drawMapped(
  canvas: HTMLCanvasElement,
  values: Float32Array,
  w: number,
  h: number,
  cmap: ColormapName,
): number {
  const table = colormapTable(cmap);
  const diverging = cmap === "diverging";
  const abs = Float32Array.from(values, (v) => Math.abs(v));
  const scale = quantile(abs, 0.99) || Math.max(...abs) || 1;
  const rgba = new Uint8ClampedArray(values.length * 4);
  for (let i = 0; i < values.length; i++) {
    const t = diverging ? 0.5 + values[i] / (2 * scale) : values[i] / scale;
    const k = Math.max(0, Math.min(255, Math.round(t * 255))) * 4;
    rgba.set(table.subarray(k, k + 4), i * 4);
  }
  put(canvas, w, h, rgba);
  return scale;
}

/** A band of a cube, or the sum over bands (b < 0); in quadrature for an uncertainty. */
export function bandOrTotal(cube: Cube, b: number, quadrature = false): Float32Array {
  if (b >= 0) return band(cube, b);
  const n = cube.h * cube.w;
  const out = new Float32Array(n);
  for (let k = 0; k < cube.c; k++) {
    const v = band(cube, k);
    for (let i = 0; i < n; i++) out[i] += quadrature ? v[i] * v[i] : v[i];
  }
  if (quadrature) for (let i = 0; i < n; i++) out[i] = Math.sqrt(out[i]);
  return out;
}

/** The 99.5th percentile of a band (b >= 0) or of the mean of the reddest three bands. */
export function brightLevel(cube: Cube, b: number): number {
  if (b >= 0 || cube.c < 3) return quantile(band(cube, Math.max(0, b)), 0.995);
  const [r, g, bl] = [band(cube, cube.c - 1), band(cube, cube.c - 2), band(cube, cube.c - 3)];
  return quantile(Float32Array.from(r, (v, i) => Math.max(0, (v + g[i] + bl[i]) / 3)), 0.995);
}
