import { dirname, resolve } from 'node:path';
import { Command } from 'commander';
import { describeStage, type MappedStage } from '../config/mappers.js';
import { stagesUnder } from '../config/variants.js';
import { configFile, exitOnConfigError, resolveConfig } from './config.js';
import { preflight } from './preflight.js';

/** `orla check`: validate a config and print the resolved mapping. */
export function checkCommand(): Command {
  return new Command('check')
    .description('validate a configuration and print the resolved stage mapping')
    .option('-c, --config <file>', 'YAML or JSON configuration file (default: $ORLA_CONFIG, else the embedded default)')
    .action(async (options: { config?: string }) => {
      const config = await resolveConfig(options).catch(exitOnConfigError);
      // What `serve` would reject before listening (schedulers, policy and mapper modules; the models
      // only with verify_models), module paths relative to the config file as in `serve`.
      const file = configFile(options.config);
      const baseDir = file ? dirname(resolve(file)) : process.cwd();
      await preflight(config, { baseDir, verifyModels: true }).catch(exitOnConfigError);
      const lines = [`config ok: ${file ?? 'the embedded default'}`, '', 'backends:'];
      for (const [name, b] of Object.entries(config.backends)) {
        const where = b.urls ? b.urls.join(', ') : `in-process simulator (${b.profile ?? 'default profile'})`;
        lines.push(`  ${name}: ${b.engine} · ${where} · max_concurrency ${b.max_concurrency} · queue_limit ${b.queue_limit}`);
      }
      const stageLine = (name: string, s: MappedStage) => `  ${name} → ${describeStage(s, config.mappers)}${s.params ? ` · params ${JSON.stringify(s.params)}` : ''}`;
      if (config.state.store === 'redis') {
        // The URL without its password, if it has one.
        const url = config.state.url!.replace(/\/\/[^@/]*@/, '//…@');
        lines.push('', `state: redis · ${url} · key_prefix ${JSON.stringify(config.state.key_prefix)} (runs and limits shared with every gateway there)`);
      }
      lines.push('', 'stages:');
      for (const [name, s] of Object.entries(config.stages)) lines.push(stageLine(name, s));
      if (!('default' in config.stages)) lines.push('  (no default stage: untagged and unknown stages get a 404)');
      for (const [variant, remaps] of Object.entries(config.mappings)) {
        const remapped = stagesUnder(config.stages, remaps);
        lines.push('', `mapping ${variant} (X-Orla-Mapping: ${variant}; other stages as above):`);
        for (const name of Object.keys(remaps)) lines.push(stageLine(name, remapped[name]!));
      }
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}
