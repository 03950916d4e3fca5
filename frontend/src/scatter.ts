// A lean WebGL2 point renderer for the latent map: the projection's float32 x and y go
// to the GPU as they came off the wire (no interleaving, no copies), plus one float per
// point for size (normalised to [0, 1]), four bytes of colour and one byte of state
// (0 hidden by a histogram filter, 1 shown, 2 shown and in the brushed selection).
// Pan and zoom change two uniforms only, so a frame is one draw call.

import { colormapTable } from "./colormaps";

const VERT = `#version 300 es
in float a_x;
in float a_y;
in vec4 a_rgb;   // colour from the colour map, computed once per colour-by on the CPU
in float a_s;
in float a_state;
uniform vec2 u_scale;
uniform vec2 u_offset;
uniform vec2 u_size;      // min, max point size in pixels
uniform float u_hasSel;   // 1 when a selection exists: others are dimmed
out vec4 v_color;
void main() {
  if (a_state < 0.5) { gl_Position = vec4(2.0, 2.0, 2.0, 1.0); gl_PointSize = 0.0; return; }
  gl_Position = vec4(a_x * u_scale.x + u_offset.x, a_y * u_scale.y + u_offset.y, 0.0, 1.0);
  gl_PointSize = mix(u_size.x, u_size.y, clamp(a_s, 0.0, 1.0));
  vec3 rgb = a_rgb.rgb;
  bool selected = a_state > 1.5;
  float alpha = (u_hasSel > 0.5 && !selected) ? 0.12 : 0.85;
  if (u_hasSel > 0.5 && !selected) rgb = mix(rgb, vec3(0.6), 0.6);
  v_color = vec4(rgb, alpha);
}`;

const FRAG = `#version 300 es
precision mediump float;
in vec4 v_color;
out vec4 outColor;
void main() {
  vec2 d = gl_PointCoord - vec2(0.5);
  if (dot(d, d) > 0.25) discard;
  outColor = vec4(v_color.rgb * v_color.a, v_color.a);
}`;

export interface View {
  cx: number; // data coordinates at the centre of the canvas
  cy: number;
  zoom: number; // pixels per data unit
}

function compile(gl: WebGL2RenderingContext, type: number, src: string): WebGLShader {
  const s = gl.createShader(type)!;
  gl.shaderSource(s, src);
  gl.compileShader(s);
  if (!gl.getShaderParameter(s, gl.COMPILE_STATUS)) {
    throw new Error(`shader did not compile: ${gl.getShaderInfoLog(s)}`);
  }
  return s;
}

export class ScatterRenderer {
  readonly gl: WebGL2RenderingContext;
  private prog: WebGLProgram;
  private buffers = new Map<string, WebGLBuffer>();
  private loc: Record<string, number> = {};
  private uni: Record<string, WebGLUniformLocation | null> = {};
  private n = 0;
  private frame = 0;
  view: View = { cx: 0, cy: 0, zoom: 1 };
  sizeRange: [number, number] = [2, 6];
  hasSelection = false;
  /** Called with each frame's time, GPU work included (set only to measure: it waits). */
  onFrame: ((ms: number) => void) | null = null;
  private pixel = new Uint8Array(4);
  private lut = colormapTable("viridis");

  constructor(readonly canvas: HTMLCanvasElement) {
    const gl = canvas.getContext("webgl2", { antialias: false, premultipliedAlpha: true });
    if (!gl) throw new Error("this browser has no WebGL2: the map needs it");
    this.gl = gl;
    const p = gl.createProgram()!;
    gl.attachShader(p, compile(gl, gl.VERTEX_SHADER, VERT));
    gl.attachShader(p, compile(gl, gl.FRAGMENT_SHADER, FRAG));
    gl.linkProgram(p);
    if (!gl.getProgramParameter(p, gl.LINK_STATUS)) {
      throw new Error(`shader program did not link: ${gl.getProgramInfoLog(p)}`);
    }
    this.prog = p;
    for (const a of ["a_x", "a_y", "a_rgb", "a_s", "a_state"]) this.loc[a] = gl.getAttribLocation(p, a);
    for (const u of ["u_scale", "u_offset", "u_size", "u_hasSel"]) {
      this.uni[u] = gl.getUniformLocation(p, u);
    }
  }

