import { defineConfig, loadEnv } from "vite";
import react from "@vitejs/plugin-react";

// The gateway serves index.html at every page path and the bundle under /ui-assets/.
// `npm run dev` proxies the API to a local `podium up` (PODIUM_URL to point elsewhere).
export default defineConfig(({ mode }) => {
  const api = loadEnv(mode, ".", "PODIUM_").PODIUM_URL ?? "http://127.0.0.1:8080";
  return {
    plugins: [react()],
    base: "/",
    build: { outDir: "dist", assetsDir: "ui-assets", emptyOutDir: true, chunkSizeWarningLimit: 2000 },
    server: { proxy: { "/api": api, "/swagger-ui": api } },
  };
});
