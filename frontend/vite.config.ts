// The explorer's build: one deterministic bundle (no content hashes, no timestamps, no
// source maps) written into the Python package, where `acie serve` serves it at /explorer/.
// `make frontend-check` rebuilds from the lock file into ACIE_EXPLORER_OUT and compares.
import { resolve } from "node:path";
import { defineConfig } from "vite";

const outDir = process.env.ACIE_EXPLORER_OUT ?? resolve(import.meta.dirname, "../src/acie/serve/explorer_app");

export default defineConfig({
  base: "./",
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
    assetsInlineLimit: 0,
    modulePreload: false,
    reportCompressedSize: false,
    rollupOptions: {
      output: {
        entryFileNames: "assets/explorer.js",
        chunkFileNames: "assets/[name].js",
        assetFileNames: "assets/[name][extname]",
      },
    },
  },
});
