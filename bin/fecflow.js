#!/usr/bin/env node
// The installed `fecflow` command: a shim over the compiled CLI (npm run build:ts).
import { main } from '../dist/control/cli/main.js';

process.exitCode = await main(process.argv);
