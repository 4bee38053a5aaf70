import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [sveltekit()],
  // Native argon2 and the ORM load from node_modules at run time rather than being bundled.
  ssr: { external: ['@node-rs/argon2', '@mikro-orm/core', '@mikro-orm/postgresql', '@mikro-orm/migrations'] },
  server: { port: 5173, strictPort: true },
});
