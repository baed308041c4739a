import type { BackendConfig } from '../../config/schema.js';
import type { EngineAdapter, EngineCall } from '../types.js';
import { llamacppAdapter } from './llamacpp.js';
import { ollamaAdapter } from './ollama.js';
import { openaiAdapter } from './openai.js';
import { sglangAdapter } from './sglang.js';
import { simulatorAdapter } from './simulator.js';
import { vllmAdapter } from './vllm.js';

export function engineAdapter(backend: BackendConfig, call: EngineCall, modelOf: (run: string) => string | undefined): EngineAdapter {
  switch (backend.engine) {
    case 'simulator':
      return simulatorAdapter(call);
    case 'sglang':
      return sglangAdapter(call);
    case 'vllm':
      return vllmAdapter(call);
    case 'llamacpp':
      return llamacppAdapter(call, backend.slots);
    case 'ollama':
      return ollamaAdapter(call, modelOf);
    case 'openai':
      return openaiAdapter;
  }
}
