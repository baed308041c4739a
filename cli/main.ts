import { existsSync, readFileSync } from 'node:fs';
import { Command } from 'commander';
import { checkCommand } from './check.js';
import { demoCommand } from './demo.js';
import { serveCommand } from './serve.js';
import { simCommand } from './sim.js';

// Run from the sources (cli/) or from the build (dist/cli/): the package file is one or two levels up.
const packageFile = ['../package.json', '../../package.json'].map((p) => new URL(p, import.meta.url)).find(existsSync)!;
const { version } = JSON.parse(readFileSync(packageFile, 'utf8')) as { version: string };

const program = new Command('orla')
  .description('Orla: a serving layer for LLM agent workflows')
  .version(version)
  .addCommand(serveCommand())
  .addCommand(simCommand())
  .addCommand(checkCommand())
  .addCommand(demoCommand());

await program.parseAsync(process.argv);
