// Colour maps as 16 stops, linearly interpolated: matplotlib's viridis (sequential),
// RdBu_r (diverging, for differences) and magma (uncertainty), sampled with
// matplotlib.colormaps[name](numpy.linspace(0, 1, 16)) and rounded to 8 bits.

const STOPS: Record<string, number[]> = {
  viridis: [68,1,84,72,26,108,71,47,125,65,68,135,57,86,140,49,104,142,42,120,142,35,136,142,31,152,139,34,168,132,53,183,121,84,197,104,122,209,81,165,219,54,210,226,27,253,231,37],
  diverging: [5,48,97,24,84,147,44,117,180,67,147,195,120,180,213,167,208,228,209,229,240,234,241,245,249,238,231,253,219,199,247,183,153,234,142,112,214,96,77,190,48,54,153,16,39,103,0,31],
  magma: [0,0,4,11,9,36,32,17,75,59,15,112,87,21,126,114,31,129,140,41,129,168,50,125,196,60,117,222,73,104,241,96,93,250,127,94,254,159,109,254,191,132,253,222,160,252,253,191],
};

export type ColormapName = keyof typeof STOPS;

/** 256 RGBA entries of a colour map (for a texture or a lookup). */
export function colormapTable(name: ColormapName): Uint8Array {
  const s = STOPS[name];
  const out = new Uint8Array(256 * 4);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * 15;
    const k = Math.min(14, Math.floor(t));
    const f = t - k;
    for (let c = 0; c < 3; c++) {
      out[i * 4 + c] = Math.round(s[k * 3 + c] * (1 - f) + s[(k + 1) * 3 + c] * f);
    }
    out[i * 4 + 3] = 255;
  }
  return out;
}

/** CSS colour of a value t in [0, 1]. */
export function cssColor(name: ColormapName, t: number): string {
  const table = colormapTable(name);
  const i = Math.max(0, Math.min(255, Math.round(t * 255))) * 4;
  return `rgb(${table[i]}, ${table[i + 1]}, ${table[i + 2]})`;
}
