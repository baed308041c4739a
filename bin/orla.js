#!/usr/bin/env node
// The `orla` binary. Sources are TypeScript; `npm ci` compiles them into dist/ (the `prepare` script).
import '../dist/cli/main.js';
