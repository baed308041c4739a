import { Command } from 'commander';
import { describeStage } from '../config/mappers.js';
import { exitOnConfigError, resolveConfig } from './config.js';

/** `orla check`: validate a config and print the resolved mapping. */
export function checkCommand(): Command {
  return new Command('check')
    .description('validate a configuration and print the resolved stage mapping')
    .option('-c, --config <file>', 'YAML or JSON configuration file (default: the embedded default)')
    .action(async (options: { config?: string }) => {
      const config = await resolveConfig(options).catch(exitOnConfigError);
      const lines = [`config ok: ${options.config ?? 'the embedded default'}`, '', 'backends:'];
      for (const [name, b] of Object.entries(config.backends)) {
        const where = b.urls ? b.urls.join(', ') : `in-process simulator (${b.profile ?? 'default profile'})`;
        lines.push(`  ${name}: ${b.engine} · ${where} · max_concurrency ${b.max_concurrency} · queue_limit ${b.queue_limit}`);
      }
      lines.push('', 'stages:');
      for (const [name, s] of Object.entries(config.stages)) {
        const params = s.params ? ` · params ${JSON.stringify(s.params)}` : '';
        lines.push(`  ${name} → ${describeStage(s, config.mappers)}${params}`);
      }
      if (!('default' in config.stages)) lines.push('  (no default stage: untagged and unknown stages get a 404)');
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