  private upload(name: string, data: Float32Array | Uint8Array, normalized = false, size = 1): void {
    const gl = this.gl;
    let buf = this.buffers.get(name);
    if (!buf) {
      buf = gl.createBuffer()!;
      this.buffers.set(name, buf);
    }
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
    const loc = this.loc[name];
    gl.enableVertexAttribArray(loc);
    if (data instanceof Uint8Array) {
      gl.vertexAttribPointer(loc, size, gl.UNSIGNED_BYTE, normalized, 0, 0);
    } else {
      gl.vertexAttribPointer(loc, 1, gl.FLOAT, false, 0, 0);
    }
  }

  /** New points: positions and the initial colour, size and state arrays. */
  setPoints(x: Float32Array, y: Float32Array): void {
    this.n = x.length;
    this.upload("a_x", x);
    this.upload("a_y", y);
  }

  /** Colour each point by a value in [0, 1] through the viridis map (4 bytes per point). */
  setColor(values01: Float32Array): void {
    const rgba = new Uint8Array(values01.length * 4);
    const lut = this.lut;
    for (let i = 0; i < values01.length; i++) {
      const v = values01[i];
      const k = (v >= 1 ? 255 : v > 0 ? (v * 255) | 0 : 0) * 4;
      rgba[i * 4] = lut[k];
      rgba[i * 4 + 1] = lut[k + 1];
      rgba[i * 4 + 2] = lut[k + 2];
      rgba[i * 4 + 3] = 255;
    }
    this.upload("a_rgb", rgba, true, 4);
    this.draw();
  }

  setSize(values01: Float32Array): void {
    this.upload("a_s", values01);
    this.draw();
  }

  setState(state: Uint8Array, hasSelection: boolean): void {
    this.hasSelection = hasSelection;
    this.upload("a_state", state);
    this.draw();
  }

  /** Canvas pixels (CSS) -> data coordinates. */
  toData(px: number, py: number): [number, number] {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    return [this.view.cx + (px - w / 2) / this.view.zoom, this.view.cy - (py - h / 2) / this.view.zoom];
  }

  /** Data coordinates -> canvas pixels (CSS). */
  toPixels(x: number, y: number): [number, number] {
    const w = this.canvas.clientWidth;
    const h = this.canvas.clientHeight;
    return [(x - this.view.cx) * this.view.zoom + w / 2, h / 2 - (y - this.view.cy) * this.view.zoom];
  }

  /** Ask for a frame (coalesced to one per animation frame). */
  draw(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.drawNow();
    });
  }

  drawNow(): void {
    const t0 = performance.now();
    const gl = this.gl;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(this.canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(this.canvas.clientHeight * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
    }
    gl.viewport(0, 0, w, h);
    gl.clearColor(0.07, 0.08, 0.1, 1);
    gl.clear(gl.COLOR_BUFFER_BIT);
    if (this.n === 0) return;
    gl.useProgram(this.prog);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE_MINUS_SRC_ALPHA);
    const sx = (2 * this.view.zoom) / this.canvas.clientWidth;
    const sy = (2 * this.view.zoom) / this.canvas.clientHeight;
    gl.uniform2f(this.uni.u_scale, sx, sy);
    gl.uniform2f(this.uni.u_offset, -this.view.cx * sx, -this.view.cy * sy);
    gl.uniform2f(this.uni.u_size, this.sizeRange[0] * dpr, this.sizeRange[1] * dpr);
    gl.uniform1f(this.uni.u_hasSel, this.hasSelection ? 1 : 0);
    gl.drawArrays(gl.POINTS, 0, this.n);
    if (this.onFrame) {
      // gl.finish() does not wait for Chromium's GPU process: reading one pixel does
      gl.readPixels(0, 0, 1, 1, gl.RGBA, gl.UNSIGNED_BYTE, this.pixel);
      this.onFrame(performance.now() - t0);
    }
  }
}
