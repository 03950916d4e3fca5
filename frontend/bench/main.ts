import createScatterplot from "regl-scatterplot";
import { ScatterRenderer } from "../src/scatter";

function data(n: number) {
  let s = 12345;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
  const gauss = () => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  const x = new Float32Array(n), y = new Float32Array(n), c = new Float32Array(n), z = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % 3;
    x[i] = (k - 1) * 0.5 + gauss() * 0.15; y[i] = (k === 1 ? 0.3 : -0.2) + gauss() * 0.15;
    c[i] = rnd(); z[i] = rnd();
  }
  return { x, y, c, z };
}
const p95 = (a: number[]) => a.slice().sort((p, q) => p - q)[Math.floor(0.95 * (a.length - 1))];

async function benchMine(n: number) {
  const canvas = document.getElementById("c") as HTMLCanvasElement;
  const d = data(n);
  const t0 = performance.now();
  const r = new ScatterRenderer(canvas);
  r.setPoints(d.x, d.y);
  r.setColor(d.c); r.setSize(d.z);
  const state = new Uint8Array(n).fill(1);
  r.setState(state, false);
  r.view = { cx: 0, cy: 0, zoom: 500 };
  if (n > 200000) r.sizeRange = [1, 2.5];
  r.onFrame = () => {};
  r.drawNow();
  r.gl.readPixels(0, 0, 1, 1, r.gl.RGBA, r.gl.UNSIGNED_BYTE, new Uint8Array(4));
  const first = performance.now() - t0;
  const frames: number[] = [];
  const px = new Uint8Array(4);
  const sync = () => r.gl.readPixels(0, 0, 1, 1, r.gl.RGBA, r.gl.UNSIGNED_BYTE, px);
  for (let i = 0; i < 30; i++) { const t = performance.now(); r.view.cx += 0.01; r.drawNow(); sync(); frames.push(performance.now() - t); }
  const filt: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const lo = -0.5 + i * 0.05;
    for (let j = 0; j < n; j++) state[j] = d.x[j] > lo ? 2 : 1;
    r.setState(state, true); r.drawNow(); sync();
    filt.push(performance.now() - t);
  }
  r.gl.getExtension("WEBGL_lose_context")?.loseContext();
  return { first, panP95: p95(frames), selectP95: p95(filt) };
}

async function benchRegl(n: number) {
  const canvas = document.getElementById("c") as HTMLCanvasElement;
  const d = data(n);
  const t0 = performance.now();
  const sp = createScatterplot({ canvas, width: 1000, height: 700, pointSize: 3 });
  const regl = sp.get("regl") as any;
  const gl = regl._gl as WebGLRenderingContext;
  await sp.draw({ x: d.x, y: d.y, z: d.c, w: d.z } as any);
  gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
  const first = performance.now() - t0;
  const frames: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    const drawn = new Promise((res) => sp.subscribe("draw", res, 1));
    sp.set({ cameraTarget: [i * 0.01, 0] } as any);
    await drawn; gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, new Uint8Array(4));
    frames.push(performance.now() - t);
  }
  const filt: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t = performance.now();
    const lo = -0.5 + i * 0.05;
    const idx: number[] = [];
    for (let j = 0; j < n; j++) if (d.x[j] > lo) idx.push(j);
    await sp.select(idx, { preventEvent: true }); 
    await new Promise((res) => requestAnimationFrame(res)); gl.finish();
    filt.push(performance.now() - t);
  }
  sp.destroy();
  return { first, panP95: p95(frames), selectP95: p95(filt) };
}

(window as any).runBench = async (which: string, n: number) => (which === "regl" ? benchRegl(n) : benchMine(n));
(window as any).benchReady = true;
