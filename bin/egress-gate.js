#!/usr/bin/env node
// The package's one executable. The TypeScript sources are compiled to dist/ by
// `npm run build`, which `npm ci` runs through the `prepare` script.
import '../dist/cli/main.js';
